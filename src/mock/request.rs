//! [`ReceivedRequest`] and the HTTP/1.1 request reader: request line, headers, and a `Content-Length` or
//! chunked body, every part bounded.

use std::io::{self, BufRead, Read};
use std::net::SocketAddr;

use serde_json::Value;

use crate::mock::multipart::{self, FormPart};

/// A request as the mock server received it, recorded for assertions
/// ([`MockServer::requests`](crate::mock::MockServer::requests)) and handed to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The method, as sent (`POST`).
    pub method: String,
    /// The path without the query (`/v1/chat/completions`).
    pub path: String,
    /// The query without the `?`, still percent-encoded; empty when there is none.
    pub query: String,
    /// The HTTP version (`HTTP/1.1`).
    pub version: String,
    /// Every header in the order sent, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The number of the connection it came on, from 1 in the order the server accepted them: equal
    /// numbers mean a reused (keep-alive) connection.
    pub connection: usize,
    /// The server's own address (`127.0.0.1:PORT`), for handlers that make URLs pointing back at it.
    pub server: SocketAddr,
}

impl ReceivedRequest {
    /// The first header of this name (compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the method and the path (without the query) are these; the method is compared without
    /// case.
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.path == path
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// The body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first query parameter of this name, percent-decoded (`+` as a space); `Some("")` for a name
    /// without a value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(key, _)| percent_decode(key) == name)
            .map(|(_, value)| percent_decode(value))
    }

    /// The parts of a `multipart/form-data` body (an upload), or `None` when the body is not one or is
    /// malformed.
    pub fn multipart(&self) -> Option<Vec<FormPart>> {
        multipart::parse(self.header("content-type")?, &self.body)
    }

    /// The part named `name` of a `multipart/form-data` body.
    pub fn form_part(&self, name: &str) -> Option<FormPart> {
        self.multipart()?.into_iter().find(|part| part.name == name)
    }

    /// The server's base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server)
    }

    /// Whether the connection may carry another request after this one's response.
    pub(crate) fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.headers
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, value)| value.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.version == "HTTP/1.0" {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// `%XX` decoded (invalid escapes kept as they are), `+` as a space, invalid UTF-8 replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bounds on what a client may send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The longest request line, header line, chunk-size line or trailer line, in bytes.
    pub(crate) max_line: usize,
    /// The most header lines (and, separately, trailer lines) in one request.
    pub(crate) max_headers: usize,
    /// The largest body, in bytes, after de-chunking.
    pub(crate) max_body: usize,
}

/// A request the server refuses to read on: it answers this status and closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: u16,
}

const BAD_REQUEST: Rejection = Rejection { status: 400 };
const TOO_LARGE: Rejection = Rejection { status: 413 };
const HEADERS_TOO_LARGE: Rejection = Rejection { status: 431 };
const NOT_IMPLEMENTED: Rejection = Rejection { status: 501 };
const BAD_VERSION: Rejection = Rejection { status: 505 };

/// A request's head: everything but the body, and how the body is framed.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) version: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: BodyFraming,
    /// The client sent `Expect: 100-continue` and waits for a `100 Continue` before the body.
    pub(crate) expects_continue: bool,
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// `Content-Length` (0 without a body).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What reading the next part of a request gave.
#[derive(Debug)]
pub(crate) enum Parsed<T> {
    /// The part, whole.
    Got(T),
    /// The client closed the connection (before a request, or in the middle of one).
    Closed,
    /// The request breaks the bounds or HTTP: answer and close.
    Rejected(Rejection),
}

/// One line of at most `max` bytes ending in LF (CR LF accepted), without its ending; `Ok(None)` when
/// the connection closed before the line was complete, `Ok(Some(Err(_)))` when it is too long or not
/// UTF-8.
fn read_line(
    reader: &mut impl BufRead,
    max: usize,
) -> io::Result<Option<Result<String, Rejection>>> {
    let mut line = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Ok(if line.len() > max {
            Some(Err(HEADERS_TOO_LARGE))
        } else {
            None
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8(line).map_err(|_| BAD_REQUEST)))
}

/// Reads a request's line and headers. I/O errors (a reset, the idle timeout) end the connection.
pub(crate) fn read_head(reader: &mut impl BufRead, limits: &Limits) -> io::Result<Parsed<Head>> {
    // The request line, after any blank lines (RFC 9112 §2.2 asks servers to ignore them).
    let mut blank_lines = 0;
    let request_line = loop {
        match read_line(reader, limits.max_line)? {
            None => return Ok(Parsed::Closed),
            Some(Err(rejection)) => return Ok(Parsed::Rejected(rejection)),
            Some(Ok(line)) if line.is_empty() => {
                blank_lines += 1;
                if blank_lines > limits.max_headers {
                    return Ok(Parsed::Rejected(BAD_REQUEST));
                }
            }
            Some(Ok(line)) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Parsed::Rejected(BAD_REQUEST));
    };
    if method.is_empty() || !target.starts_with('/') {
        return Ok(Parsed::Rejected(BAD_REQUEST));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Ok(Parsed::Rejected(BAD_VERSION));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    let headers = match read_fields(reader, limits)? {
        Parsed::Got(headers) => headers,
        Parsed::Closed => return Ok(Parsed::Closed),
        Parsed::Rejected(rejection) => return Ok(Parsed::Rejected(rejection)),
    };
    let values = |name: &'static str| field_values(&headers, name);

    let body = if let Some(codings) = values("transfer-encoding").last() {
        // Chunked must be the last coding; any other coding leaves the length unknown.
        let last = codings.rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") {
            return Ok(Parsed::Rejected(NOT_IMPLEMENTED));
        }
        BodyFraming::Chunked
    } else {
        let mut length = None;
        for value in values("content-length") {
            let Ok(parsed) = value.parse::<u64>() else {
                return Ok(Parsed::Rejected(BAD_REQUEST));
            };
            if length.is_some_and(|known| known != parsed) {
                return Ok(Parsed::Rejected(BAD_REQUEST));
            }
            length = Some(parsed);
        }
        let length = length.unwrap_or(0);
        match usize::try_from(length) {
            Ok(length) if length <= limits.max_body => BodyFraming::Length(length),
            _ => return Ok(Parsed::Rejected(TOO_LARGE)),
        }
    };
    let expects_continue = values("expect").any(|v| v.eq_ignore_ascii_case("100-continue"));
    Ok(Parsed::Got(Head {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        version: version.to_string(),
        headers,
        body,
        expects_continue,
    }))
}

/// The values of every field named `name` (compared without case), in order.
fn field_values<'a>(
    fields: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    fields
        .iter()
        .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Header (or trailer) lines up to the blank line, at most `max_headers` of them.
fn read_fields(
    reader: &mut impl BufRead,
    limits: &Limits,
) -> io::Result<Parsed<Vec<(String, String)>>> {
    let mut fields = Vec::new();
    loop {
        let line = match read_line(reader, limits.max_line)? {
            None => return Ok(Parsed::Closed),
            Some(Err(rejection)) => return Ok(Parsed::Rejected(rejection)),
            Some(Ok(line)) => line,
        };
        if line.is_empty() {
            return Ok(Parsed::Got(fields));
        }
        if fields.len() == limits.max_headers {
            return Ok(Parsed::Rejected(HEADERS_TOO_LARGE));
        }
        // A folded line (obsolete) or a name with spaces is a bad request (RFC 9112 §5).
        let Some((name, value)) = line.split_once(':') else {
            return Ok(Parsed::Rejected(BAD_REQUEST));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Ok(Parsed::Rejected(BAD_REQUEST));
        }
        fields.push((name.to_string(), value.trim().to_string()));
    }
}

/// Reads the body the head announced, never holding more than `max_body` bytes (memory grows with the
/// bytes actually received, not with what the client declares).
pub(crate) fn read_body(
    reader: &mut impl BufRead,
    framing: BodyFraming,
    limits: &Limits,
) -> io::Result<Parsed<Vec<u8>>> {
    match framing {
        BodyFraming::Length(length) => {
            let mut body = Vec::new();
            Ok(if read_exactly(reader, length, &mut body)? {
                Parsed::Got(body)
            } else {
                Parsed::Closed
            })
        }
        BodyFraming::Chunked => read_chunked(reader, limits),
    }
}

/// Appends exactly `length` more bytes to `body`, growing it as bytes arrive; `false` when the
/// connection closed first.
fn read_exactly(reader: &mut impl BufRead, length: usize, body: &mut Vec<u8>) -> io::Result<bool> {
    let want = u64::try_from(length).unwrap_or(u64::MAX);
    let got = reader.by_ref().take(want).read_to_end(body)?;
    Ok(got == length)
}

fn read_chunked(reader: &mut impl BufRead, limits: &Limits) -> io::Result<Parsed<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let line = match read_line(reader, limits.max_line)? {
            None => return Ok(Parsed::Closed),
            Some(Err(rejection)) => return Ok(Parsed::Rejected(rejection)),
            Some(Ok(line)) => line,
        };
        // The size, in hex, before any `;extension`.
        let size = line.split(';').next().unwrap_or("").trim();
        if size.is_empty() || size.len() > 16 {
            return Ok(Parsed::Rejected(if size.is_empty() {
                BAD_REQUEST
            } else {
                TOO_LARGE
            }));
        }
        let Ok(size) = u64::from_str_radix(size, 16) else {
            return Ok(Parsed::Rejected(BAD_REQUEST));
        };
        if size == 0 {
            return match read_fields(reader, limits)? {
                Parsed::Got(_trailers) => Ok(Parsed::Got(body)),
                Parsed::Closed => Ok(Parsed::Closed),
                Parsed::Rejected(rejection) => Ok(Parsed::Rejected(rejection)),
            };
        }
        let room = limits.max_body.saturating_sub(body.len()) as u64;
        if size > room {
            return Ok(Parsed::Rejected(TOO_LARGE));
        }
        // `size <= room <= max_body`, so it fits a usize.
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if !read_exactly(reader, size, &mut body)? {
            return Ok(Parsed::Closed);
        }
        match read_line(reader, limits.max_line)? {
            Some(Ok(line)) if line.is_empty() => {}
            None => return Ok(Parsed::Closed),
            Some(_) => return Ok(Parsed::Rejected(BAD_REQUEST)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_line: 64,
        max_headers: 4,
        max_body: 32,
    };

    fn read(raw: &[u8]) -> Result<(Head, Vec<u8>), String> {
        let mut reader = io::BufReader::new(raw);
        let head = match read_head(&mut reader, &LIMITS).map_err(|e| e.to_string())? {
            Parsed::Got(head) => head,
            Parsed::Closed => return Err("closed".into()),
            Parsed::Rejected(r) => return Err(r.status.to_string()),
        };
        match read_body(&mut reader, head.body, &LIMITS).map_err(|e| e.to_string())? {
            Parsed::Got(body) => Ok((head, body)),
            Parsed::Closed => Err("closed".into()),
            Parsed::Rejected(r) => Err(r.status.to_string()),
        }
    }

    #[test]
    fn lengths_chunks_and_limits() {
        let (head, body) =
            read(b"\r\nPOST /v1/x?a=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!((head.path.as_str(), head.query.as_str()), ("/v1/x", "a=1"));
        assert_eq!(body, b"abc");
        let (_, body) =
            read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n")
                .unwrap();
        assert_eq!(body, b"abcde");
        assert_eq!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 33\r\n\r\n").unwrap_err(),
            "413"
        );
        assert_eq!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")
                .unwrap_err(),
            "400"
        );
        assert_eq!(
            read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n")
                .unwrap_err(),
            "413"
        );
        assert_eq!(
            read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n").unwrap_err(),
            "closed"
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        assert_eq!(read(long.as_bytes()).unwrap_err(), "431");
        assert_eq!(
            read(b"GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n").unwrap_err(),
            "431"
        );
        assert_eq!(read(b"GET / HTTP/2\r\n\r\n").unwrap_err(), "505");
        assert_eq!(
            read(b"GET / HTTP/1.1\r\n folded\r\n\r\n").unwrap_err(),
            "400"
        );
        assert_eq!(
            read(b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap_err(),
            "501"
        );
        assert_eq!(read(b"").unwrap_err(), "closed");
        assert_eq!(read(b"GET / HT").unwrap_err(), "closed");
        assert_eq!(read(b"\xff\xfe / HTTP/1.1\r\n\r\n").unwrap_err(), "400");
    }

    #[test]
    fn query_params_are_decoded() {
        let request = ReceivedRequest {
            method: "GET".into(),
            path: "/v1/models".into(),
            query: "type=text&sub_type=a%20b+c&flag&bad=%zz%4".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("Authorization".into(), "Bearer  sk-1 ".into())],
            body: Vec::new(),
            connection: 1,
            server: SocketAddr::from(([127, 0, 0, 1], 1)),
        };
        assert_eq!(request.query_param("type").as_deref(), Some("text"));
        assert_eq!(request.query_param("sub_type").as_deref(), Some("a b c"));
        assert_eq!(request.query_param("flag").as_deref(), Some(""));
        assert_eq!(request.query_param("bad").as_deref(), Some("%zz%4"));
        assert_eq!(request.query_param("none"), None);
        assert_eq!(request.bearer_token(), Some("sk-1"));
        assert!(request.is("get", "/v1/models"));
        assert!(request.keep_alive());
    }
}
