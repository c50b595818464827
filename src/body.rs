//! [`ResponseBody`]: the HTTP response body as a [`BufRead`], every read under the request's limits.
//!
//! Each read runs inside the request's [`Limits`](crate::net::scope::Limits) (deadline, idle timeout,
//! event timeout, cancellation), which the socket transport applies to the actual `read(2)`. A read that one
//! of them stops fails with an [`io::Error`] that names the limit (see [`stop_of`]); ureq's own failures
//! are unwrapped to plain I/O errors, so the layers above see the same kinds for any reader.
//!
//! The event timeout: the body's "unit" (one event of a stream, or the whole of a non-streamed body) must
//! arrive within it, however many bytes trickle in meanwhile. The chat stream reports each event
//! ([`ResponseBody::event_arrived`]); the clock restarts at the next read.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::net::scope::{self, Limits, Stop};

/// The size of the buffer between the connection and the event decoder.
const BUFFER: usize = 16 * 1024;

/// The most bytes read after a stream's `[DONE]` to reach the end of the body, so the connection can go
/// back to the pool.
const MAX_DRAIN: usize = 64 * 1024;

/// The most socket reads after a stream's `[DONE]` (trailers that never end are not waited out).
const MAX_POLL_READS: u32 = 16;

/// The body of a response, read on the caller's thread.
///
/// Dropping it before the end closes the connection instead of returning it half-read to the pool.
pub struct ResponseBody {
    inner: BufReader<Guarded>,
}

/// The connection's reader under the request's limits.
struct Guarded {
    reader: ureq::BodyReader<'static>,
    limits: Limits,
    /// The event timeout, and whether an event arrived since the last read (its clock restarts).
    unit: Option<Duration>,
    progress: bool,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guarded = self.inner.get_ref();
        f.debug_struct("ResponseBody")
            .field("deadline", &guarded.limits.deadline)
            .field("idle_timeout", &guarded.limits.read_idle)
            .field("event_timeout", &guarded.unit)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    /// A body read under `limits`, with `unit` as the event timeout (its clock starts now).
    pub(crate) fn new(
        reader: ureq::BodyReader<'static>,
        mut limits: Limits,
        unit: Option<Duration>,
    ) -> Self {
        limits.unit = unit.and_then(|u| Instant::now().checked_add(u));
        ResponseBody {
            inner: BufReader::with_capacity(
                BUFFER,
                Guarded {
                    reader,
                    limits,
                    unit,
                    progress: false,
                },
            ),
        }
    }

    /// A stream's event arrived: the event timeout's clock restarts at the next read.
    pub(crate) fn event_arrived(&mut self) {
        self.inner.get_mut().progress = true;
    }

    /// After a stream's `[DONE]`: reads what has already arrived of the rest of the body (normally only the
    /// end of the chunked framing) without waiting for anything. When the end was there, the connection
    /// goes back to the pool; when it was not, dropping the body closes the connection. Never blocks.
    pub(crate) fn finish_if_ready(&mut self) {
        let limits = &mut self.inner.get_mut().limits;
        limits.poll = true;
        // Normally one read takes the end of the body; a server still sending gets a few, no more.
        limits.poll_reads.set(MAX_POLL_READS);
        let mut drained = 0;
        while drained < MAX_DRAIN {
            let len = match self.inner.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(buf) => buf.len(),
            };
            self.inner.consume(len);
            drained += len;
        }
        self.inner.get_mut().limits.poll = false;
    }

    /// Reads the whole body, failing with [`Error::EventTooLarge`] past `limit` bytes.
    pub(crate) fn read_bounded(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        self.take((limit as u64).saturating_add(1))
            .read_to_end(&mut body)
            .map_err(read_error)?;
        if body.len() > limit {
            return Err(Error::EventTooLarge { limit });
        }
        Ok(body)
    }

    /// Reads at most `limit` bytes; a failure after some bytes keeps them (an error body's prefix is still
    /// worth showing), except a cancel or the deadline, which are the caller's to see.
    pub(crate) fn read_prefix(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        match self.take(limit as u64).read_to_end(&mut body) {
            Ok(_) => Ok(body),
            Err(e) => match stop_of(&e) {
                Some(Stop::Cancelled | Stop::Timeout(crate::TimeoutKind::Deadline)) => {
                    Err(read_error(e))
                }
                _ => Ok(body),
            },
        }
    }

    /// Copies the body into `out` as it arrives, returning the number of bytes.
    pub(crate) fn copy_to(&mut self, out: &mut dyn Write) -> Result<u64, Error> {
        let mut total = 0u64;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok([]) => return Ok(total),
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            out.write_all(buf).map_err(|e| Error::Write { source: e })?;
            let len = buf.len();
            self.inner.consume(len);
            total += len as u64;
        }
    }
}

/// The limit a failed read stands for, if one of the request's limits stopped it.
pub(crate) fn stop_of(error: &io::Error) -> Option<Stop> {
    scope::stop_of(error)
}

/// The error for a failed read of a non-streamed body. The response had begun: a body that breaks off is
/// a cut answer (never retried: the work may be done and billed), not a transport failure.
pub(crate) fn read_error(error: io::Error) -> Error {
    match stop_of(&error) {
        Some(Stop::Timeout(kind)) => Error::Timeout(kind),
        Some(Stop::Cancelled) => Error::Cancelled,
        _ => Error::StreamCut {
            received: 0,
            reason: format!("the body broke off: {error}"),
            source: Some(error),
        },
    }
}

/// Unwraps ureq's errors into I/O errors whose kind says what happened.
fn unwrap_ureq(error: io::Error) -> io::Error {
    let wraps_ureq = error
        .get_ref()
        .is_some_and(|inner| inner.is::<ureq::Error>());
    if !wraps_ureq {
        return error;
    }
    match ureq::Error::from(error) {
        // ureq's own timeouts do not cover bodies here; if one fires, it is a read that waited too long.
        ureq::Error::Timeout(_) => scope::io_error(Stop::Timeout(crate::TimeoutKind::Idle)),
        ureq::Error::Io(inner) => inner,
        other => io::Error::other(other),
    }
}

impl Read for Guarded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress {
            self.progress = false;
            self.limits.unit = self.unit.and_then(|u| Instant::now().checked_add(u));
        }
        let reader = &mut self.reader;
        let (result, stop) = scope::scoped(&mut self.limits, || reader.read(buf));
        result.map_err(|e| match stop {
            Some(stop) => scope::io_error(stop),
            None => unwrap_ureq(e),
        })
    }
}

impl Read for ResponseBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for ResponseBody {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }
}
