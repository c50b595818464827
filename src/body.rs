//! [`ResponseBody`]: the HTTP response body as a [`BufRead`], with ureq's errors mapped to plain I/O kinds.
//!
//! This is the one place that knows how ureq reports failures while a body is read: its per-read timeout
//! arrives as a generic I/O error wrapping `ureq::Error::Timeout`, which becomes
//! [`io::ErrorKind::TimedOut`] here so the layers above see the same thing for any reader.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// The body of a streaming response, read on the caller's thread.
///
/// Dropping it before the end closes the connection instead of returning it half-read to the pool.
pub struct ResponseBody {
    inner: BufReader<ureq::BodyReader<'static>>,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub(crate) fn new(reader: ureq::BodyReader<'static>) -> Self {
        ResponseBody {
            inner: BufReader::with_capacity(16 * 1024, reader),
        }
    }
}

/// Unwraps ureq's errors into I/O errors whose kind says what happened.
pub(crate) fn map_io_error(error: io::Error) -> io::Error {
    let wraps_ureq = error
        .get_ref()
        .is_some_and(|inner| inner.is::<ureq::Error>());
    if !wraps_ureq {
        return error;
    }
    match ureq::Error::from(error) {
        ureq::Error::Timeout(which) => {
            io::Error::new(io::ErrorKind::TimedOut, format!("timeout: {which}"))
        }
        ureq::Error::Io(inner) => inner,
        other => io::Error::other(other),
    }
}

impl Read for ResponseBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(map_io_error)
    }
}

impl BufRead for ResponseBody {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf().map_err(map_io_error)
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }
}
