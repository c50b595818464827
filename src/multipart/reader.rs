//! [`FormReader`]: the body of a [`Form`](super::Form), streamed segment by segment.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

/// One stretch of the body.
pub(crate) enum Segment {
    /// Delimiters, headers and text values, built when the reader was opened.
    Owned { bytes: Vec<u8>, pos: usize },
    /// A byte part, shared with the form.
    Shared { bytes: Arc<Vec<u8>>, pos: usize },
    /// A file part: opened when reached, read to exactly `len` bytes.
    Path {
        path: PathBuf,
        file: Option<File>,
        len: u64,
        read: u64,
    },
    /// A one-shot reader, of exactly `len` bytes when given.
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
        read: u64,
    },
}

impl Segment {
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        Segment::Owned { bytes, pos: 0 }
    }

    pub(crate) fn shared(bytes: Arc<Vec<u8>>) -> Self {
        Segment::Shared { bytes, pos: 0 }
    }

    pub(crate) fn path(path: PathBuf, len: u64) -> Self {
        Segment::Path {
            path,
            file: None,
            len,
            read: 0,
        }
    }

    pub(crate) fn reader(reader: Box<dyn Read + Send>, len: Option<u64>) -> Self {
        Segment::Reader {
            reader,
            len,
            read: 0,
        }
    }

    /// Reads from this segment; `Ok(0)` means it is exhausted (and, for a sized source, complete).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Segment::Owned { bytes, pos } => Ok(copy_from(bytes, pos, buf)),
            Segment::Shared { bytes, pos } => Ok(copy_from(bytes, pos, buf)),
            Segment::Path {
                path,
                file,
                len,
                read,
            } => {
                let file = match file {
                    Some(file) => file,
                    None => file.insert(File::open(&*path).map_err(|e| {
                        io::Error::new(e.kind(), format!("opening {}: {e}", path.display()))
                    })?),
                };
                read_sized(file, *len, read, buf, &path.display().to_string())
            }
            Segment::Reader { reader, len, read } => match len {
                Some(len) => read_sized(reader, *len, read, buf, "the reader part"),
                None => {
                    let n = reader.read(buf)?;
                    *read = read.saturating_add(n as u64);
                    Ok(n)
                }
            },
        }
    }
}

fn copy_from(bytes: &[u8], pos: &mut usize, buf: &mut [u8]) -> usize {
    let rest = bytes.get(*pos..).unwrap_or_default();
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    *pos += n;
    n
}

/// Reads at most the `len - read` bytes still due from `source`; at the end checks that the source is
/// exhausted too, so the body matches the `Content-Length` announced for it or the read fails.
fn read_sized(
    source: &mut dyn Read,
    len: u64,
    read: &mut u64,
    buf: &mut [u8],
    what: &str,
) -> io::Result<usize> {
    let due = len - (*read).min(len);
    if due == 0 {
        let mut probe = [0u8; 1];
        return match source.read(&mut probe)? {
            0 => Ok(0),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what} holds more than the {len} bytes announced for it"),
            )),
        };
    }
    let want = buf.len().min(usize::try_from(due).unwrap_or(usize::MAX));
    let n = source.read(&mut buf[..want])?;
    if n == 0 && want > 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{what} ended after {read} of the {len} bytes announced for it"),
        ));
    }
    *read += n as u64;
    Ok(n)
}

/// The body of a [`Form`](super::Form) as a [`Read`]: delimiters and headers from memory, byte parts from
/// the form's shared buffer, files and readers read as the body reaches them. `Send` and `'static`, so it
/// can be handed to an HTTP client as an owned body.
pub struct FormReader {
    segments: Vec<Segment>,
    current: usize,
}

impl fmt::Debug for FormReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormReader")
            .field("segments", &self.segments.len())
            .field("current", &self.current)
            .finish()
    }
}

impl FormReader {
    pub(crate) fn new(segments: Vec<Segment>) -> Self {
        FormReader {
            segments,
            current: 0,
        }
    }
}

impl Read for FormReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(segment) = self.segments.get_mut(self.current) {
            let n = segment.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // Done with it: drop its buffer or close its file now rather than at the end of the body.
            self.segments[self.current] = Segment::owned(Vec::new());
            self.current += 1;
        }
        Ok(0)
    }
}
