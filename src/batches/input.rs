//! The batch input file: one JSON request per line,
//! `{"custom_id":"…","method":"POST","url":"/v1/chat/completions","body":{…}}`.
//!
//! [`BatchInputWriter`] (and [`write_batch_input`] for a whole iterator) writes those lines into any
//! [`Write`] and checks, before anything is uploaded, what the guide documents:
//! - every `custom_id` is non-empty and unique within the file;
//! - at most [`MAX_BATCH_LINES`] lines (5 000) and [`MAX_BATCH_FILE_BYTES`] bytes (1 GB, read as 10⁹
//!   bytes, the stricter reading);
//! - every body has `messages`, with only `system`, `user` and `assistant` roles, ending with a `user`
//!   message (switch this off with [`BatchInputWriter::check_messages`] for servers that allow more).
//!
//! A line that fails a check is not written; the lines before it are. After an error, discard the
//! output: do not upload a partial file.
//!
//! The guide also asks for one `model` on every line unless the batch sets `replace.model`; that is not
//! checked (see [`BatchRequest::replace_model`](crate::BatchRequest::replace_model)).

use std::collections::HashSet;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::batches::request::BATCH_ENDPOINT;
use crate::chat::request::{ChatRequest, Role};

/// The most lines (requests) one batch input file may hold.
pub const MAX_BATCH_LINES: usize = 5_000;

/// The largest batch input file, in bytes: the guide's "1 GB", read as 10⁹ bytes (the stricter
/// reading).
pub const MAX_BATCH_FILE_BYTES: u64 = 1_000_000_000;

/// One line of a batch input file.
///
/// ```
/// use siliconflow::{BatchInputLine, ChatRequest, Message};
///
/// let line = BatchInputLine::new("request-1", ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user("Hi")]));
/// assert_eq!(
///     serde_json::to_string(&line).unwrap(),
///     r#"{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-ai/DeepSeek-V3","messages":[{"role":"user","content":"Hi"}]}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchInputLine {
    /// Your id for the request, unique within the file; results are matched by it.
    pub custom_id: String,
    /// `"POST"`.
    pub method: String,
    /// `"/v1/chat/completions"`.
    pub url: String,
    /// The chat request.
    pub body: ChatRequest,
}

impl BatchInputLine {
    /// A `POST /v1/chat/completions` line.
    pub fn new(custom_id: impl Into<String>, body: ChatRequest) -> Self {
        BatchInputLine {
            custom_id: custom_id.into(),
            method: "POST".to_string(),
            url: BATCH_ENDPOINT.to_string(),
            body,
        }
    }
}

/// The same line, borrowing the request (no clone per line).
#[derive(Serialize)]
struct LineRef<'a> {
    custom_id: &'a str,
    method: &'static str,
    url: &'static str,
    body: &'a ChatRequest,
}

/// Why a batch input file cannot be written (or must not be uploaded). `line` is 1-based.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchInputError {
    /// A line has an empty `custom_id`.
    #[error("line {line}: empty custom_id")]
    EmptyCustomId {
        /// The line.
        line: usize,
    },
    /// Two lines share a `custom_id`.
    #[error("line {line}: custom_id {custom_id:?} is already used by an earlier line")]
    DuplicateCustomId {
        /// The line.
        line: usize,
        /// The repeated id.
        custom_id: String,
    },
    /// More lines than a batch may hold.
    #[error("line {line}: a batch input file holds at most {max} lines")]
    TooManyLines {
        /// The line that does not fit.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// The file would grow past the size limit.
    #[error("line {line}: the file would grow to {bytes} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The line that does not fit.
        line: usize,
        /// The size the file would have with it.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// A request without messages.
    #[error("line {line} ({custom_id:?}): the request has no messages")]
    NoMessages {
        /// The line.
        line: usize,
        /// Its custom id.
        custom_id: String,
    },
    /// A message role batches do not accept (only `system`, `user`, `assistant`).
    #[error("line {line} ({custom_id:?}): role {role:?} is not allowed in a batch (system, user, assistant only)")]
    UnsupportedRole {
        /// The line.
        line: usize,
        /// Its custom id.
        custom_id: String,
        /// The role.
        role: String,
    },
    /// The last message is not a `user` message.
    #[error("line {line} ({custom_id:?}): the last message must be a user message")]
    LastMessageNotUser {
        /// The line.
        line: usize,
        /// Its custom id.
        custom_id: String,
    },
    /// No line was written.
    #[error("the batch input file has no lines")]
    Empty,
    /// A request could not be serialized.
    #[error("line {line}: cannot serialize the request: {source}")]
    Serialize {
        /// The line.
        line: usize,
        /// The failure.
        #[source]
        source: serde_json::Error,
    },
    /// Writing failed.
    #[error("writing the batch input file failed: {0}")]
    Io(#[from] io::Error),
}

/// What was written: how many lines and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatchInputSummary {
    /// Lines (requests) written.
    pub lines: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes a batch input file line by line, checking each line before it is written.
///
/// ```
/// use siliconflow::{BatchInputError, BatchInputWriter, ChatRequest, Message};
///
/// let request = ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user("Hi")]);
/// let mut writer = BatchInputWriter::new(Vec::new());
/// writer.push("a", &request)?;
/// assert!(matches!(writer.push("a", &request), Err(BatchInputError::DuplicateCustomId { line: 2, .. })));
/// let (file, summary) = writer.finish()?;
/// assert_eq!(summary.lines, 1);
/// assert_eq!(file.iter().filter(|&&b| b == b'\n').count(), 1);
/// # Ok::<(), BatchInputError>(())
/// ```
#[derive(Debug)]
pub struct BatchInputWriter<W: Write> {
    writer: W,
    custom_ids: HashSet<String>,
    summary: BatchInputSummary,
    check_messages: bool,
    max_lines: usize,
    max_bytes: u64,
    buffer: Vec<u8>,
}

impl<W: Write> BatchInputWriter<W> {
    /// A writer into `writer` (a file, a `Vec<u8>`, …), checking everything the guide documents.
    pub fn new(writer: W) -> Self {
        BatchInputWriter {
            writer,
            custom_ids: HashSet::new(),
            summary: BatchInputSummary::default(),
            check_messages: true,
            max_lines: MAX_BATCH_LINES,
            max_bytes: MAX_BATCH_FILE_BYTES,
            buffer: Vec::new(),
        }
    }

    /// Whether to check the messages' roles and that the last one is the user's (default on).
    #[must_use]
    pub fn check_messages(mut self, check: bool) -> Self {
        self.check_messages = check;
        self
    }

    /// Checks and writes one request. A line that fails a check is not written.
    pub fn push(&mut self, custom_id: &str, request: &ChatRequest) -> Result<(), BatchInputError> {
        let line = self.summary.lines + 1;
        if custom_id.is_empty() {
            return Err(BatchInputError::EmptyCustomId { line });
        }
        if self.custom_ids.contains(custom_id) {
            return Err(BatchInputError::DuplicateCustomId {
                line,
                custom_id: custom_id.to_string(),
            });
        }
        if self.summary.lines >= self.max_lines {
            return Err(BatchInputError::TooManyLines {
                line,
                max: self.max_lines,
            });
        }
        if self.check_messages {
            check_messages(line, custom_id, request)?;
        }
        self.buffer.clear();
        let entry = LineRef {
            custom_id,
            method: "POST",
            url: BATCH_ENDPOINT,
            body: request,
        };
        serde_json::to_writer(&mut self.buffer, &entry)
            .map_err(|source| BatchInputError::Serialize { line, source })?;
        self.buffer.push(b'\n');
        let bytes = self.summary.bytes.saturating_add(self.buffer.len() as u64);
        if bytes > self.max_bytes {
            return Err(BatchInputError::TooLarge {
                line,
                bytes,
                max: self.max_bytes,
            });
        }
        self.writer.write_all(&self.buffer)?;
        self.custom_ids.insert(custom_id.to_string());
        self.summary = BatchInputSummary { lines: line, bytes };
        Ok(())
    }

    /// What was written so far.
    pub fn summary(&self) -> BatchInputSummary {
        self.summary
    }

    /// Flushes and returns the writer with the summary; a file without lines is
    /// [`BatchInputError::Empty`].
    pub fn finish(mut self) -> Result<(W, BatchInputSummary), BatchInputError> {
        self.writer.flush()?;
        if self.summary.lines == 0 {
            return Err(BatchInputError::Empty);
        }
        Ok((self.writer, self.summary))
    }

    #[cfg(test)]
    fn with_limits(mut self, max_lines: usize, max_bytes: u64) -> Self {
        self.max_lines = max_lines;
        self.max_bytes = max_bytes;
        self
    }
}

fn check_messages(
    line: usize,
    custom_id: &str,
    request: &ChatRequest,
) -> Result<(), BatchInputError> {
    let custom_id = || custom_id.to_string();
    let Some(last) = request.messages.last() else {
        return Err(BatchInputError::NoMessages {
            line,
            custom_id: custom_id(),
        });
    };
    if let Some(message) = request
        .messages
        .iter()
        .find(|m| !matches!(m.role, Role::System | Role::User | Role::Assistant))
    {
        return Err(BatchInputError::UnsupportedRole {
            line,
            custom_id: custom_id(),
            role: message.role.as_str().to_string(),
        });
    }
    if last.role != Role::User {
        return Err(BatchInputError::LastMessageNotUser {
            line,
            custom_id: custom_id(),
        });
    }
    Ok(())
}

/// Writes every `(custom_id, request)` of `requests` as a batch input file into `writer`, with every
/// check of [`BatchInputWriter`]; returns what was written.
///
/// ```
/// use siliconflow::{write_batch_input, ChatRequest, Message};
///
/// let questions = ["What is 2 + 2?", "Name a prime."];
/// let requests = questions.iter().enumerate().map(|(i, q)| {
///     (format!("request-{i}"), ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user(*q)]))
/// });
/// let mut file = Vec::new();
/// let summary = write_batch_input(&mut file, requests)?;
/// assert_eq!((summary.lines, summary.bytes), (2, file.len() as u64));
/// # Ok::<(), siliconflow::BatchInputError>(())
/// ```
pub fn write_batch_input<W, I, S>(
    writer: W,
    requests: I,
) -> Result<BatchInputSummary, BatchInputError>
where
    W: Write,
    I: IntoIterator<Item = (S, ChatRequest)>,
    S: AsRef<str>,
{
    let mut out = BatchInputWriter::new(writer);
    for (custom_id, request) in requests {
        out.push(custom_id.as_ref(), &request)?;
    }
    out.finish().map(|(_, summary)| summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::request::Message;
    use serde_json::{json, Value};

    fn request(text: &str) -> ChatRequest {
        ChatRequest::new(
            "deepseek-ai/DeepSeek-V3",
            vec![Message::system("Be brief."), Message::user(text)],
        )
    }

    #[test]
    fn exact_lines() {
        let mut file = Vec::new();
        let summary = write_batch_input(
            &mut file,
            [
                ("request-1", request("Hi").max_tokens(100)),
                ("request-2", request("你好").temperature(0.5)),
            ],
        )
        .unwrap();
        let expected = concat!(
            r#"{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-ai/DeepSeek-V3","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":100}}"#,
            "\n",
            r#"{"custom_id":"request-2","method":"POST","url":"/v1/chat/completions","body":{"model":"deepseek-ai/DeepSeek-V3","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"你好"}],"temperature":0.5}}"#,
            "\n",
        );
        assert_eq!(String::from_utf8(file).unwrap(), expected);
        assert_eq!(
            summary,
            BatchInputSummary {
                lines: 2,
                bytes: expected.len() as u64
            }
        );
        // Each line reads back as a BatchInputLine.
        let back: BatchInputLine = serde_json::from_str(expected.lines().next().unwrap()).unwrap();
        assert_eq!(
            back,
            BatchInputLine::new("request-1", request("Hi").max_tokens(100))
        );
    }

    #[test]
    fn custom_ids_are_checked_before_writing() {
        let mut writer = BatchInputWriter::new(Vec::new());
        assert!(matches!(
            writer.push("", &request("a")),
            Err(BatchInputError::EmptyCustomId { line: 1 })
        ));
        writer.push("x", &request("a")).unwrap();
        let error = writer.push("x", &request("b")).unwrap_err();
        assert!(
            matches!(&error, BatchInputError::DuplicateCustomId { line: 2, custom_id } if custom_id == "x")
        );
        assert_eq!(
            error.to_string(),
            "line 2: custom_id \"x\" is already used by an earlier line"
        );
        writer.push("y", &request("b")).unwrap();
        let (file, summary) = writer.finish().unwrap();
        assert_eq!(summary.lines, 2);
        let ids: Vec<String> = String::from_utf8(file)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["custom_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["x", "y"], "the rejected line was not written");
    }

    #[test]
    fn line_and_size_limits() {
        let mut writer = BatchInputWriter::new(Vec::new()).with_limits(2, u64::MAX);
        writer.push("1", &request("a")).unwrap();
        writer.push("2", &request("a")).unwrap();
        assert!(matches!(
            writer.push("3", &request("a")),
            Err(BatchInputError::TooManyLines { line: 3, max: 2 })
        ));

        let one_line = {
            let mut file = Vec::new();
            write_batch_input(&mut file, [("1", request("a"))]).unwrap();
            file.len() as u64
        };
        let mut writer = BatchInputWriter::new(Vec::new()).with_limits(10, one_line * 2 - 1);
        writer.push("1", &request("a")).unwrap();
        let error = writer.push("2", &request("a")).unwrap_err();
        assert!(
            matches!(error, BatchInputError::TooLarge { line: 2, bytes, .. } if bytes == one_line * 2)
        );
        assert_eq!(
            writer.summary().bytes,
            one_line,
            "the line that did not fit was not written"
        );
        assert_eq!(
            (MAX_BATCH_LINES, MAX_BATCH_FILE_BYTES),
            (5_000, 1_000_000_000)
        );
    }

    #[test]
    fn messages_are_checked() {
        let mut writer = BatchInputWriter::new(Vec::new());
        let cases = [
            (ChatRequest::new("m", vec![]), "no messages"),
            (
                ChatRequest::new(
                    "m",
                    vec![
                        Message::user("a"),
                        Message::tool("c", "r"),
                        Message::user("b"),
                    ],
                ),
                "role \"tool\"",
            ),
            (
                ChatRequest::new("m", vec![Message::user("a"), Message::assistant("b")]),
                "last message must be a user",
            ),
        ];
        for (request, text) in cases {
            let error = writer.push("id", &request).unwrap_err();
            assert!(error.to_string().contains(text), "{error}");
        }
        assert_eq!(writer.summary().lines, 0);
        // Off, the same requests are written as given.
        let mut lenient = BatchInputWriter::new(Vec::new()).check_messages(false);
        lenient
            .push(
                "a",
                &ChatRequest::new(
                    "m",
                    vec![Message::user("a"), Message::assistant_prefix("b")],
                ),
            )
            .unwrap();
        let (file, _) = lenient.finish().unwrap();
        let line: Value = serde_json::from_slice(&file).unwrap();
        assert_eq!(
            line["body"]["messages"][1],
            json!({"role": "assistant", "content": "b", "prefix": true})
        );
    }

    #[test]
    fn empty_files_and_io_errors() {
        assert!(matches!(
            write_batch_input(Vec::new(), Vec::<(&str, ChatRequest)>::new()),
            Err(BatchInputError::Empty)
        ));
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let error = write_batch_input(Broken, [("a", request("x"))]).unwrap_err();
        assert!(matches!(error, BatchInputError::Io(_)));
        assert!(error.to_string().contains("disk full"));
    }
}
