//! [`Error`] and [`ApiError`]: every failure a caller can see.
//!
//! Every variant is matchable; none of them ever contains the API key, in `Display` or in `Debug`.

use std::fmt;
use std::io;
use std::time::Duration;

use serde_json::Value;

use crate::batches::input::BatchInputError;
use crate::meta::Headers;
use crate::redact::{cut, Redactor};

/// The most bytes of a response body kept in [`ApiError::body`] and parsed for its message.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most bytes of a malformed chunk kept in [`Error::MalformedChunk`].
pub(crate) const MAX_SNIPPET: usize = 512;

/// The most bytes of an [`ApiError`]'s message and other fields together shown by its `Display` (the whole body stays in
/// [`ApiError::body`]).
const MAX_DISPLAYED_MESSAGE: usize = 1024;
/// The most of an `ApiError`'s code, type, param or trace id its `Display` shows.
const MAX_DISPLAYED_FIELD: usize = 64;
/// The least of an `ApiError`'s message its `Display` shows, whatever the other fields take.
const MIN_DISPLAYED_MESSAGE: usize = 256;

/// A boxed error source that is `Send + Sync`, so [`Error`] is too.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while talking to the API.
///
/// Every variant is matchable, none is a panic, and none shows the API key. What to do about each is in
/// the README's failure table; the usual handling:
///
/// ```no_run
/// use siliconflow::{ChatRequest, Client, Error, Message, TimeoutKind};
///
/// let client = Client::from_env()?;
/// let request = ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("Hi")]);
/// match client.chat(&request) {
///     Ok(completion) => println!("{}", completion.content()),
///     // The server said no: the status, its code and message, and the request id for support.
///     Err(Error::Api(e)) if e.status == 429 => eprintln!("rate limited; wait {:?}", e.retry_after),
///     Err(Error::Api(e)) => eprintln!("HTTP {}: {} (request id {:?})", e.status, e.message, e.request_id),
///     Err(Error::Timeout(TimeoutKind::Deadline)) => eprintln!("out of time"),
///     Err(Error::Cancelled) => eprintln!("stopped"),
///     // Retryable failures were already retried by the client's RetryPolicy.
///     Err(e) if e.is_retryable() => eprintln!("transient failure, retries used up: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No API key was given to the builder and `SILICONFLOW_API_KEY` is unset or empty.
    #[error("no API key: set SILICONFLOW_API_KEY or call ClientBuilder::api_key")]
    MissingApiKey,

    /// The client configuration or the request is invalid (a bad base URL, a header that cannot be sent, …).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// The server answered with an HTTP error status (4xx or 5xx); the body was read and parsed.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The server sent an error inside a successful (2xx) event stream: an `error` event, or a chunk that is
    /// an error object instead of a completion chunk. What was received before it stays readable on the
    /// stream.
    #[error("the server reported an error mid-stream: {0}")]
    Stream(Box<ApiError>),

    /// The connection could not be established (DNS, refused, TLS handshake, proxy).
    #[error("could not connect: {source}")]
    Connect {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },

    /// A timeout fired; which one says what was slow.
    #[error("{0} timed out")]
    Timeout(TimeoutKind),

    /// The request was cancelled through its [`CancelHandle`](crate::CancelHandle). What a stream received
    /// before stays readable on it.
    #[error("the request was cancelled")]
    Cancelled,

    /// The server's answer breaks HTTP or this API's framing in a way a retry cannot fix: response headers
    /// over ureq's size limit, a compressed body although `Accept-Encoding: identity` was sent, an invalid
    /// HTTP response. Never retried.
    #[error("invalid response: {reason}")]
    Protocol {
        /// What is wrong with the response.
        reason: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// The HTTP exchange failed after connecting, outside any timeout: a protocol violation, a reset
    /// before the response headers, a redirect that cannot be followed.
    #[error("HTTP transport error: {source}")]
    Transport {
        /// The underlying failure.
        #[source]
        source: BoxError,
    },

    /// The event stream ended before `[DONE]` while a choice had not finished, or the connection broke while
    /// a body (a stream, a JSON answer, a download) was being read. The text a stream received so far stays
    /// readable on it. Never retried: the server may have done (and billed) the work.
    #[error("the stream was cut after {received} events: {reason}")]
    StreamCut {
        /// How many events had been received.
        received: u64,
        /// Why the stream is considered cut.
        reason: String,
        /// The I/O failure that ended the body, if it was not a clean end of input.
        #[source]
        source: Option<io::Error>,
    },

    /// A chunk (or a non-streaming body) is not the JSON this crate expects.
    #[error("malformed chunk (event {event}): {source}; data: {data:?}")]
    MalformedChunk {
        /// The 1-based number of the event in the stream (0 for a non-streaming body).
        event: u64,
        /// The offending text, with the API key scrubbed, cut to at most 512 bytes.
        data: String,
        /// The JSON error, with line and column.
        #[source]
        source: JsonError,
    },

    /// One line or one event of the stream exceeded the configured size bound.
    #[error("an event-stream line or event exceeded the {limit}-byte limit")]
    EventTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },

    /// What one stream keeps exceeded the configured bound
    /// ([`StreamLimits::max_accumulated_size`](crate::StreamLimits::max_accumulated_size)): its text
    /// (content, reasoning and tool-call arguments of every choice, with the room its strings grow
    /// ahead), its latest metadata and its bookkeeping of choices and tool calls.
    #[error("the stream exceeded the {limit}-byte accumulation limit")]
    AccumulatedTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },

    /// Writing a downloaded body (speech, an image) into the caller's writer failed.
    #[error("writing the response body failed: {source}")]
    Write {
        /// The writer's error.
        #[source]
        source: io::Error,
    },

    /// Reading the body of an upload (a file, a reader given for a transcription or a batch input) failed.
    #[error("reading the upload failed: {source}")]
    Upload {
        /// The reader's error.
        #[source]
        source: io::Error,
    },

    /// The stream named more distinct choices (or one event carried more choice entries) than the bound
    /// ([`ClientBuilder::max_choices`](crate::ClientBuilder::max_choices), default 1,024).
    #[error("the stream exceeded the limit of {limit} choices")]
    TooManyChoices {
        /// The bound.
        limit: usize,
    },

    /// One choice of the stream named more distinct tool calls (or one event carried more tool-call
    /// fragments, all its choices together) than the bound
    /// ([`ClientBuilder::max_tool_calls`](crate::ClientBuilder::max_tool_calls), default 1,024).
    #[error(
        "the stream exceeded the limit of {limit} tool calls (per choice, or fragments per event)"
    )]
    TooManyToolCalls {
        /// The bound.
        limit: usize,
    },

    /// Serializing the request failed (for example a map key that is not a string in `extra`).
    #[error("could not serialize the request: {0}")]
    Serialize(#[source] serde_json::Error),

    /// A binary body that a convenience reads whole into memory ([`Client::speech_bytes`](crate::Client::speech_bytes))
    /// was larger than that call's documented limit. The calls that write into a writer instead
    /// ([`Client::speech_to`](crate::Client::speech_to), [`Client::download_image`](crate::Client::download_image),
    /// [`Client::file_content`](crate::Client::file_content)) have no such limit. (Distinct from
    /// [`Error::EventTooLarge`], which is the `max_event_size` bound on an event or a JSON body.)
    #[error("the response body exceeded the {limit}-byte limit of this call")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },

    /// A batch job's input failed a check before anything was uploaded: an empty or duplicate
    /// `custom_id`, more than 5,000 lines, more than 1 GB, a request the batch API does not take, or a
    /// failure writing the input file (see [`BatchInputError`]).
    #[error("batch input: {0}")]
    BatchInput(#[source] BatchInputError),
}

impl Error {
    /// The server's error, for [`Error::Api`] and [`Error::Stream`].
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::Stream(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status for [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether this is a timeout of any kind.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// Whether the client's [`RetryPolicy`](crate::RetryPolicy) retries this failure when it happens
    /// before the response: connection failures, timeouts before the response headers, transport errors
    /// before the response, and HTTP 408, 409, 429 and 5xx (unless the server said `x-should-retry:
    /// false`; `x-should-retry: true` makes any status retryable).
    ///
    /// The client also retries an idle or event timeout that fires before the response (a stalled upload, a
    /// streaming request whose head does not come): such an error reaches you only after the last retry,
    /// and `is_retryable` answers `false` for it, as for one during a body.
    ///
    /// Failures of a stream already in the caller's hands ([`Error::Stream`], [`Error::StreamCut`],
    /// [`TimeoutKind::Idle`], …) are never retried by the client and answer `false`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Connect { .. } | Error::Transport { .. } => true,
            Error::Timeout(kind) => matches!(kind, TimeoutKind::Connect | TimeoutKind::Response),
            _ => false,
        }
    }

    /// The delay the server asked for before a retry, if it asked.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(|e| e.retry_after)
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Establishing the connection (TCP and TLS) took longer than the connect timeout.
    Connect,
    /// The response headers did not arrive within the response timeout after the request was sent.
    Response,
    /// No byte of the body arrived for longer than the idle timeout (a stalled stream), or a write of the
    /// request made no progress for that long (a server that does not read).
    Idle,
    /// One event of a stream (or a whole non-streamed body) took longer than the event timeout to arrive,
    /// although bytes kept coming: a server sending only keep-alive comments, or trickling one byte at a
    /// time.
    Event,
    /// The overall deadline for the request (retries and the whole body included) passed.
    Deadline,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connecting",
            TimeoutKind::Response => "waiting for the response headers",
            TimeoutKind::Idle => "waiting for the next bytes (idle)",
            TimeoutKind::Event => "waiting for the next whole event (or the whole body)",
            TimeoutKind::Deadline => "the request's overall deadline",
        })
    }
}

/// An error reported by the server: an HTTP error status, or an error inside an event stream.
///
/// The body parser understands OpenAI's `{"error":{"message","type","param","code"}}`, SiliconFlow's
/// `{"code":20012,"message":"…","data":null}`, a bare JSON string such as `"Invalid token"`, a
/// `{"detail": …}` object, and plain text.
///
/// ```no_run
/// # let client = siliconflow::Client::from_env()?;
/// # let request = siliconflow::ChatRequest::new("no/such-model", vec![]);
/// if let Err(error) = client.chat(&request) {
///     if let Some(api) = error.api_error() {
///         eprintln!("HTTP {} code {:?}: {}", api.status, api.code, api.message);
///         eprintln!("quote this to support: {:?}", api.request_id);
///         eprintln!("requests left: {:?}", api.headers.get("x-ratelimit-remaining-requests"));
///     }
/// }
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status of the response (200 for an error sent inside an event stream).
    pub status: u16,
    /// The provider's error code, as text (`"20012"`, `"invalid_request_error"`), when the body has one.
    pub code: Option<String>,
    /// The human-readable message: from the body, or the status's reason when the body has none.
    pub message: String,
    /// OpenAI-style `type`, when given.
    pub error_type: Option<String>,
    /// OpenAI-style `param`, when given.
    pub param: Option<String>,
    /// The raw body (or event data), cut to at most 64 KiB.
    pub body: String,
    /// The request id to quote to support: `x-siliconcloud-trace-id`, else `x-request-id`, else a
    /// gateway's renamed copy of either (see [`ResponseMeta::request_id`](crate::ResponseMeta::request_id)).
    pub request_id: Option<String>,
    /// The response headers (for an error inside a stream, the stream's), for rate-limit headers and
    /// anything else a gateway adds.
    pub headers: Headers,
    /// The delay the server asked for before a retry (`retry-after-ms`, or `Retry-After` in seconds or as
    /// an HTTP date).
    pub retry_after: Option<Duration>,
    /// The server's `x-should-retry` header: `Some(false)` forbids a retry, `Some(true)` asks for one.
    pub should_retry: Option<bool>,
}

impl ApiError {
    /// Parses an error body of any of the supported shapes.
    ///
    /// ```
    /// use siliconflow::ApiError;
    ///
    /// let e = ApiError::parse(403, br#"{"code":30001,"message":"Sorry, your account balance is insufficient","data":null}"#);
    /// assert_eq!(e.code.as_deref(), Some("30001"));
    /// assert_eq!(e.message, "Sorry, your account balance is insufficient");
    ///
    /// let e = ApiError::parse(401, br#""Invalid token""#);
    /// assert_eq!(e.message, "Invalid token");
    /// ```
    pub fn parse(status: u16, body: &[u8]) -> ApiError {
        let body = &body[..body.len().min(MAX_ERROR_BODY)];
        let text = String::from_utf8_lossy(body);
        let mut error = ApiError {
            status,
            code: None,
            message: String::new(),
            error_type: None,
            param: None,
            body: text.trim().to_string(),
            request_id: None,
            headers: Headers::default(),
            retry_after: None,
            should_retry: None,
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => {
                let inner = match map.get("error") {
                    Some(Value::Object(inner)) => Some(inner),
                    Some(Value::String(message)) => {
                        error.message = message.clone();
                        None
                    }
                    _ => None,
                };
                let fields = inner.unwrap_or(&map);
                if error.message.is_empty() {
                    error.message = fields
                        .get("message")
                        .or_else(|| fields.get("detail"))
                        .or_else(|| fields.get("msg"))
                        .map(text_of)
                        .unwrap_or_default();
                }
                error.code = fields.get("code").and_then(scalar);
                error.error_type = fields.get("type").and_then(scalar);
                error.param = fields.get("param").and_then(scalar);
            }
            Ok(Value::String(message)) => error.message = message,
            Ok(_) | Err(_) => error.message = error.body.clone(),
        }
        if error.message.is_empty() {
            error.message = reason(status).to_string();
        }
        error
    }

    /// Whether a request that failed with this error should be retried: 408, 409, 429 and 5xx, unless
    /// `x-should-retry` says otherwise.
    pub fn is_retryable(&self) -> bool {
        self.should_retry
            .unwrap_or(matches!(self.status, 408 | 409 | 429 | 500..=599))
    }
}

/// A JSON scalar as text; `null`, arrays and objects give `None`.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A message field as text: strings as they are, anything else (FastAPI's `detail` list) as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP error",
    }
}

impl fmt::Display for ApiError {
    /// `HTTP <status>: <message> (code …, type …, param …, trace id …)` in about 1 KiB at most: the code,
    /// type, param and trace id cut to 64 bytes each, the message to what is left of 1 KiB (at least 256
    /// bytes). A gateway's HTML error page, or a hostile server's 30 KB header, can be much longer; the
    /// whole texts are in the fields and in [`ApiError::body`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            ("code", &self.code),
            ("type", &self.error_type),
            ("param", &self.param),
            ("trace id", &self.request_id),
        ];
        let extra: Vec<String> = fields
            .iter()
            .filter_map(|(label, value)| {
                let value = value.as_deref()?;
                Some(format!("{label} {}", cut(value, MAX_DISPLAYED_FIELD)))
            })
            .collect();
        let extra = extra.join(", ");
        let room = MAX_DISPLAYED_MESSAGE
            .saturating_sub(extra.len())
            .max(MIN_DISPLAYED_MESSAGE);
        write!(f, "HTTP {}: {}", self.status, cut(&self.message, room))?;
        if !extra.is_empty() {
            write!(f, " ({extra})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A JSON document that does not have the shape expected: the message of the JSON parser (with the API key
/// scrubbed), and where in the text it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
    line: usize,
    column: usize,
}

impl JsonError {
    /// The parser's message, with line and column (`invalid type: string "x", expected u32 at line 1
    /// column 20`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line where parsing stopped (0 when unknown).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column where parsing stopped (0 when unknown).
    pub fn column(&self) -> usize {
        self.column
    }
}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        JsonError {
            // The parser quotes the text it choked on (`invalid type: string "…"`), sometimes only a part
            // of it: a part of an echoed key could not be recognised and scrubbed there. The text is in the
            // error's (scrubbed) `data`, so the message keeps the parser's words and drops the quote.
            message: cut(&without_quotes(&error.to_string()), MAX_SNIPPET),
            line: error.line(),
            column: error.column(),
        }
    }
}

/// The message with the content of every `"…"` quote replaced by `…`.
fn without_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        out.push('…');
        // Skip to the closing quote (a quoted `\"` does not close it).
        let mut escaped = false;
        for c in chars.by_ref() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    out.push('"');
                    break;
                }
                _ => escaped = false,
            }
        }
    }
    out
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

impl Redactor {
    /// The error with every server-provided text scrubbed (whole texts: anything cut was scrubbed before
    /// its cut).
    pub(crate) fn error(&self, mut error: Error) -> Error {
        if !self.is_active() {
            return error;
        }
        match &mut error {
            Error::Api(e) | Error::Stream(e) => {
                let e = &mut **e;
                for text in [&mut e.message, &mut e.body] {
                    self.scrub(text);
                }
                for text in [
                    &mut e.code,
                    &mut e.error_type,
                    &mut e.param,
                    &mut e.request_id,
                ]
                .into_iter()
                .flatten()
                {
                    self.scrub(text);
                }
                self.headers(&mut e.headers);
            }
            Error::MalformedChunk { data, source, .. } => {
                self.scrub(data);
                self.scrub(&mut source.message);
            }
            Error::StreamCut { reason, .. } | Error::Protocol { reason, .. } => self.scrub(reason),
            Error::InvalidConfig(message) => self.scrub(message),
            _ => {}
        }
        error
    }

    /// Scrubs every header name and value (a lower-case key is a valid header name).
    pub(crate) fn headers(&self, headers: &mut Headers) {
        if self.is_active() {
            headers.texts_mut().for_each(|v| self.scrub(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_envelope() {
        let body = std::fs::read("../shared/wire/deepseek-error-body.json")
            .unwrap_or_else(|_| br#"{"error":{"message":"Model Not Exist","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#.to_vec());
        let e = ApiError::parse(400, &body);
        assert_eq!(e.message, "Model Not Exist");
        assert_eq!(e.error_type.as_deref(), Some("invalid_request_error"));
        assert_eq!(e.code.as_deref(), Some("invalid_request_error"));
        assert_eq!(e.param, None);
    }

    #[test]
    fn siliconflow_shapes() {
        let e = ApiError::parse(
            400,
            br#"{"code":20015,"message":"Value error, current model does not support parameter `enable_thinking`.","data":null}"#,
        );
        assert_eq!(e.code.as_deref(), Some("20015"));
        assert!(e.message.contains("enable_thinking"));
        let e = ApiError::parse(
            429,
            br#"{"message":"Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:TPM limit reached.","data":null}"#,
        );
        assert_eq!(e.code, None);
        assert!(e.message.starts_with("Request was rejected"));
    }

    #[test]
    fn bare_string_plain_text_and_empty() {
        assert_eq!(
            ApiError::parse(401, br#""Api key is invalid""#).message,
            "Api key is invalid"
        );
        let e = ApiError::parse(404, b"404 page not found\n");
        assert_eq!(e.message, "404 page not found");
        assert_eq!(e.body, "404 page not found");
        assert_eq!(ApiError::parse(502, b"").message, "Bad Gateway");
        assert_eq!(ApiError::parse(599, b"  ").message, "HTTP error");
    }

    #[test]
    fn error_string_and_detail() {
        assert_eq!(ApiError::parse(500, br#"{"error":"boom"}"#).message, "boom");
        assert_eq!(
            ApiError::parse(422, br#"{"detail":"bad field"}"#).message,
            "bad field"
        );
    }

    #[test]
    fn body_is_bounded() {
        let big = vec![b'x'; MAX_ERROR_BODY * 3];
        let e = ApiError::parse(500, &big);
        assert_eq!(e.body.len(), MAX_ERROR_BODY);
    }

    #[test]
    fn display_lists_details() {
        let mut e = ApiError::parse(400, br#"{"code":20012,"message":"Model does not exist. Please check it carefully.","data":null}"#);
        e.request_id = Some("trace-1".into());
        assert_eq!(
            e.to_string(),
            "HTTP 400: Model does not exist. Please check it carefully. (code 20012, trace id trace-1)"
        );
    }

    #[test]
    fn parser_messages_do_not_quote_the_document() {
        let error = serde_json::from_str::<u32>(r#""sk-secret\"rest""#).unwrap_err();
        let json = JsonError::from(error);
        assert!(
            json.message().starts_with("invalid type: string \"…\""),
            "{json}"
        );
        assert!(!json.message().contains("secret"), "{json}");
        assert_eq!(without_quotes(r#"a "b\"c" d "e"#), r#"a "…" d "…"#);
    }

    #[test]
    fn display_of_a_huge_message_is_bounded() {
        let html = format!("<html>{}</html>", "x".repeat(60_000));
        let e = ApiError::parse(400, html.as_bytes());
        assert_eq!(e.body.len(), html.len(), "the whole body is kept");
        let shown = e.to_string();
        assert!(shown.len() < 1200, "{}", shown.len());
        assert!(shown.contains("bytes in all"));
    }
}
