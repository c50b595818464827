//! A small streaming `multipart/form-data` encoder (RFC 7578) for the upload endpoints
//! (`POST /audio/transcriptions`, `POST /uploads/audio/voice`, `POST /files`).
//!
//! A [`Form`] is a list of text fields and [`FilePart`]s. [`Form::content_type`] gives the
//! `Content-Type` header with the boundary, [`Form::content_length`] the exact body size when every part's
//! size is known, and [`Form::reader`] a [`FormReader`] that streams the body part by part: file contents
//! are read while the body is sent, never buffered whole. A form whose parts are all replayable (text,
//! bytes, files by path) can be read again from the start for a retry; a form with a one-shot reader says
//! so with [`Form::is_replayable`] and refuses a second [`Form::reader`].
//!
//! Field names and file names are escaped as browsers do (WHATWG): `"` becomes `%22`, CR `%0D`, LF `%0A`,
//! so no name can end the header line or smuggle a header. A content type with a control character is
//! rejected. The boundary is random and re-drawn until it occurs in no name, text value or byte part;
//! file contents from a path or a reader are not scanned (at 128 random bits a collision is not a
//! practical concern).
//!
//! ```
//! use std::io::Read;
//! use siliconflow::multipart::{FilePart, Form};
//!
//! let mut form = Form::new()
//!     .text("model", "FunAudioLLM/SenseVoiceSmall")
//!     .file("file", FilePart::bytes(b"ID3...".to_vec()).file_name("audio.mp3").content_type("audio/mpeg"));
//! assert!(form.content_type().starts_with("multipart/form-data; boundary="));
//! let mut body = Vec::new();
//! form.reader()?.read_to_end(&mut body)?;
//! assert_eq!(form.content_length(), Some(body.len() as u64));
//! assert!(form.is_replayable());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod reader;

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use reader::FormReader;
use reader::Segment;

/// The content type of a file part when none is given.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// What can go wrong while building or opening a form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MultipartError {
    /// A file part's content type contains a control character (CR, LF, …) and cannot be sent as a
    /// header.
    #[error("invalid content type {0:?} for a multipart file part")]
    InvalidContentType(String),
    /// The form has a one-shot reader part that an earlier [`Form::reader`] already took.
    #[error("the multipart form's reader part {0:?} was already consumed; the form cannot be sent again")]
    ReaderConsumed(String),
    /// A file could not be inspected.
    #[error("cannot use {path:?} as a multipart file part: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
}

/// Where a file part's bytes come from.
pub(crate) enum Source {
    /// Bytes in memory, shared with every reader opened on the form.
    Bytes(Arc<Vec<u8>>),
    /// A file, opened when the body reaches it; its size was read when the part was made.
    Path { path: PathBuf, len: u64 },
    /// A one-shot reader, taken by the first [`Form::reader`]; its length, if the caller gave it.
    Reader {
        reader: Option<Box<dyn Read + Send>>,
        len: Option<u64>,
    },
}

/// A file in a form: its bytes (from memory, a path or a reader), its file name and its content type.
///
/// ```
/// use siliconflow::multipart::FilePart;
///
/// let part = FilePart::bytes(vec![1, 2, 3]).file_name("a.wav").content_type("audio/wav");
/// assert_eq!((part.len(), part.is_replayable()), (Some(3), true));
/// let one_shot = FilePart::reader(std::io::empty());
/// assert_eq!((one_shot.len(), one_shot.is_replayable()), (None, false));
/// ```
pub struct FilePart {
    pub(crate) source: Source,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
}

impl fmt::Debug for FilePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Source::Path { path, len } => format!("{} ({len} bytes)", path.display()),
            Source::Reader { reader, len } => format!(
                "reader ({}, {})",
                len.map_or("size unknown".to_string(), |n| format!("{n} bytes")),
                if reader.is_some() {
                    "unread"
                } else {
                    "consumed"
                }
            ),
        };
        f.debug_struct("FilePart")
            .field("source", &source)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl FilePart {
    /// A file from bytes in memory, named `file`, of type `application/octet-stream` until set.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        FilePart::with_source(Source::Bytes(Arc::new(bytes.into())), "file")
    }

    /// A file on disk, read while the body is sent. Its size is read now (for `Content-Length`), and its
    /// file name becomes the part's file name until set.
    ///
    /// If the file's size changes before the body is sent, reading the body fails rather than sending a
    /// body of the wrong length.
    pub fn path(path: impl AsRef<Path>) -> Result<Self, MultipartError> {
        let path = path.as_ref();
        let error = |source| MultipartError::File {
            path: path.to_path_buf(),
            source,
        };
        let metadata = fs::metadata(path).map_err(error)?;
        if !metadata.is_file() {
            return Err(error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        Ok(FilePart::with_source(
            Source::Path {
                path: path.to_path_buf(),
                len: metadata.len(),
            },
            name,
        ))
    }

    /// A file read once from any reader, of unknown size: the form has no `Content-Length` and cannot be
    /// sent twice (no retry).
    ///
    /// The reader is read on the caller's thread as the form is sent. A `read` of it that blocks (a pipe
    /// whose writer went quiet) is outside every bound the client sets: the deadline, the timeouts and a
    /// [`CancelHandle`](crate::CancelHandle) take effect as soon as it returns, not while it blocks.
    pub fn reader(reader: impl Read + Send + 'static) -> Self {
        FilePart::with_source(
            Source::Reader {
                reader: Some(Box::new(reader)),
                len: None,
            },
            "file",
        )
    }

    /// A file read once from a reader that yields exactly `len` bytes: the form has a `Content-Length`,
    /// and reading the body fails if the reader yields fewer or more. Its reads are bounded as for
    /// [`reader`](Self::reader): by the reader itself.
    pub fn reader_with_len(reader: impl Read + Send + 'static, len: u64) -> Self {
        FilePart::with_source(
            Source::Reader {
                reader: Some(Box::new(reader)),
                len: Some(len),
            },
            "file",
        )
    }

    fn with_source(source: Source, file_name: impl Into<String>) -> Self {
        FilePart {
            source,
            file_name: file_name.into(),
            content_type: DEFAULT_CONTENT_TYPE.to_string(),
        }
    }

    /// Sets the file name sent with the part (`filename="…"`).
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// Sets the part's content type (`audio/mpeg`, `application/jsonl`, …).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The size of the file's content, when known.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<u64> {
        match &self.source {
            Source::Bytes(bytes) => Some(bytes.len() as u64),
            Source::Path { len, .. } => Some(*len),
            Source::Reader { len, .. } => *len,
        }
    }

    /// Whether the part can be read more than once (bytes and paths can, a reader cannot).
    pub fn is_replayable(&self) -> bool {
        !matches!(self.source, Source::Reader { .. })
    }
}

enum PartBody {
    Text(String),
    File(FilePart),
}

struct Part {
    name: String,
    body: PartBody,
}

/// A `multipart/form-data` body: text fields and files, in order.
///
/// See the [module docs](self) for an example.
///
/// ```
/// use siliconflow::multipart::{FilePart, Form};
///
/// let form = Form::new().text("purpose", "batch").file("file", FilePart::reader(std::io::empty()));
/// assert_eq!(form.content_length(), None, "a reader of unknown size: no Content-Length");
/// assert!(!form.is_replayable(), "and no retry");
/// ```
pub struct Form {
    boundary: String,
    parts: Vec<Part>,
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for part in &self.parts {
            match &part.body {
                PartBody::Text(value) => list.entry(&(&part.name, value)),
                PartBody::File(file) => list.entry(&(&part.name, file)),
            };
        }
        list.finish()
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Self {
        Form {
            boundary: new_boundary(),
            parts: Vec::new(),
        }
    }

    /// Adds a text field.
    #[must_use]
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.push(Part {
            name: name.into(),
            body: PartBody::Text(value.into()),
        });
        self.keep_boundary_unique();
        self
    }

    /// Adds a file field.
    #[must_use]
    pub fn file(mut self, name: impl Into<String>, file: FilePart) -> Self {
        self.parts.push(Part {
            name: name.into(),
            body: PartBody::File(file),
        });
        self.keep_boundary_unique();
        self
    }

    /// The boundary between parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The `Content-Type` header value: `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact size of the body in bytes, when every part's size is known (text, bytes, paths, readers
    /// given a length); `None` when a reader of unknown size makes the body's size unknown.
    pub fn content_length(&self) -> Option<u64> {
        let mut total = closing(&self.boundary).len() as u64;
        for part in &self.parts {
            let body = match &part.body {
                PartBody::Text(value) => value.len() as u64,
                PartBody::File(file) => file.len()?,
            };
            total = total
                .checked_add(self.header(part).len() as u64)?
                .checked_add(body)?
                .checked_add(2)?;
        }
        Some(total)
    }

    /// Whether [`Form::reader`] can be called again to send the body from the start (for a retry):
    /// `false` when a part is a one-shot reader.
    pub fn is_replayable(&self) -> bool {
        self.parts.iter().all(|part| match &part.body {
            PartBody::Text(_) => true,
            PartBody::File(file) => file.is_replayable(),
        })
    }

    /// A reader of the whole body, from the start. Files are opened and read as the reader reaches them.
    ///
    /// A one-shot reader part is moved into the returned reader: a second call then fails with
    /// [`MultipartError::ReaderConsumed`].
    pub fn reader(&mut self) -> Result<FormReader, MultipartError> {
        for part in &self.parts {
            if let PartBody::File(file) = &part.body {
                if file.content_type.chars().any(char::is_control) {
                    return Err(MultipartError::InvalidContentType(
                        file.content_type.clone(),
                    ));
                }
                if let Source::Reader { reader: None, .. } = &file.source {
                    return Err(MultipartError::ReaderConsumed(part.name.clone()));
                }
            }
        }
        let mut segments = Vec::with_capacity(self.parts.len() * 2 + 1);
        for index in 0..self.parts.len() {
            let mut head = self.header(&self.parts[index]).into_bytes();
            match &mut self.parts[index].body {
                PartBody::Text(value) => {
                    head.extend_from_slice(value.as_bytes());
                    head.extend_from_slice(b"\r\n");
                    segments.push(Segment::owned(head));
                }
                PartBody::File(file) => {
                    segments.push(Segment::owned(head));
                    segments.push(match &mut file.source {
                        Source::Bytes(bytes) => Segment::shared(Arc::clone(bytes)),
                        Source::Path { path, len } => Segment::path(path.clone(), *len),
                        Source::Reader { reader, len } => match reader.take() {
                            Some(reader) => Segment::reader(reader, *len),
                            // Checked above: every reader part still has its reader.
                            None => return Err(MultipartError::ReaderConsumed(String::new())),
                        },
                    });
                    segments.push(Segment::owned(b"\r\n".to_vec()));
                }
            }
        }
        segments.push(Segment::owned(closing(&self.boundary).into_bytes()));
        Ok(FormReader::new(segments))
    }

    /// The delimiter line and headers of a part, up to and including the blank line.
    fn header(&self, part: &Part) -> String {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
            self.boundary,
            escape(&part.name)
        );
        if let PartBody::File(file) = &part.body {
            head.push_str("; filename=\"");
            head.push_str(&escape(&file.file_name));
            head.push_str("\"\r\nContent-Type: ");
            head.push_str(&file.content_type);
        }
        head.push_str("\r\n\r\n");
        head
    }

    /// Draws new boundaries until none occurs in a name, a text value or a byte part.
    fn keep_boundary_unique(&mut self) {
        // Checking the newest part against the current boundary is enough until a collision; then every
        // part is checked against each new boundary. Each draw has 128 random bits, so this ends.
        let collides = |parts: &[Part], boundary: &str| parts.iter().any(|p| contains(p, boundary));
        let newest = self.parts.len().saturating_sub(1);
        if !collides(&self.parts[newest..], &self.boundary) {
            return;
        }
        loop {
            self.boundary = new_boundary();
            if !collides(&self.parts, &self.boundary) {
                return;
            }
        }
    }

    #[cfg(test)]
    fn with_boundary(mut self, boundary: &str) -> Self {
        self.boundary = boundary.to_string();
        self
    }
}

/// Whether `boundary` occurs anywhere in the part's scannable text.
fn contains(part: &Part, boundary: &str) -> bool {
    let found = |haystack: &[u8]| memchr::memmem::find(haystack, boundary.as_bytes()).is_some();
    found(part.name.as_bytes())
        || match &part.body {
            PartBody::Text(value) => found(value.as_bytes()),
            PartBody::File(file) => {
                found(file.file_name.as_bytes())
                    || found(file.content_type.as_bytes())
                    || matches!(&file.source, Source::Bytes(bytes) if found(bytes))
            }
        }
}

/// The closing delimiter.
fn closing(boundary: &str) -> String {
    format!("--{boundary}--\r\n")
}

/// A name as the WHATWG form encoder writes it: `"` → `%22`, CR → `%0D`, LF → `%0A`.
fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['"', '\r', '\n']) {
        return name.into();
    }
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .into()
}

/// A fresh boundary: `siliconflow-` and 32 hex digits from two draws of splitmix64 over the time, a
/// per-process counter and the process id (no cryptographic quality needed, only uniqueness).
fn new_boundary() -> String {
    format!("siliconflow-{:016x}{:016x}", random_u64(), random_u64())
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = time
        .wrapping_add(
            COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
        .wrapping_add(u64::from(std::process::id()) << 32)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
