//! [`MockResponse`] and [`SseEvent`]: what the server sends back, how it frames and paces it, and where
//! it breaks off.

use std::io;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// The content type of JSON bodies, as SiliconFlow sends it.
const JSON: &str = "application/json; charset=utf-8";
/// The content type of plain-text bodies.
const TEXT: &str = "text/plain; charset=utf-8";
/// The content type of event streams, as SiliconFlow sends it.
const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// How the body's length is told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// A `Content-Length` header with the whole body's length; the connection can be reused. The default
    /// for JSON, text and binary bodies.
    ContentLength,
    /// `Transfer-Encoding: chunked`, one chunk per event (or per byte with
    /// [`MockResponse::byte_delay`]), ended by the zero-length chunk. The default for event streams.
    Chunked,
    /// No length at all: the body ends when the server closes the connection (`Connection: close`).
    CloseDelimited,
}

/// A place in a response where the server stops sending: see [`MockResponse::cut`] and
/// [`MockResponse::stall`].
///
/// Events are the pieces the body is sent in: the [`SseEvent`]s of a stream, the pieces of a
/// [`MockResponse::trickle`]d body, or the whole body as one piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakPoint {
    /// Before the status line: the client gets no response at all.
    BeforeHead,
    /// After the head and the first `n` events (`0`: right after the head). With `n` at or past the
    /// number of events, after the whole body but before a chunked body's final zero-length chunk.
    AfterEvents(usize),
    /// After `n` events and the first half of the next one (of an event of one byte, nothing).
    MidEvent(usize),
    /// After the head and the first `n` bytes of the body (not counting chunked framing).
    AfterBytes(usize),
}

/// What happens at a [`BreakPoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// Close the connection (after flushing what was sent).
    Cut(BreakPoint),
    /// Keep the connection open without sending anything more, until the client closes it or the server
    /// stops.
    Stall(BreakPoint),
}

impl Interruption {
    pub(crate) fn point(self) -> BreakPoint {
        match self {
            Interruption::Cut(point) | Interruption::Stall(point) => point,
        }
    }
}

/// One event of a server-sent-event stream, kept as the exact bytes sent on the wire (its blank line
/// included).
///
/// ```
/// use siliconflow::mock::SseEvent;
/// use serde_json::json;
///
/// assert_eq!(SseEvent::json(&json!({"a": 1})).as_bytes(), b"data: {\"a\":1}\n\n");
/// assert_eq!(SseEvent::data("two\nlines").as_bytes(), b"data: two\ndata: lines\n\n");
/// assert_eq!(SseEvent::done().as_bytes(), b"data: [DONE]\n\n");
/// assert_eq!(SseEvent::comment("keep-alive").as_bytes(), b": keep-alive\n\n");
/// assert_eq!(SseEvent::named("error", "{}").as_bytes(), b"event: error\ndata: {}\n\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    bytes: Vec<u8>,
}

impl SseEvent {
    /// `data: <value as compact JSON>` and the blank line.
    pub fn json(value: &Value) -> SseEvent {
        SseEvent::data(&value.to_string())
    }

    /// One `data: ` line per line of `text` (split at `\n`), and the blank line.
    pub fn data(text: &str) -> SseEvent {
        let mut bytes = Vec::with_capacity(text.len() + 8);
        for line in text.split('\n') {
            bytes.extend_from_slice(b"data: ");
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        bytes.push(b'\n');
        SseEvent { bytes }
    }

    /// `event: <name>`, the `data:` lines of `data`, and the blank line.
    pub fn named(name: &str, data: &str) -> SseEvent {
        let mut bytes = format!("event: {name}\n").into_bytes();
        bytes.extend_from_slice(&SseEvent::data(data).bytes);
        SseEvent { bytes }
    }

    /// `data: [DONE]`, the end of an OpenAI-style stream.
    pub fn done() -> SseEvent {
        SseEvent::data("[DONE]")
    }

    /// A comment line (`: <text>`, what servers send as a keep-alive) and a blank line.
    pub fn comment(text: &str) -> SseEvent {
        SseEvent {
            bytes: format!(": {text}\n\n").into_bytes(),
        }
    }

    /// Exactly these bytes, sent as one event: for malformed lines, other line endings, or an event cut
    /// in two.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> SseEvent {
        SseEvent {
            bytes: bytes.into(),
        }
    }

    /// The bytes sent on the wire for this event.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Splits a recorded stream (the `tests/wire/*.sse` format: events as sent, each ended by a blank
    /// line) into its events, each one its lines and its blank line. Nothing is changed or dropped: the
    /// events' bytes joined are `text` again (a last event without its blank line is kept as it is).
    ///
    /// ```
    /// use siliconflow::mock::SseEvent;
    ///
    /// let events = SseEvent::parse_recorded("data: 1\n\n: ping\n\ndata: [DONE]\n\n");
    /// assert_eq!(events.len(), 3);
    /// assert_eq!(events[1].as_bytes(), b": ping\n\n");
    /// ```
    pub fn parse_recorded(text: &str) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut current = Vec::new();
        for line in text.split_inclusive('\n') {
            current.extend_from_slice(line.as_bytes());
            if line == "\n" || line == "\r\n" {
                events.push(SseEvent::raw(std::mem::take(&mut current)));
            }
        }
        if !current.is_empty() {
            events.push(SseEvent::raw(current));
        }
        events
    }
}

/// A scripted answer: status, headers and body, how the body is framed and paced, and where (if
/// anywhere) the server breaks off.
///
/// Build one with a constructor ([`json`](MockResponse::json), [`sse`](MockResponse::sse),
/// [`bytes`](MockResponse::bytes), an error helper such as [`rate_limited`](MockResponse::rate_limited))
/// and adjust it with the builder methods:
///
/// ```
/// use std::time::Duration;
/// use siliconflow::mock::{BreakPoint, Framing, MockResponse, SseEvent};
///
/// let slow_cut_stream = MockResponse::sse(vec![SseEvent::data("{}"), SseEvent::data("{}")])
///     .framing(Framing::CloseDelimited)
///     .head_delay(Duration::from_millis(50))
///     .event_delay(Duration::from_millis(20))
///     .cut(BreakPoint::MidEvent(1));
/// let busy = MockResponse::overloaded().header("retry-after-ms", "10");
/// # let _ = (slow_cut_stream, busy);
/// ```
#[derive(Debug, Clone)]
pub struct MockResponse {
    // Boxed, so that a `Result<T, MockResponse>` stays small.
    pub(crate) parts: Box<Parts>,
}

/// Everything a [`MockResponse`] says.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) pieces: Vec<Vec<u8>>,
    pub(crate) framing: Framing,
    pub(crate) head_delay: Duration,
    pub(crate) event_delay: Duration,
    pub(crate) byte_delay: Duration,
    pub(crate) interruption: Option<Interruption>,
}

impl MockResponse {
    /// A response with this status, no body and no content type.
    pub fn empty(status: u16) -> MockResponse {
        MockResponse {
            parts: Box::new(Parts {
                status,
                headers: Vec::new(),
                pieces: Vec::new(),
                framing: Framing::ContentLength,
                head_delay: Duration::ZERO,
                event_delay: Duration::ZERO,
                byte_delay: Duration::ZERO,
                interruption: None,
            }),
        }
    }

    /// `200 OK` with `value` as a JSON body (`application/json; charset=utf-8`).
    pub fn json(value: Value) -> MockResponse {
        MockResponse::bytes(JSON, value.to_string())
    }

    /// `200 OK` with a plain-text body (`text/plain; charset=utf-8`).
    pub fn text(body: impl Into<String>) -> MockResponse {
        MockResponse::bytes(TEXT, body.into())
    }

    /// `200 OK` with any bytes (audio, an image, a file) under this content type.
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> MockResponse {
        let body = body.into();
        let mut response = MockResponse::empty(200).header("Content-Type", content_type);
        if !body.is_empty() {
            response.parts.pieces.push(body);
        }
        response
    }

    /// `200 OK` with an event stream (`text/event-stream; charset=utf-8`), chunked, one chunk per
    /// event. Add [`SseEvent::done`] yourself where the stream should end with it.
    pub fn sse(events: impl IntoIterator<Item = SseEvent>) -> MockResponse {
        let mut response = MockResponse::empty(200)
            .header("Content-Type", EVENT_STREAM)
            .framing(Framing::Chunked);
        response.parts.pieces = events.into_iter().map(|event| event.bytes).collect();
        response
    }

    /// An event stream replaying a recording in the `tests/wire/*.sse` format byte for byte, one event
    /// per chunk (see [`SseEvent::parse_recorded`]).
    pub fn sse_recorded(text: &str) -> MockResponse {
        MockResponse::sse(SseEvent::parse_recorded(text))
    }

    /// [`MockResponse::sse_recorded`] over a file (`tests/wire/siliconflow-deepseek-r1-reasoning.sse`).
    pub fn sse_file(path: impl AsRef<Path>) -> io::Result<MockResponse> {
        let text = std::fs::read_to_string(path)?;
        Ok(MockResponse::sse_recorded(&text))
    }

    /// SiliconFlow's error body `{"code":code,"message":message,"data":null}` with this status.
    pub fn siliconflow_error(status: u16, code: u32, message: &str) -> MockResponse {
        MockResponse::json(serde_json::json!({"code": code, "message": message, "data": null}))
            .status(status)
    }

    /// `400` `{"code":20012,"message":"Model does not exist. Please check it carefully.","data":null}`:
    /// SiliconFlow's answer to an unknown model.
    pub fn model_not_found() -> MockResponse {
        MockResponse::siliconflow_error(
            400,
            20012,
            "Model does not exist. Please check it carefully.",
        )
    }

    /// `401` with the bare JSON string `"Invalid token"`: SiliconFlow's answer to a wrong API key.
    pub fn invalid_token() -> MockResponse {
        MockResponse::json(Value::from("Invalid token")).status(401)
    }

    /// `403` `{"code":30001,"message":"Sorry, your account balance is insufficient","data":null}`.
    pub fn insufficient_balance() -> MockResponse {
        MockResponse::siliconflow_error(403, 30001, "Sorry, your account balance is insufficient")
    }

    /// `404` with the plain text `404 page not found`: SiliconFlow's answer to an unknown path.
    pub fn not_found() -> MockResponse {
        MockResponse::text("404 page not found").status(404)
    }

    /// `429` with SiliconFlow's rate-limit body (no `code`, and no `Retry-After`: SiliconFlow sends none;
    /// add one with [`MockResponse::header`] to test a client honouring it).
    pub fn rate_limited() -> MockResponse {
        MockResponse::json(serde_json::json!({
            "message": "Request was rejected due to rate limiting. If you want more, please contact \
                        contact@siliconflow.cn. Details:TPM limit reached.",
            "data": null
        }))
        .status(429)
    }

    /// `503` `{"code":50505,"message":"Model service overloaded. Please try again later.","data":null}`.
    pub fn overloaded() -> MockResponse {
        MockResponse::siliconflow_error(
            503,
            50505,
            "Model service overloaded. Please try again later.",
        )
    }

    /// Sets the status code.
    #[must_use]
    pub fn status(mut self, status: u16) -> MockResponse {
        self.parts.status = status;
        self
    }

    /// Sets a header, replacing one of the same name (compared without case). `Content-Length` or
    /// `Transfer-Encoding` set here replace the one the [`Framing`] would write (the body is still sent
    /// as the framing says), to play a server that lies about its body.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> MockResponse {
        self.parts
            .headers
            .retain(|(known, _)| !known.eq_ignore_ascii_case(name));
        self.parts
            .headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Sets how the body's end is told (see [`Framing`]).
    #[must_use]
    pub fn framing(mut self, framing: Framing) -> MockResponse {
        self.parts.framing = framing;
        self
    }

    /// Waits this long before sending the status line (a slow first byte).
    #[must_use]
    pub fn head_delay(mut self, delay: Duration) -> MockResponse {
        self.parts.head_delay = delay;
        self
    }

    /// Waits this long between two events (pieces) of the body, each flushed as it is written.
    #[must_use]
    pub fn event_delay(mut self, delay: Duration) -> MockResponse {
        self.parts.event_delay = delay;
        self
    }

    /// Sends the body one byte at a time (one chunk per byte when chunked), waiting this long between
    /// two bytes.
    #[must_use]
    pub fn byte_delay(mut self, delay: Duration) -> MockResponse {
        self.parts.byte_delay = delay;
        self
    }

    /// Re-splits the body into pieces of `piece_bytes` bytes (at least 1), sent `delay` apart: a slow
    /// download of audio or an image. Event boundaries are not kept.
    #[must_use]
    pub fn trickle(mut self, piece_bytes: usize, delay: Duration) -> MockResponse {
        let body = self.body();
        self.parts.pieces = body
            .chunks(piece_bytes.max(1))
            .map(<[u8]>::to_vec)
            .collect();
        self.parts.event_delay = delay;
        self
    }

    /// Closes the connection at `point`, after flushing what came before it. A cut after the head is
    /// announced nowhere: the head says the connection stays open and, with [`Framing::ContentLength`],
    /// promises the whole body.
    #[must_use]
    pub fn cut(mut self, point: BreakPoint) -> MockResponse {
        self.parts.interruption = Some(Interruption::Cut(point));
        self
    }

    /// Stops sending at `point` but keeps the connection open (reading and dropping whatever the client
    /// sends) until the client closes it or the server stops: a stalled server.
    #[must_use]
    pub fn stall(mut self, point: BreakPoint) -> MockResponse {
        self.parts.interruption = Some(Interruption::Stall(point));
        self
    }

    /// The whole body, as sent when nothing breaks off.
    pub fn body(&self) -> Vec<u8> {
        self.parts.pieces.concat()
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.parts.status
    }

    /// The value of a header set on this response, compared without case.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.parts
            .headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_events_join_back_to_the_recording() {
        let text = "data: {\"a\":1}\r\n\r\n: c\n\nevent: x\ndata: y\n\ndata: tail";
        let events = SseEvent::parse_recorded(text);
        assert_eq!(events.len(), 4);
        let joined: Vec<u8> = events.iter().flat_map(|e| e.as_bytes().to_vec()).collect();
        assert_eq!(joined, text.as_bytes());
        assert!(SseEvent::parse_recorded("").is_empty());
    }

    #[test]
    fn header_replaces_by_name_and_trickle_keeps_the_body() {
        let response = MockResponse::bytes("a/b", vec![1u8, 2, 3, 4, 5])
            .header("content-type", "c/d")
            .trickle(2, Duration::from_millis(1));
        assert_eq!(response.header_value("Content-Type"), Some("c/d"));
        assert_eq!(response.parts.headers.len(), 1);
        assert_eq!(response.parts.pieces, vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(response.body(), vec![1, 2, 3, 4, 5]);
        assert!(
            MockResponse::json(Value::Null)
                .trickle(0, Duration::ZERO)
                .parts
                .pieces
                .len()
                == 4
        );
    }

    #[test]
    fn error_helpers_have_siliconflow_bodies() {
        let body = MockResponse::model_not_found().body();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["code"], 20012);
        assert_eq!(MockResponse::invalid_token().body(), b"\"Invalid token\"");
        assert_eq!(MockResponse::rate_limited().status_code(), 429);
        assert_eq!(MockResponse::overloaded().status_code(), 503);
        assert_eq!(MockResponse::not_found().body(), b"404 page not found");
    }
}
