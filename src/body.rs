//! [`ResponseBody`]: the HTTP response body as a [`BufRead`], with ureq's errors mapped to plain I/O kinds.
//!
//! This is the one place that knows how ureq reports failures while a body is read: its per-read timeout
//! arrives as a generic I/O error wrapping `ureq::Error::Timeout`, which becomes
//! [`io::ErrorKind::TimedOut`] here so the layers above see the same thing for any reader. It also enforces
//! the request's overall deadline, checked before every read from the connection (never per event).

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::time::Instant;

use crate::error::DeadlineExceeded;

/// The size of the buffer between the connection and the event decoder.
const BUFFER: usize = 16 * 1024;

/// The body of a streaming response, read on the caller's thread.
///
/// Dropping it before the end closes the connection instead of returning it half-read to the pool.
pub struct ResponseBody {
    inner: BufReader<Guarded>,
}

/// The connection's reader with the deadline check and the error mapping.
struct Guarded {
    reader: ureq::BodyReader<'static>,
    deadline: Option<Instant>,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("deadline", &self.inner.get_ref().deadline)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub(crate) fn new(reader: ureq::BodyReader<'static>, deadline: Option<Instant>) -> Self {
        ResponseBody {
            inner: BufReader::with_capacity(BUFFER, Guarded { reader, deadline }),
        }
    }
}

/// Unwraps ureq's errors into I/O errors whose kind says what happened; a timeout after the deadline is
/// the deadline's.
pub(crate) fn map_io_error(error: io::Error, deadline: Option<Instant>) -> io::Error {
    let wraps_ureq = error
        .get_ref()
        .is_some_and(|inner| inner.is::<ureq::Error>());
    let error = if wraps_ureq {
        match ureq::Error::from(error) {
            ureq::Error::Timeout(which) => {
                io::Error::new(io::ErrorKind::TimedOut, format!("timeout: {which}"))
            }
            ureq::Error::Io(inner) => inner,
            other => io::Error::other(other),
        }
    } else {
        error
    };
    let late = deadline.is_some_and(|d| Instant::now() >= d);
    if late
        && matches!(
            error.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    {
        return DeadlineExceeded::io();
    }
    error
}

impl Read for Guarded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(DeadlineExceeded::io());
        }
        self.reader
            .read(buf)
            .map_err(|e| map_io_error(e, self.deadline))
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
