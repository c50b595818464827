//! [`ChatStream`]: server-sent events -> chunks -> [`ChatDelta`]s, accumulated as they go.
//!
//! One job per file, data flowing one way:
//!
//! - [`crate::sse`] decodes the body into events;
//! - `wire` parses each event's JSON straight from the decoder's buffer into deltas;
//! - `accumulator` checks a chunk against the [`StreamLimits`] and keeps everything received;
//! - `delta` holds the public pieces handed out;
//! - this file is the iterator: it drives the others and hands each delta to the caller as soon as its
//!   event's blank line has arrived.

pub(crate) mod accumulator;
pub(crate) mod delta;
pub(crate) mod wire;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};
use std::time::{Duration, Instant};

pub use accumulator::StreamChoice;
pub use delta::{ChatDelta, FunctionCallDelta, StreamEnd, StreamTimings, ToolCallDelta};

use crate::body::{stop_of, ResponseBody};
use crate::chat::request::Message;
use crate::chat::response::{ChatCompletion, Choice, FinishReason, ToolCall, Usage};
use crate::error::{ApiError, Error, MAX_SNIPPET};
use crate::limits::StreamLimits;
use crate::meta::{Headers, ResponseMeta};
use crate::net::scope::Stop;
use crate::redact::Redactor;
use crate::sse::{SseDecoder, SseError};
use accumulator::Accumulator;
use wire::{parse_chunk, ChunkFailure, ChunkKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Ended(StreamEnd),
}

/// What an HTTP body does at an event and at `[DONE]` (nothing, for a stream over any other reader).
struct Hooks<R> {
    /// An event arrived: the event timeout restarts.
    event: fn(&mut R),
    /// `[DONE]` arrived: take the end of the body if it is there, without waiting.
    done: fn(&mut R),
}

/// A streamed chat completion: an iterator of [`ChatDelta`]s that accumulates everything it hands out.
///
/// Iterate it with `for delta in &mut stream` to keep the stream for [`content`](Self::content),
/// [`reasoning_content`](Self::reasoning_content), [`usage`](Self::usage) and
/// [`into_completion`](Self::into_completion) afterwards. The iterator is fused: after `[DONE]`, the end of
/// the body, or an error it returns `None`, and what was accumulated stays readable. After `[DONE]` it
/// returns `None` at once, without waiting for the server to end the body.
///
/// It reads on the caller's thread: each `next()` reads from the connection until the next event is
/// complete. `ChatStream::from_reader` runs the same decoder over any [`BufRead`] (a recorded body, a file):
///
/// ```
/// use siliconflow::ChatStream;
///
/// let body = concat!(
///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Think.\"}}]}\n\n",
///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi!\"},\"finish_reason\":\"stop\"}]}\n\n",
///     "data: [DONE]\n\n",
/// );
/// let mut stream = ChatStream::from_reader(body.as_bytes());
/// for delta in &mut stream {
///     let delta = delta?;
///     if let Some(text) = &delta.content {
///         print!("{text}");
///     }
/// }
/// assert_eq!(stream.content(), "Hi!");
/// assert_eq!(stream.reasoning_content(), "Think.");
/// # Ok::<(), siliconflow::Error>(())
/// ```
pub struct ChatStream<R = ResponseBody> {
    decoder: SseDecoder<R>,
    pending: VecDeque<ChatDelta>,
    acc: Accumulator,
    state: State,
    events: u64,
    meta: ResponseMeta,
    limits: StreamLimits,
    hooks: Option<Hooks<R>>,
    /// An error found before the first `next()` (a replayed completion over the bounds).
    deferred: Option<Error>,
    redactor: Redactor,
    split_think: bool,
    started: Instant,
    timings: StreamTimings,
}

impl<R> fmt::Debug for ChatStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("state", &self.state)
            .field("events", &self.events)
            .field("request_id", &self.meta.request_id())
            .field("choices", &self.acc.choices)
            .field("usage", &self.acc.usage.get())
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> ChatStream<R> {
    /// A stream decoding the server-sent-event body in `reader`, with the default [`StreamLimits`].
    pub fn from_reader(reader: R) -> Self {
        Self::from_decoder(
            SseDecoder::new(reader),
            ResponseMeta::new(200, Headers::default()),
            StreamLimits::default(),
        )
    }

    /// Like [`from_reader`](Self::from_reader), with a bound on the size of one line or event.
    pub fn from_reader_with_limit(reader: R, max_event_size: usize) -> Self {
        Self::from_reader(reader)
            .with_limits(StreamLimits::default().max_event_size(max_event_size))
    }

    fn from_decoder(decoder: SseDecoder<R>, meta: ResponseMeta, limits: StreamLimits) -> Self {
        ChatStream {
            decoder: decoder.with_max_event_size(limits.max_event_size),
            pending: VecDeque::new(),
            acc: Accumulator::default(),
            state: State::Streaming,
            events: 0,
            meta,
            limits,
            hooks: None,
            deferred: None,
            redactor: Redactor::default(),
            split_think: false,
            started: Instant::now(),
            timings: StreamTimings::default(),
        }
    }

    /// Sets every memory bound (see [`StreamLimits`]); call it before reading.
    #[must_use]
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.decoder.set_max_event_size(limits.max_event_size);
        self.limits = limits;
        self
    }

    /// Bounds the text the stream may accumulate (content, reasoning and tool-call arguments of every
    /// choice, plus a fixed cost per choice and tool call); `None` for no bound. Exceeding it is
    /// [`Error::AccumulatedTooLarge`].
    #[must_use]
    pub fn with_max_accumulated_size(mut self, max: Option<usize>) -> Self {
        self.limits.max_accumulated_size = max;
        self
    }

    /// Moves `<think>…</think>` out of `content` into `reasoning_content` as the text streams (off by
    /// default), for servers that send a reasoning model's thinking inside the answer. Tags cut across
    /// chunks are recognised, and a possible partial tag is held back until the next chunk decides it.
    ///
    /// ```
    /// use siliconflow::ChatStream;
    ///
    /// let body = concat!(
    ///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>Hmm, 2+2</th\"}}]}\n\n",
    ///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ink>4\"},\"finish_reason\":\"stop\"}]}\n\n",
    /// );
    /// let mut stream = ChatStream::from_reader(body.as_bytes()).split_think_tags(true);
    /// stream.by_ref().for_each(drop);
    /// assert_eq!(stream.reasoning_content(), "Hmm, 2+2");
    /// assert_eq!(stream.content(), "4");
    /// ```
    #[must_use]
    pub fn split_think_tags(mut self, on: bool) -> Self {
        self.split_think = on;
        self
    }

    /// A finished stream replaying a whole completion (a streaming request answered with JSON).
    fn from_completion(
        decoder: SseDecoder<R>,
        completion: ChatCompletion,
        meta: ResponseMeta,
        limits: StreamLimits,
    ) -> Self {
        let mut stream = Self::from_decoder(decoder, meta, limits);
        let acc = &mut stream.acc;
        acc.id = completion.id;
        acc.model = completion.model;
        acc.created = completion.created;
        acc.system_fingerprint = completion.system_fingerprint.unwrap_or_default();
        acc.usage.set(completion.usage);
        for choice in completion.choices {
            let message = choice.message;
            let text = message.text();
            let delta = ChatDelta {
                index: choice.index,
                role: Some(message.role.clone()),
                content: (!text.is_empty()).then(|| text.into_owned()),
                reasoning_content: message.reasoning_content.filter(|r| !r.is_empty()),
                tool_calls: message
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .zip(0..)
                    .map(|(call, index)| ToolCallDelta {
                        index,
                        id: Some(call.id),
                        kind: Some(call.kind),
                        function: Some(FunctionCallDelta {
                            name: Some(call.function.name),
                            arguments: Some(call.function.arguments),
                        }),
                    })
                    .collect(),
                finish_reason: choice.finish_reason,
                logprobs: choice.logprobs,
            };
            stream.pending.push_back(delta);
        }
        // The body was bounded by `max_event_size`; the choice and tool-call bounds still apply.
        match stream.acc.admit(&stream.pending, &stream.limits) {
            Ok(()) => {
                for delta in stream.pending.iter() {
                    stream.acc.choice_mut(delta.index).apply(delta);
                    note_first_text(&mut stream.timings, stream.started, delta);
                }
                stream.state = State::Ended(StreamEnd::Json);
            }
            Err(error) => {
                stream.pending.clear();
                stream.state = State::Ended(StreamEnd::Failed);
                stream.deferred = Some(error);
            }
        }
        stream.timings.total = Some(stream.started.elapsed());
        stream
    }

    /// Reads and processes events until at least one delta is pending or the stream ends.
    fn advance(&mut self) -> Result<(), Error> {
        loop {
            let event = match self.decoder.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => return self.end_of_body(),
                Err(SseError::TooLarge { limit }) => return Err(Error::EventTooLarge { limit }),
                Err(SseError::Io(e)) => return Err(read_error(e, self.events)),
            };
            let data = event.data.trim_ascii();
            if data.is_empty() {
                continue;
            }
            let is_error_event = event.event == "error";
            self.events += 1;
            if let Some(hooks) = &self.hooks {
                (hooks.event)(self.decoder.reader_mut());
            }
            // The event borrows the decoder; read it again now that the hook has run.
            let data = self.decoder.last_data().trim_ascii();
            if is_error_event {
                return Err(Error::Stream(Box::new(self.stream_error(data))));
            }
            if data == "[DONE]" {
                self.acc.usage.check(&self.redactor)?;
                self.release_held_tags();
                self.state = State::Ended(StreamEnd::Done);
                if let Some(hooks) = &self.hooks {
                    (hooks.done)(self.decoder.reader_mut());
                }
                return Ok(());
            }
            let before = self.pending.len();
            match parse_chunk(data, &mut self.pending, &self.limits) {
                Ok(ChunkKind::Chunk(meta)) => {
                    if let Err(error) = self.acc.admit(self.pending.range(before..), &self.limits) {
                        self.pending.truncate(before);
                        return Err(error);
                    }
                    meta.apply(&mut self.acc, self.events);
                    self.timings.chunks += 1;
                    for delta in self.pending.range_mut(before..) {
                        let choice = self.acc.choice_mut(delta.index);
                        if self.split_think {
                            choice.split_think(delta);
                        }
                        choice.apply(delta);
                        note_first_text(&mut self.timings, self.started, delta);
                    }
                    if self.pending.len() > before {
                        return Ok(());
                    }
                }
                Ok(ChunkKind::Error) => {
                    self.pending.truncate(before);
                    return Err(Error::Stream(Box::new(self.stream_error(data))));
                }
                Err(ChunkFailure::TooManyChoices) => {
                    return Err(Error::TooManyChoices {
                        limit: self.limits.max_choices,
                    })
                }
                Err(ChunkFailure::TooManyToolCalls) => {
                    return Err(Error::TooManyToolCalls {
                        limit: self.limits.max_tool_calls,
                    })
                }
                Err(ChunkFailure::Json(source)) => {
                    return Err(Error::MalformedChunk {
                        event: self.events,
                        data: self.redactor.scrub_cut(data, MAX_SNIPPET),
                        source: source.into(),
                    });
                }
            }
        }
    }

    /// An error the server sent inside the stream, scrubbed whole before anything is cut.
    fn stream_error(&self, data: &str) -> ApiError {
        crate::client::api_error(&self.meta, data.as_bytes(), &self.redactor)
    }

    /// At the end of the stream, hands out text held back as a possible partial `<think>` tag.
    fn release_held_tags(&mut self) {
        if !self.split_think {
            return;
        }
        for choice in &mut self.acc.choices {
            let (mut reasoning, mut content) = (String::new(), String::new());
            choice.think.finish(&mut reasoning, &mut content);
            let delta = ChatDelta {
                index: choice.index,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                content: (!content.is_empty()).then_some(content),
                ..ChatDelta::default()
            };
            if delta.reasoning_content.is_some() || delta.content.is_some() {
                choice.apply(&delta);
                self.pending.push_back(delta);
            }
        }
    }

    fn end_of_body(&mut self) -> Result<(), Error> {
        self.release_held_tags();
        let finished = !self.acc.choices.is_empty()
            && self.acc.choices.iter().all(|c| c.finish_reason().is_some());
        if finished {
            self.acc.usage.check(&self.redactor)?;
            self.state = State::Ended(StreamEnd::FinishedWithoutDone);
            return Ok(());
        }
        Err(Error::StreamCut {
            received: self.events,
            reason: if self.events == 0 {
                "the body ended before any event".to_string()
            } else {
                "the body ended before [DONE] and before every choice finished".to_string()
            },
            source: None,
        })
    }
}

impl ChatStream<ResponseBody> {
    /// A stream over an HTTP response body: the event timeout restarts with each event, the connection is
    /// released without waiting after `[DONE]`, and errors are scrubbed of the key.
    pub(crate) fn for_http(
        body: ResponseBody,
        meta: ResponseMeta,
        limits: StreamLimits,
        redactor: Redactor,
    ) -> Self {
        let mut stream = Self::from_decoder(SseDecoder::new(body), meta, limits);
        stream.hooks = Some(Hooks {
            event: ResponseBody::event_arrived,
            done: ResponseBody::finish_if_ready,
        });
        stream.redactor = redactor;
        stream
    }

    /// A finished stream replaying a whole completion that answered a streaming request.
    pub(crate) fn replaying(
        body: ResponseBody,
        completion: ChatCompletion,
        meta: ResponseMeta,
        limits: StreamLimits,
        redactor: Redactor,
    ) -> Self {
        let mut stream = Self::from_completion(SseDecoder::new(body), completion, meta, limits);
        stream.redactor = redactor;
        stream
    }

    /// Sets when the request started and how long its headers took (the client's measurements).
    pub(crate) fn timed(mut self, started: Instant, headers: Duration) -> Self {
        let shift = self.started.saturating_duration_since(started);
        self.started = started;
        self.timings.headers = Some(headers);
        // Anything measured from the provisional start (a replayed JSON answer) moves to the real one.
        for time in [
            &mut self.timings.first_reasoning,
            &mut self.timings.first_content,
            &mut self.timings.total,
        ]
        .into_iter()
        .flatten()
        {
            *time += shift;
        }
        self
    }
}

/// Records the first reasoning and the first answer text.
fn note_first_text(timings: &mut StreamTimings, started: Instant, delta: &ChatDelta) {
    if timings.first_reasoning.is_none() && delta.reasoning_content.is_some() {
        timings.first_reasoning = Some(started.elapsed());
    }
    if timings.first_content.is_none() && delta.content.is_some() {
        timings.first_content = Some(started.elapsed());
    }
}

/// Maps a failed body read to the error the caller sees: a limit that stopped it, or a cut stream.
fn read_error(error: io::Error, events: u64) -> Error {
    match stop_of(&error) {
        Some(Stop::Timeout(kind)) => return Error::Timeout(kind),
        Some(Stop::Cancelled) => return Error::Cancelled,
        _ => {}
    }
    if matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        // A reader of the caller's with a socket read timeout.
        return Error::Timeout(crate::TimeoutKind::Idle);
    }
    Error::StreamCut {
        received: events,
        reason: format!("reading the body failed: {error}"),
        source: Some(error),
    }
}

impl<R> ChatStream<R> {
    /// The full answer text of choice 0 so far.
    pub fn content(&self) -> &str {
        self.acc.first().map_or("", |c| c.content())
    }

    /// The full reasoning text of choice 0 so far.
    pub fn reasoning_content(&self) -> &str {
        self.acc.first().map_or("", |c| c.reasoning_content())
    }

    /// The tool calls of choice 0 so far, fragments merged.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.acc.first().map_or(&[], |c| c.tool_calls())
    }

    /// The finish reason of choice 0, once it has finished.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.acc.first().and_then(|c| c.finish_reason())
    }

    /// The assistant message of choice 0 to append to the conversation (answer and tool calls, without the
    /// reasoning). See [`StreamChoice::message`].
    ///
    /// ```
    /// use siliconflow::{ChatStream, Message, Role};
    ///
    /// let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"r\",\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n";
    /// let mut stream = ChatStream::from_reader(body.as_bytes());
    /// stream.by_ref().for_each(drop);
    /// let mut history = vec![Message::user("Hello")];
    /// history.push(stream.message());
    /// assert_eq!(history[1].role, Role::Assistant);
    /// assert_eq!(history[1].reasoning_content, None);
    /// assert_eq!(stream.message_with_reasoning().reasoning_content.as_deref(), Some("r"));
    /// ```
    pub fn message(&self) -> Message {
        self.acc
            .first()
            .map_or_else(|| Message::assistant(""), StreamChoice::message)
    }

    /// The assistant message of choice 0 with its reasoning. See [`StreamChoice::message_with_reasoning`].
    pub fn message_with_reasoning(&self) -> Message {
        self.acc.first().map_or_else(
            || Message::assistant(""),
            StreamChoice::message_with_reasoning,
        )
    }

    /// Whether choice 0 spent its whole token budget thinking (finish `length`, reasoning, no answer).
    pub fn spent_budget_thinking(&self) -> bool {
        self.acc
            .first()
            .is_some_and(StreamChoice::spent_budget_thinking)
    }

    /// When the headers, the first reasoning, the first answer text and the end arrived, and how many
    /// chunks.
    pub fn timings(&self) -> StreamTimings {
        self.timings
    }

    /// The latest usage seen (SiliconFlow sends a running total on every chunk, OpenAI one trailer).
    pub fn usage(&self) -> Option<&Usage> {
        self.acc.usage.get()
    }

    /// Every choice seen so far, in the order they first appeared.
    pub fn choices(&self) -> &[StreamChoice] {
        &self.acc.choices
    }

    /// The completion id the chunks carry (empty until one arrived).
    pub fn id(&self) -> &str {
        &self.acc.id
    }

    /// The model the chunks name (empty until one arrived).
    pub fn model(&self) -> &str {
        &self.acc.model
    }

    /// The request id of the response, to quote to support (see [`ResponseMeta::request_id`] for the
    /// headers searched, gateways' renamed ones included).
    pub fn request_id(&self) -> Option<&str> {
        self.meta.request_id()
    }

    /// The status and headers of the response (a stream over a reader reports 200 and no headers).
    pub fn response(&self) -> &ResponseMeta {
        &self.meta
    }

    /// How many events with data have been received.
    pub fn events_received(&self) -> u64 {
        self.events
    }

    /// The bytes the stream holds, as the accumulation bound counts them (text plus a fixed cost per choice
    /// and tool call).
    pub fn held_bytes(&self) -> usize {
        self.acc.held()
    }

    /// How the stream ended, or `None` while it is still going.
    pub fn end(&self) -> Option<StreamEnd> {
        match self.state {
            State::Streaming => None,
            State::Ended(end) => Some(end),
        }
    }

    /// Builds a [`ChatCompletion`] from everything received (also after an error: what arrived is kept).
    pub fn into_completion(self) -> ChatCompletion {
        let acc = self.acc;
        let mut completion = ChatCompletion {
            id: acc.id,
            object: "chat.completion".to_string(),
            created: acc.created,
            model: acc.model,
            choices: acc
                .choices
                .iter()
                .map(|c| Choice {
                    index: c.index(),
                    message: c.message_with_reasoning(),
                    finish_reason: c.finish_reason().cloned(),
                    logprobs: None,
                })
                .collect(),
            usage: acc.usage.get().cloned(),
            system_fingerprint: (!acc.system_fingerprint.is_empty())
                .then_some(acc.system_fingerprint),
            ..ChatCompletion::default()
        };
        crate::client::WithResponse::set_response(&mut completion, self.meta);
        completion
    }
}

impl<R: BufRead> Iterator for ChatStream<R> {
    type Item = Result<ChatDelta, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(delta) = self.pending.pop_front() {
                return Some(Ok(delta));
            }
            if let Some(error) = self.deferred.take() {
                return Some(Err(error));
            }
            if self.state != State::Streaming {
                return None;
            }
            let result = self.advance();
            if result.is_err() {
                self.state = State::Ended(StreamEnd::Failed);
            }
            if self.state != State::Streaming {
                self.timings.total = Some(self.started.elapsed());
            }
            if let Err(error) = result {
                return Some(Err(self.redactor.error(error)));
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for ChatStream<R> {}
