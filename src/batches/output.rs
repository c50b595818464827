//! The batch result files: one JSON line per request, matched to the input by `custom_id`.
//!
//! [`parse_output_line`] reads one line of the output or the error file into a [`BatchOutputLine`]:
//! the `custom_id` and `Ok(`[`ChatCompletion`]`)` or `Err(`[`ApiError`]`)`. [`BatchOutputReader`]
//! iterates over a whole file.
//!
//! Only the expiry line is documented by SiliconFlow:
//! `{"id":"batch_req_123","custom_id":"request-3","response":null,"error":{"code":"batch_expired","message":"…"}}`.
//! Successful lines are read as OpenAI writes them,
//! `{"id","custom_id","response":{"status_code":200,"request_id":"…","body":{…chat completion…}},"error":null}`
//! (unverified for SiliconFlow). Tolerated as well: a `body` holding JSON text, a `response` that is the
//! completion itself, an error `body` with a 4xx/5xx `status_code` or a 200 (OpenAI `{"error":…}` or
//! SiliconFlow `{"code","message"}`), and an `error` that is a plain string.
//!
//! An [`ApiError`] built from a line has the line's `status_code` as status, or **0** when the line
//! carries no HTTP status (the expiry case), and the response's `request_id` as its request id.
//!
//! ```
//! use siliconflow::parse_output_line;
//!
//! let ok = parse_output_line(r#"{"id":"batch_req_1","custom_id":"request-1","response":{"status_code":200,
//!     "request_id":"r1","body":{"id":"c1","object":"chat.completion","choices":[{"index":0,
//!     "message":{"role":"assistant","content":"4"},"finish_reason":"stop"}]}},"error":null}"#)?;
//! assert_eq!(ok.custom_id, "request-1");
//! assert_eq!(ok.result.as_ref().map(|c| c.content()).ok(), Some("4"));
//!
//! let expired = parse_output_line(r#"{"id":"batch_req_123","custom_id":"request-3","response":null,
//!     "error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}"#)?;
//! let error = expired.result.unwrap_err();
//! assert_eq!((error.status, error.code.as_deref()), (0, Some("batch_expired")));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::io::{self, BufRead, Read};

use std::borrow::Cow;

use serde::de::{Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::chat::response::ChatCompletion;
use crate::error::ApiError;
use crate::json::{from_slice_lenient, from_vec_lenient, without_duplicate_keys, TopLevel};
use crate::lenient::{lenient_string, Lenient};
use crate::serde_util::Text;

/// The longest line [`BatchOutputReader`] accepts (64 MiB): a bound on memory whatever the file holds.
pub const MAX_OUTPUT_LINE: usize = 64 * 1024 * 1024;

/// One line of a batch result file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchOutputLine {
    /// The line's own id (`batch_req_…`), when sent.
    pub id: Option<String>,
    /// The `custom_id` of the input line (`""` if the line has none).
    pub custom_id: String,
    /// The HTTP status of the request, when the line has a response.
    pub status_code: Option<u16>,
    /// The request's id, when the line has a response that names it.
    pub request_id: Option<String>,
    /// The completion, or the error the request ended with.
    pub result: Result<ChatCompletion, ApiError>,
}

impl BatchOutputLine {
    /// The `(custom_id, result)` pair.
    pub fn into_pair(self) -> (String, Result<ChatCompletion, ApiError>) {
        (self.custom_id, self.result)
    }
}

/// Reads one line of a batch output or error file.
///
/// Fails only when the line is not a JSON object, or when a success body is not a chat completion; a
/// request that failed is `Ok` with an `Err` [`result`](BatchOutputLine::result).
pub fn parse_output_line(line: &str) -> Result<BatchOutputLine, serde_json::Error> {
    match read_line(line) {
        Err(first) => match without_duplicate_keys(line.as_bytes(), &first) {
            // A key given twice: read it as Python does, the last value winning.
            Some(fixed) => read_line(&String::from_utf8_lossy(&fixed)).map_err(|_| first),
            None => Err(first),
        },
        parsed => parsed,
    }
}

/// The parts of a line, borrowed from it: values are parsed only once their role is known.
#[derive(Deserialize)]
struct LineParts<'a> {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    custom_id: Option<String>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// The parts of a line's response.
#[derive(Deserialize)]
struct ResponseParts<'a> {
    /// `status_code`, when the key is there (even with a value that is not a status).
    #[serde(default, deserialize_with = "present_u64")]
    status_code: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present_u64")]
    status: Option<Option<u64>>,
    #[serde(default, deserialize_with = "lenient_string")]
    request_id: Option<String>,
    /// The body, when the key is there (`null` included).
    #[serde(borrow, default, deserialize_with = "crate::json::present_raw")]
    body: Option<&'a RawValue>,
    /// Whether the response has `choices` (then, without a body, it is the completion itself).
    #[serde(default, deserialize_with = "crate::json::present")]
    choices: bool,
}

fn present_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Ok(Some(Lenient::<u64>::deserialize(d)?.0))
}

fn read_line(line: &str) -> Result<BatchOutputLine, serde_json::Error> {
    read_head(line)?.finish()
}

/// Lines longer than this are given to [`parse_owned_output_line`] by the readers; shorter ones are read
/// in place and their buffer kept for the next line.
pub(crate) const OWNED_LINE: usize = 1024 * 1024;

/// [`parse_output_line`] for a line the caller gives away: when the response's body was JSON text, the
/// line is dropped before the completion is read from that text, so the two are not held together (a
/// line is up to `max_event_size`, and its completion's text as large).
pub(crate) fn parse_owned_output_line(line: String) -> Result<BatchOutputLine, serde_json::Error> {
    let head = match read_head(line.trim()) {
        Ok(head) => head,
        // Not a line, or a key given twice (the rare paths): as `parse_output_line` reads it.
        Err(_) => return parse_output_line(line.trim()),
    };
    match head.detach() {
        Ok(head) => {
            drop(line);
            head.finish()
        }
        Err(head) => head.finish(),
    }
}

/// A line read but for its completion, which may still need parsing.
struct Head<'a> {
    id: Option<String>,
    custom_id: String,
    status_code: Option<u16>,
    request_id: Option<String>,
    outcome: Outcome<'a>,
}

enum Outcome<'a> {
    /// The line's result is known.
    Done(Box<Result<ChatCompletion, ApiError>>),
    /// A completion to read from this JSON text (borrowed from the line, or unescaped from a body sent
    /// as JSON text).
    Completion(Cow<'a, str>),
}

impl<'a> Head<'a> {
    /// The head without its borrow of the line, unless its completion is still in the line.
    fn detach(self) -> Result<Head<'static>, Head<'a>> {
        let outcome = match self.outcome {
            Outcome::Done(result) => Outcome::Done(result),
            Outcome::Completion(Cow::Owned(text)) => Outcome::Completion(Cow::Owned(text)),
            borrowed @ Outcome::Completion(Cow::Borrowed(_)) => {
                return Err(Head {
                    outcome: borrowed,
                    ..self
                })
            }
        };
        Ok(Head {
            id: self.id,
            custom_id: self.custom_id,
            status_code: self.status_code,
            request_id: self.request_id,
            outcome,
        })
    }

    fn finish(self) -> Result<BatchOutputLine, serde_json::Error> {
        let result = match self.outcome {
            Outcome::Done(result) => *result,
            // The text of an owned body is given to the parser, which fixes lone surrogates in place.
            Outcome::Completion(Cow::Owned(json)) => Ok(from_vec_lenient(json.into_bytes())?),
            Outcome::Completion(Cow::Borrowed(json)) => Ok(from_slice_lenient(json.as_bytes())?),
        };
        let request_id = self.request_id;
        Ok(BatchOutputLine {
            id: self.id,
            custom_id: self.custom_id,
            status_code: self.status_code,
            result: result.map_err(|mut error: ApiError| {
                error.request_id.clone_from(&request_id);
                error
            }),
            request_id,
        })
    }
}

fn read_head(line: &str) -> Result<Head<'_>, serde_json::Error> {
    if line.trim_start().as_bytes().first() != Some(&b'{') {
        return Err(serde_json::Error::custom(
            "a batch output line must be a JSON object",
        ));
    }
    let parts: LineParts<'_> = serde_json::from_str(line)?;
    let response = match parts.response {
        Some(raw) if raw.get().starts_with('{') => {
            Some(serde_json::from_str::<ResponseParts<'_>>(raw.get())?).map(|parts| (parts, raw))
        }
        _ => None,
    };
    let status_code = response
        .as_ref()
        .and_then(|(r, _)| r.status_code.or(r.status).flatten())
        .and_then(|s| u16::try_from(s).ok());
    let request_id = response
        .as_ref()
        .and_then(|(r, _)| r.request_id.clone())
        .filter(|s| !s.is_empty());

    let error = parts.error.filter(|e| e.get() != "null");
    let outcome = match (error, response) {
        (Some(error), _) => Outcome::Done(Box::new(Err(line_error(status_code, error)))),
        (None, Some((response, raw))) => response_outcome(status_code, &response, raw)?,
        (None, None) => {
            let mut error = ApiError::parse(status_code.unwrap_or(0), line.as_bytes());
            error.message = "the batch output line has neither a response nor an error".to_string();
            Outcome::Done(Box::new(Err(error)))
        }
    };
    Ok(Head {
        id: parts.id,
        custom_id: parts.custom_id.unwrap_or_default(),
        status_code,
        request_id,
        outcome,
    })
}

/// The line-level `error` (an object or a string) as an [`ApiError`].
fn line_error(status: Option<u16>, error: &RawValue) -> ApiError {
    let body = format!(r#"{{"error":{}}}"#, error.get());
    ApiError::parse(status.unwrap_or(0), body.as_bytes())
}

/// What a body holds, once a body sent as JSON text is read.
enum Body<'a> {
    /// No body, or `null`.
    None,
    /// A JSON value other than a string (an object, a number, an array), as its text.
    Json(Cow<'a, str>),
    /// Text: a string body that is not JSON, or a JSON string.
    Text(String),
}

impl<'a> Body<'a> {
    /// Reads the body of JSON text `raw`: a string holding JSON is read for what it holds.
    fn of(raw: &'a str) -> Result<Body<'a>, serde_json::Error> {
        match raw.as_bytes().first() {
            None | Some(b'n') => Ok(Body::None),
            Some(b'"') => {
                let text = serde_json::from_str::<Text<'_>>(raw)?.0.into_owned();
                if serde_json::from_str::<IgnoredAny>(&text).is_err() {
                    return Ok(Body::Text(text));
                }
                // Trimmed in place: the body may be most of a line as long as its limit.
                let mut text = text;
                text.truncate(text.trim_end().len());
                text.drain(..text.len() - text.trim_start().len());
                Ok(match text.as_bytes().first() {
                    None | Some(b'n') => Body::None,
                    Some(b'"') => {
                        Body::Text(serde_json::from_str::<Text<'_>>(&text)?.0.into_owned())
                    }
                    _ => Body::Json(Cow::Owned(text)),
                })
            }
            _ => Ok(Body::Json(Cow::Borrowed(raw))),
        }
    }
}

fn response_outcome<'a>(
    status: Option<u16>,
    response: &ResponseParts<'a>,
    raw: &'a RawValue,
) -> Result<Outcome<'a>, serde_json::Error> {
    let body = match response.body {
        Some(body) => Body::of(body.get())?,
        // No body: the response may be the completion itself.
        None if response.choices => Body::Json(Cow::Borrowed(raw.get())),
        None => Body::None,
    };
    let failed_status = status.filter(|s| !(200..300).contains(s));
    let text = match body {
        Body::None => {
            let mut error = ApiError::parse(status.unwrap_or(0), b"");
            error.message = "the batch output line's response has no body".to_string();
            return Ok(Outcome::Done(Box::new(Err(error))));
        }
        Body::Text(text) => text,
        Body::Json(json) => {
            let is_object = json.starts_with('{');
            if failed_status.is_none() && is_object && !TopLevel::of(json.as_bytes()).is_error(true)
            {
                return Ok(Outcome::Completion(json));
            }
            json.into_owned()
        }
    };
    let error = ApiError::parse(status.unwrap_or(0), text.as_bytes());
    Ok(Outcome::Done(Box::new(Err(error))))
}

/// Why a batch result file could not be read. `line` is 1-based.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchOutputError {
    /// A line is not a batch result (not a JSON object, or a success body that is not a completion).
    #[error("batch result line {line}: {source}")]
    Line {
        /// The line.
        line: u64,
        /// The JSON failure.
        #[source]
        source: serde_json::Error,
    },
    /// A line is longer than [`MAX_OUTPUT_LINE`].
    #[error("batch result line {line} is longer than {MAX_OUTPUT_LINE} bytes")]
    LineTooLong {
        /// The line.
        line: u64,
    },
    /// Reading failed.
    #[error("reading the batch result file failed: {0}")]
    Io(#[from] io::Error),
}

/// An iterator over the lines of a batch result file, skipping blank lines.
///
/// ```
/// use siliconflow::BatchOutputReader;
///
/// let file = concat!(
///     r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}]}}}"#, "\n",
///     "\n",
///     r#"{"custom_id":"b","response":{"status_code":400,"body":{"code":20015,"message":"bad parameter","data":null}}}"#, "\n",
/// );
/// let mut results = std::collections::HashMap::new();
/// for line in BatchOutputReader::new(file.as_bytes()) {
///     let (custom_id, result) = line?.into_pair();
///     results.insert(custom_id, result);
/// }
/// assert!(results["a"].is_ok());
/// assert_eq!(results["b"].as_ref().unwrap_err().code.as_deref(), Some("20015"));
/// # Ok::<(), siliconflow::BatchOutputError>(())
/// ```
#[derive(Debug)]
pub struct BatchOutputReader<R: BufRead> {
    reader: R,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl<R: BufRead> BatchOutputReader<R> {
    /// Reads result lines from `reader` (a file, a downloaded body, …).
    pub fn new(reader: R) -> Self {
        BatchOutputReader {
            reader,
            line: 0,
            buffer: Vec::new(),
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for BatchOutputReader<R> {
    type Item = Result<BatchOutputLine, BatchOutputError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buffer.clear();
            self.line += 1;
            let limit = MAX_OUTPUT_LINE as u64 + 1;
            let read = match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buffer)
            {
                Ok(read) => read,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            };
            if read == 0 {
                self.done = true;
                return None;
            }
            if self.buffer.len() > MAX_OUTPUT_LINE {
                self.done = true;
                return Some(Err(BatchOutputError::LineTooLong { line: self.line }));
            }
            if self.buffer.len() > OWNED_LINE {
                let text = line_text(std::mem::take(&mut self.buffer));
                if text.trim().is_empty() {
                    continue;
                }
                let line = self.line;
                return Some(
                    parse_owned_output_line(text)
                        .map_err(|source| BatchOutputError::Line { line, source }),
                );
            }
            let text = String::from_utf8_lossy(&self.buffer);
            if text.trim().is_empty() {
                continue;
            }
            let line = self.line;
            return Some(
                parse_output_line(text.trim())
                    .map_err(|source| BatchOutputError::Line { line, source }),
            );
        }
        None
    }
}

/// A line's bytes as text, without a copy when they are UTF-8 (a lossy copy, the bytes dropped,
/// otherwise).
pub(crate) fn line_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests;
