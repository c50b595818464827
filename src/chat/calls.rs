//! The chat calls on the client: [`Client::chat_stream`] and [`Client::chat`].

use crate::chat::request::ChatRequest;
use crate::chat::response::ChatCompletion;
use crate::chat::stream::ChatStream;
use crate::client::{Call, Client, Exchange, Method, Payload, Target, WithResponse};
use crate::error::Error;

/// The path of chat completions under the base URL.
const PATH: &str = "chat/completions";

impl Client {
    /// Sends `request` with `stream: true` and returns the stream of deltas, read on this thread as the
    /// caller iterates.
    ///
    /// Errors before the stream starts: [`Error::Api`] for an HTTP error status (body parsed),
    /// [`Error::Connect`], [`Error::Timeout`], [`Error::Transport`], each after the retries the
    /// [`RetryPolicy`](crate::RetryPolicy) allows, and [`Error::Cancelled`]. A server that answers with a
    /// whole `application/json` completion instead of events gives a stream that replays it. Once the
    /// stream is returned nothing is retried.
    ///
    /// ```no_run
    /// use siliconflow::{ChatRequest, Client, Message};
    ///
    /// let client = Client::from_env()?;
    /// let request = ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("Say hello")]);
    /// let mut stream = client.chat_stream(&request)?;
    /// for delta in &mut stream {
    ///     print!("{}", delta?.content.unwrap_or_default());
    /// }
    /// println!("\n(request id {:?})", stream.request_id());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.chat_stream_inner(request).map_err(|e| self.redact(e))
    }

    fn chat_stream_inner(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.stream_chunks(PATH, request.to_body(true)?)
    }

    /// `POST`s a JSON body that asks for a stream of completion chunks (chat, or `choices[].text` of
    /// `/completions`) and returns the stream; a whole JSON answer is replayed as one.
    pub(crate) fn stream_chunks(&self, path: &str, body: Vec<u8>) -> Result<ChatStream, Error> {
        let exchange = self.execute(Call {
            method: Method::Post,
            target: Target::Api(path),
            payload: Payload::Json(body),
            accept: "text/event-stream",
            streaming: true,
        })?;
        let Exchange {
            meta,
            mut body,
            started,
            head_after,
        } = exchange;
        let limits = self.limits();
        if meta.is_mime("application/json") {
            let raw = body.read_bounded(limits.max_event_size)?;
            // A chat completion, or a text completion (`choices[].text`) of `/completions`.
            let completion: ChatCompletion =
                match crate::client::parse_body(&raw, &meta, true, self.redactor()) {
                    Ok(completion) => completion,
                    Err(error @ Error::MalformedChunk { .. }) => {
                        crate::chat::read::text_completion_as_chat(&raw).ok_or(error)?
                    }
                    Err(error) => return Err(error),
                };
            return Ok(ChatStream::replaying(
                body,
                completion,
                meta,
                limits,
                self.redactor().clone(),
            )
            .timed(started, head_after));
        }
        Ok(
            ChatStream::for_http(body, meta, limits, self.redactor().clone())
                .timed(started, head_after),
        )
    }

    /// Sends `request` with `stream: false` and returns the whole completion, with the response's
    /// metadata ([`ChatCompletion::response`], [`ChatCompletion::request_id`]).
    ///
    /// A server that answers with an event stream anyway is read to the end and accumulated.
    ///
    /// ```no_run
    /// use siliconflow::{ChatRequest, Client, Message};
    ///
    /// let client = Client::from_env()?;
    /// let request = ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("Capital of France?")]);
    /// let completion = client.chat(&request)?;
    /// println!("{} (request id {:?})", completion.content(), completion.request_id());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatCompletion, Error> {
        self.chat_inner(request).map_err(|e| self.redact(e))
    }

    fn chat_inner(&self, request: &ChatRequest) -> Result<ChatCompletion, Error> {
        let exchange = self.execute(Call {
            method: Method::Post,
            target: Target::Api(PATH),
            payload: Payload::Json(request.to_body(false)?),
            accept: "application/json",
            streaming: false,
        })?;
        let Exchange { meta, mut body, .. } = exchange;
        let limits = self.limits();
        if meta.is_mime("text/event-stream") {
            let mut stream = ChatStream::for_http(body, meta, limits, self.redactor().clone());
            for delta in &mut stream {
                delta?;
            }
            return Ok(stream.into_completion());
        }
        let raw = body.read_bounded(limits.max_event_size)?;
        let mut completion: ChatCompletion =
            crate::client::parse_body(&raw, &meta, true, self.redactor())?;
        completion.set_response(meta);
        Ok(completion)
    }
}
