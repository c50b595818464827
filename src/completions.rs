//! Text completions and fill-in-the-middle (FIM): `POST /completions`, OpenAI's legacy endpoint.
//!
//! A [`CompletionRequest`] gives the text before the gap as `prompt` and, for FIM, the text after it as
//! `suffix`; the model writes what goes between. The answer is a [`Completion`] whose choices carry
//! `text` (not a message), with the chat's [`FinishReason`] and [`Usage`].
//!
//! Documentation is thin: the endpoint has an API page only on the international site (example body
//! `{"prompt", "model"}`), and the `.cn` site shows it only in the FIM guide. `model`, `prompt`,
//! `suffix`, `max_tokens` and `stream` are documented; the sampling parameters are typed as in OpenAI's
//! legacy API and sent only when set.
//!
//! **Streaming** (`stream: true`): server-sent events like chat, each chunk shaped like a [`Completion`]
//! whose `choices[].text` holds the new text (`{"choices":[{"index":0,"text":"…","finish_reason":null}]}`),
//! presumably ending with `data: [DONE]` (not stated). A 2024 schema shows Together-style chunks
//! (`token{id,text,logprob,special}`), unverified: read `choices[].text` leniently.
//!
//! ```
//! use siliconflow::{Completion, CompletionRequest, FinishReason};
//!
//! let request = CompletionRequest::new("deepseek-ai/DeepSeek-V3", "def fib(n):\n    ")
//!     .suffix("\n\nprint(fib(10))")
//!     .max_tokens(256);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["suffix"], "\n\nprint(fib(10))");
//! assert!(json.get("temperature").is_none(), "unset parameters are not sent");
//!
//! let body = r#"{"id":"0196","object":"text_completion","created":1741685413,"model":"deepseek-ai/DeepSeek-V3",
//!     "choices":[{"index":0,"text":"return n if n < 2 else fib(n - 1) + fib(n - 2)","finish_reason":"stop"}],
//!     "usage":{"prompt_tokens":60,"completion_tokens":80,"total_tokens":140}}"#;
//! let completion: Completion = serde_json::from_str(body).unwrap();
//! assert!(completion.text().starts_with("return n"));
//! assert_eq!(completion.finish_reason(), Some(&FinishReason::Stop));
//! assert_eq!(completion.usage.map(|u| u.total_tokens), Some(140));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bounded::Entry;
use crate::chat::options::Stop;
use crate::chat::response::{FinishReason, Usage};
use crate::chat::stream::ChatStream;
use crate::client::{with_response, Call, Client, WithResponse};
use crate::error::Error;
use crate::extra::with_extra;
use crate::lenient::lenient_u64;
use crate::limits::DEFAULT_MAX_CHOICES;
use crate::meta::ResponseMeta;
use crate::raw::RawJson;
use crate::serde_util::{empty_as_none, null_as_default};

/// A completion request: the model, the prompt, and the optional parameters, each omitted from the JSON
/// while unset.
///
/// ```
/// use siliconflow::CompletionRequest;
///
/// let request = CompletionRequest::fim("Qwen/Qwen2.5-Coder-7B-Instruct", "fn add(a: i32, b: i32) -> i32 {\n", "\n}")
///     .max_tokens(64)
///     .temperature(0.0)
///     .stop(vec!["\n}"]);
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["prompt"], "fn add(a: i32, b: i32) -> i32 {\n");
/// assert_eq!(json["stop"][0], "\n}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionRequest {
    /// The model id (FIM-capable per the guide: `deepseek-ai/DeepSeek-V3`, `Qwen/Qwen2.5-Coder-32B-Instruct`,
    /// …; the list changes).
    pub model: String,
    /// The text to continue: for FIM, the text before the gap.
    pub prompt: String,
    /// For FIM: the text after the gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Stream the text as server-sent events (chunks carry `choices[].text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i32>,
    /// Dynamic filtering threshold relative to the most likely token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Up to four sequences at which generation stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// How many completions to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Penalty for tokens by frequency so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Penalty for tokens already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Seed for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Return the log probabilities of this many most likely tokens (OpenAI legacy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Echo the prompt in the answer (OpenAI legacy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// A request to continue `prompt` with `model`, every parameter unset.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        CompletionRequest {
            model: model.into(),
            prompt: prompt.into(),
            suffix: None,
            max_tokens: None,
            stream: None,
            temperature: None,
            top_p: None,
            top_k: None,
            min_p: None,
            stop: None,
            n: None,
            frequency_penalty: None,
            presence_penalty: None,
            seed: None,
            logprobs: None,
            echo: None,
            extra: Map::new(),
        }
    }

    /// A fill-in-the-middle request: `prefix` before the gap, `suffix` after it.
    pub fn fim(
        model: impl Into<String>,
        prefix: impl Into<String>,
        suffix: impl Into<String>,
    ) -> Self {
        CompletionRequest::new(model, prefix).suffix(suffix)
    }

    crate::setters::option_setters! {
        /// Sets the text after the gap (fill-in-the-middle).
        suffix: impl Into<String>,
        /// Sets the most tokens to generate.
        max_tokens: u32,
        /// Streams the answer (or not).
        stream: bool,
        /// Sets the sampling temperature.
        temperature: f64,
        /// Sets nucleus sampling.
        top_p: f64,
        /// Sets top-k sampling.
        top_k: i32,
        /// Sets the min-p threshold.
        min_p: f64,
        /// Sets the stop sequences.
        stop: impl Into<Stop>,
        /// Sets how many completions to generate.
        n: u32,
        /// Sets the frequency penalty.
        frequency_penalty: f64,
        /// Sets the presence penalty.
        presence_penalty: f64,
        /// Sets the seed.
        seed: i64,
        /// Asks for log probabilities of the top tokens.
        logprobs: u32,
        /// Echoes the prompt in the answer.
        echo: bool,
    }
}

with_extra! {
    /// The answer of `POST /completions` (and, chunk by chunk, the shape of each streamed event).
    ///
    /// Unknown fields (the schema's odd `prompt` echo array, `system_fingerprint`, …) are kept in
    /// [`extra`](Completion::extra).
    ///
    /// ```
    /// use siliconflow::Completion;
    ///
    /// // A streamed chunk has the same shape: the new text in `choices[].text`.
    /// let chunk: Completion = serde_json::from_str(
    ///     r#"{"id":"c","object":"text_completion","choices":[{"index":0,"text":"    a + b","finish_reason":null}]}"#,
    /// ).unwrap();
    /// assert_eq!((chunk.text(), chunk.finish_reason()), ("    a + b", None));
    /// ```
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Completion {
        /// The completion id.
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// `"text_completion"`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub object: String,
        /// Creation time, Unix seconds.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub created: Option<u64>,
        /// The model that answered.
        #[serde(default, deserialize_with = "null_as_default")]
        pub model: String,
        /// The choices, one per `n` (read: at most [`DEFAULT_MAX_CHOICES`]).
        #[serde(default, deserialize_with = "crate::bounded::list")]
        pub choices: Vec<CompletionChoice>,
        /// Token usage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(Completion);

impl Completion {
    /// The completion a finished stream of `/completions` chunks adds up to.
    fn from_stream(stream: crate::chat::stream::ChatStream) -> Completion {
        let choices = stream
            .choices()
            .iter()
            .map(|c| CompletionChoice {
                index: c.index(),
                text: c.content().to_string(),
                finish_reason: c.finish_reason().cloned(),
                ..CompletionChoice::default()
            })
            .collect();
        let mut completion = Completion {
            id: stream.id().to_string(),
            object: "text_completion".to_string(),
            model: stream.model().to_string(),
            choices,
            usage: stream.usage().cloned(),
            ..Completion::default()
        };
        completion.set_response(stream.response().clone());
        completion
    }

    /// The first choice (index 0), if any.
    pub fn first_choice(&self) -> Option<&CompletionChoice> {
        self.choices
            .iter()
            .find(|c| c.index == 0)
            .or(self.choices.first())
    }

    /// The first choice's text, or `""`.
    pub fn text(&self) -> &str {
        self.first_choice().map_or("", |c| c.text.as_str())
    }

    /// The first choice's finish reason.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.first_choice().and_then(|c| c.finish_reason.as_ref())
    }
}

/// One choice of a completion.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionChoice {
    /// Its index.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The generated text (for FIM, what fills the gap).
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
    /// Why it stopped (`stop`, `eos`, `length`, …); `null` and `""` read as none.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities (`{tokens, token_logprobs, …}`), when requested, as the JSON text sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<RawJson>,
}

impl Entry for CompletionChoice {
    const WHAT: &'static str = "choices";
    const MAX: usize = DEFAULT_MAX_CHOICES;
}

impl CompletionRequest {
    /// The JSON body with `stream` set as given (the request itself is not changed).
    fn to_body(&self, stream: bool) -> Result<Vec<u8>, Error> {
        crate::json::body_with_stream(self, stream)
    }
}

impl Client {
    /// A text completion or fill-in-the-middle (`POST /completions`, sent with `stream: false`): the
    /// model writes what goes after `prompt` and, with a `suffix`, before it. Errors, retries and
    /// timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, CompletionRequest};
    ///
    /// let client = Client::from_env()?;
    /// let request = CompletionRequest::fim("deepseek-ai/DeepSeek-V3", "def fib(n):\n    ", "\n\nprint(fib(10))")
    ///     .max_tokens(256);
    /// let completion = client.completion(&request)?;
    /// println!("{}", completion.text());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn completion(&self, request: &CompletionRequest) -> Result<Completion, Error> {
        let run = || {
            let body = request.to_body(false)?;
            let exchange = self.execute(Call::post_json("completions", body))?;
            let crate::client::Exchange { meta, mut body, .. } = exchange;
            let limits = self.limits();
            if meta.is_mime("text/event-stream") {
                // A server that streams anyway: read it to the end with the chat stream's decoder.
                let mut stream = crate::chat::stream::ChatStream::for_http(
                    body,
                    meta,
                    limits,
                    self.redactor().clone(),
                );
                for delta in &mut stream {
                    delta?;
                }
                return Ok(Completion::from_stream(stream));
            }
            let raw = body.read_bounded(limits.max_event_size)?;
            let mut completion: Completion =
                crate::client::parse_body(&raw, &meta, true, self.redactor())?;
            completion.set_response(meta);
            Ok(completion)
        };
        run().map_err(|e| self.redact(e))
    }

    /// A streamed text completion or fill-in-the-middle (`POST /completions`, sent with `stream: true`),
    /// read by the chat stream's decoder: each chunk's `choices[].text` arrives as the delta's
    /// [`content`](crate::ChatDelta::content), and [`ChatStream::content`] accumulates it. Everything
    /// about [`Client::chat_stream`] holds: errors, retries before the stream, timeouts, limits, a whole
    /// JSON answer replayed as a stream.
    ///
    /// ```no_run
    /// use siliconflow::{Client, CompletionRequest};
    ///
    /// let client = Client::from_env()?;
    /// let request = CompletionRequest::fim("Qwen/Qwen2.5-Coder-7B-Instruct", "fn add(a: i32, b: i32) -> i32 {\n", "\n}");
    /// let mut stream = client.completion_stream(&request)?;
    /// for delta in &mut stream {
    ///     print!("{}", delta?.content.unwrap_or_default());
    /// }
    /// println!("\n({:?})", stream.finish_reason());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn completion_stream(&self, request: &CompletionRequest) -> Result<ChatStream, Error> {
        let body = request.to_body(true)?;
        self.stream_chunks("completions", body)
            .map_err(|e| self.redact(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_and_full_request_json() {
        assert_eq!(
            serde_json::to_value(CompletionRequest::new("m", "p")).unwrap(),
            json!({"model": "m", "prompt": "p"})
        );
        let full = CompletionRequest::fim("m", "before", "after")
            .max_tokens(4096)
            .stream(true)
            .temperature(0.2)
            .top_p(0.9)
            .top_k(40)
            .min_p(0.05)
            .stop(vec!["\n\n", "```"])
            .n(1)
            .frequency_penalty(0.1)
            .presence_penalty(0.2)
            .seed(-1)
            .logprobs(2)
            .echo(false)
            .extra_field("repetition_penalty", 1.1);
        let value = serde_json::to_value(&full).unwrap();
        assert_eq!(
            value,
            json!({"model": "m", "prompt": "before", "suffix": "after", "max_tokens": 4096,
                   "stream": true, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                   "stop": ["\n\n", "```"], "n": 1, "frequency_penalty": 0.1, "presence_penalty": 0.2,
                   "seed": -1, "logprobs": 2, "echo": false, "repetition_penalty": 1.1})
        );
        assert_eq!(
            serde_json::from_value::<CompletionRequest>(value).unwrap(),
            full
        );
    }

    #[test]
    fn documented_response_with_the_prompt_echo() {
        let c: Completion = serde_json::from_value(json!({
            "id": "0196", "object": "text_completion", "created": 1741685413, "model": "m",
            "choices": [{"index": 0, "text": "x", "finish_reason": "eos",
                         "logprobs": {"tokens": ["x"], "token_logprobs": [-0.1]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            "prompt": [{"text": "p", "logprobs": null}]
        }))
        .unwrap();
        assert_eq!(c.text(), "x");
        assert_eq!(c.finish_reason(), Some(&FinishReason::Eos));
        assert_eq!(c.created, Some(1741685413));
        assert_eq!(c.extra.to_value()["prompt"][0]["text"], "p");
        assert!(c.choices[0].logprobs.is_some());
        assert_eq!(c.usage.as_ref().map(|u| u.completion_tokens), Some(2));
    }

    #[test]
    fn tolerant_responses_and_stream_chunks() {
        let empty: Completion =
            serde_json::from_value(json!({"choices": null, "usage": null})).unwrap();
        assert_eq!((empty.text(), empty.finish_reason()), ("", None));
        // A streamed chunk: text so far, no finish reason yet ("" or null).
        for reason in [json!(null), json!("")] {
            let chunk: Completion = serde_json::from_value(json!({
                "id": "c", "object": "text_completion", "created": "1741685413",
                "choices": [{"index": 0, "text": "def", "finish_reason": reason}]
            }))
            .unwrap();
            assert_eq!((chunk.text(), chunk.finish_reason()), ("def", None));
            assert_eq!(chunk.created, Some(1741685413));
        }
        // Choices out of order: the first choice is index 0.
        let two: Completion = serde_json::from_value(json!({"choices": [
            {"index": 1, "text": "b"}, {"index": 0, "text": "a", "finish_reason": "length"}]}))
        .unwrap();
        assert_eq!(two.text(), "a");
        assert_eq!(two.finish_reason(), Some(&FinishReason::Length));
        let null_text: Completion =
            serde_json::from_value(json!({"choices": [{"index": null, "text": null}]})).unwrap();
        assert_eq!(null_text.text(), "");
    }
}
