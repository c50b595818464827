//! [`BatchResults`]: a batch's output and error files read line by line as they arrive, each line as
//! `(custom_id, Result<ChatCompletion, ApiError>)`.

use std::collections::VecDeque;
use std::io::{BufRead, Read};

use super::output::{line_text, parse_output_line, parse_owned_output_line, OWNED_LINE};
use crate::body::{read_error, ResponseBody};
use crate::chat::response::ChatCompletion;
use crate::client::{Client, WithResponse};
use crate::error::{ApiError, Error, MAX_SNIPPET};
use crate::files::FileRef;
use crate::meta::{Headers, ResponseMeta};
use crate::redact::cut;

/// One result of a batch: the request's `custom_id`, and its completion or the error it got.
pub type BatchResult = (String, Result<ChatCompletion, ApiError>);

/// The results of a batch ([`BatchJob::results`](crate::BatchJob::results)): the output file, then the
/// error file, read line by line on the caller's thread as they arrive, never whole.
///
/// Each item is `Ok((custom_id, Ok(completion)))` for a request that ran, `Ok((custom_id, Err(api_error)))`
/// for one that failed (an error status in the output file, or a line of the error file: an
/// [`ApiError`] with the line's status, **0** when it has none, as for `batch_expired`), or `Err` when
/// reading failed: the file could not be fetched ([`Error::Api`], a timeout), a line is not JSON
/// ([`Error::MalformedChunk`] with the line number as its `event`), or a line is longer than
/// `max_event_size` ([`Error::EventTooLarge`]). After an `Err` the iterator ends.
///
/// A completion carries the line's status and `request_id` as its
/// [`response`](crate::ChatCompletion::response) metadata. Each file is fetched when the iterator first
/// needs it ([`Client::file_content`] says how); each line must arrive within the event timeout, and
/// the idle timeout and deadline apply as to any body.
#[derive(Debug)]
pub struct BatchResults {
    client: Client,
    files: VecDeque<FileRef>,
    body: Option<ResponseBody>,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl BatchResults {
    pub(crate) fn new(client: Client, files: VecDeque<FileRef>) -> Self {
        BatchResults {
            client,
            files,
            body: None,
            line: 0,
            buffer: Vec::new(),
            done: false,
        }
    }

    /// The next non-blank line's result, `None` at the end of the last file.
    fn next_result(&mut self) -> Result<Option<BatchResult>, Error> {
        loop {
            let Some(body) = self.body.as_mut() else {
                let Some(file) = self.files.pop_front() else {
                    return Ok(None);
                };
                self.body = Some(self.client.open_file(&file)?.body);
                self.line = 0;
                continue;
            };
            let limit = self.client.limits().max_event_size;
            self.buffer.clear();
            let read = (&mut *body)
                .take(limit as u64 + 1)
                .read_until(b'\n', &mut self.buffer)
                .map_err(read_error)?;
            if read == 0 {
                self.body = None;
                continue;
            }
            if self.buffer.len() > limit {
                return Err(Error::EventTooLarge { limit });
            }
            body.event_arrived();
            self.line += 1;
            // The line as text (no copy when it is UTF-8), the key scrubbed out of all of it before
            // anything is parsed or cut: the request id, a failed request's body, an error line.
            let mut text = line_text(std::mem::take(&mut self.buffer));
            if text.trim().is_empty() {
                self.buffer = text.into_bytes();
                continue;
            }
            self.client.redactor().scrub(&mut text);
            let line = self.line;
            let malformed = |source: serde_json::Error, data: String| Error::MalformedChunk {
                event: line,
                data,
                source: source.into(),
            };
            let parsed = if text.len() > OWNED_LINE {
                // A long line is given away, so that it is dropped before its completion is read;
                // what an error would quote is kept first.
                let quoted = cut(text.trim(), MAX_SNIPPET);
                parse_owned_output_line(text).map_err(|source| malformed(source, quoted))
            } else {
                let parsed = parse_output_line(text.trim())
                    .map_err(|source| malformed(source, cut(text.trim(), MAX_SNIPPET)));
                // The buffer back for the next line, its capacity kept as `read_until` would.
                self.buffer = text.into_bytes();
                parsed
            };
            let parsed = parsed?;
            let result = match parsed.result {
                Ok(mut completion) => {
                    let headers = parsed
                        .request_id
                        .as_deref()
                        .map(|id| vec![("x-request-id", id)])
                        .unwrap_or_default();
                    let status = parsed.status_code.unwrap_or(0);
                    completion
                        .set_response(ResponseMeta::new(status, Headers::from_pairs(headers)));
                    Ok(completion)
                }
                Err(error) => match self.client.redact(Error::Api(Box::new(error))) {
                    Error::Api(error) => Err(*error),
                    other => return Err(other),
                },
            };
            return Ok(Some((parsed.custom_id, result)));
        }
    }
}

impl Iterator for BatchResults {
    type Item = Result<BatchResult, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_result() {
            Ok(Some(result)) => Some(Ok(result)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                self.body = None;
                Some(Err(self.client.redact(error)))
            }
        }
    }
}
