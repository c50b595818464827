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

use serde::de::Error as _;
use serde_json::{Map, Value};

use crate::chat::response::ChatCompletion;
use crate::error::ApiError;
use crate::serde_util::{scalar_text, value_as_u64};

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
    let Value::Object(mut map) = serde_json::from_str::<Value>(line)? else {
        return Err(serde_json::Error::custom(
            "a batch output line must be a JSON object",
        ));
    };
    let id = map.get("id").and_then(scalar_text);
    let custom_id = map
        .get("custom_id")
        .and_then(scalar_text)
        .unwrap_or_default();
    let response = match map.remove("response") {
        Some(Value::Object(response)) => Some(response),
        _ => None,
    };
    let status_code = response
        .as_ref()
        .and_then(|r| r.get("status_code").or_else(|| r.get("status")))
        .and_then(value_as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let request_id = response
        .as_ref()
        .and_then(|r| r.get("request_id"))
        .and_then(scalar_text)
        .filter(|s| !s.is_empty());
    let with_request_id = |mut error: ApiError| {
        error.request_id = request_id.clone();
        error
    };

    let result = match (map.remove("error").filter(|e| !e.is_null()), response) {
        (Some(error), _) => Err(with_request_id(line_error(status_code, error))),
        (None, Some(response)) => match response_result(status_code, response)? {
            Ok(completion) => Ok(completion),
            Err(error) => Err(with_request_id(error)),
        },
        (None, None) => {
            let mut error = ApiError::parse(status_code.unwrap_or(0), line.as_bytes());
            error.message = "the batch output line has neither a response nor an error".to_string();
            Err(error)
        }
    };
    Ok(BatchOutputLine {
        id,
        custom_id,
        status_code,
        request_id,
        result,
    })
}

/// The line-level `error` (`{"code","message"}` or a string) as an [`ApiError`].
fn line_error(status: Option<u16>, error: Value) -> ApiError {
    let mut wrapper = Map::new();
    wrapper.insert("error".to_string(), error);
    let body = Value::Object(wrapper).to_string();
    ApiError::parse(status.unwrap_or(0), body.as_bytes())
}

/// The completion in a `response`, or the error it reports.
fn response_result(
    status: Option<u16>,
    mut response: Map<String, Value>,
) -> Result<Result<ChatCompletion, ApiError>, serde_json::Error> {
    let body = match response.remove("body") {
        // JSON sent as text: read what it holds.
        Some(Value::String(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Some(body) => body,
        // No body: the response may be the completion itself.
        None if response.contains_key("choices") => Value::Object(response),
        None => Value::Null,
    };
    if body.is_null() {
        let mut error = ApiError::parse(status.unwrap_or(0), b"");
        error.message = "the batch output line's response has no body".to_string();
        return Ok(Err(error));
    }
    let failed_status = status.filter(|s| !(200..300).contains(s));
    let error_payload = match &body {
        Value::Object(map) => {
            let non_null = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
            crate::json::TopLevel {
                error: non_null("error"),
                code: non_null("code"),
                message: non_null("message"),
                choices: map.contains_key("choices"),
            }
            .is_error(true)
        }
        _ => true,
    };
    if failed_status.is_some() || error_payload {
        let text = match &body {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        return Ok(Err(ApiError::parse(status.unwrap_or(0), text.as_bytes())));
    }
    serde_json::from_value(body).map(Ok)
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

#[cfg(test)]
mod tests;
