//! A server-sent-events decoder over any [`BufRead`].
//!
//! This module implements the WHATWG "parsing an event stream" rules and knows nothing of JSON or chat:
//!
//! - lines end in LF, CRLF or a lone CR, also when the CRLF pair (or a multi-byte UTF-8 character) is split
//!   across two reads;
//! - a leading byte-order mark is skipped;
//! - lines starting with `:` are comments (servers send them as keep-alives) and are ignored;
//! - `field:value` with one leading space of the value stripped, so `data:x` equals `data: x`; a line without
//!   a colon is a field with an empty value;
//! - several `data` lines join with `\n`; `event`, `id` and `retry` are parsed; other fields are ignored;
//! - a blank line dispatches the event; an event whose data is empty dispatches nothing;
//! - at end of input an event without its blank line is discarded.
//!
//! The decoder hands out an [`Event`] that borrows its reused buffers, like `csv`'s `read_record`: it never
//! allocates per line or per event once its buffers have grown, and it returns an event as soon as the blank
//! line that ends it has been read, without reading ahead. The common event, one `data` line and its blank
//! line already whole in the reader's buffer, is not copied at all: its data is handed out from the reader's
//! buffer, and consumed at the next call. The size of one line and of one event is bounded
//! by [`SseDecoder::with_max_event_size`], so a hostile server cannot exhaust memory.
//!
//! ```
//! use siliconflow::sse::SseDecoder;
//!
//! let body = "retry: 3000\r\n: keep-alive\r\nevent: greeting\ndata: hello\ndata:world\n\ndata: [DONE]\n\n";
//! let mut decoder = SseDecoder::new(body.as_bytes());
//!
//! let event = decoder.next_event()?.expect("first event");
//! assert_eq!(event.event, "greeting");
//! assert_eq!(event.data, "hello\nworld");
//! assert_eq!(event.retry, Some(3000));
//!
//! let event = decoder.next_event()?.expect("second event");
//! assert_eq!((event.event, event.data), ("message", "[DONE]"));
//! assert!(decoder.next_event()?.is_none());
//! # Ok::<(), siliconflow::sse::SseError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};
use std::ops::Range;

/// The default bound on one line and on one event's data: 8 MiB.
///
/// Real chat chunks are a few hundred bytes; a non-streaming completion answered on a streaming request is at
/// most a few MiB. Anything larger is treated as hostile.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched server-sent event, borrowing the decoder's buffers (or the reader's, when the event lay
/// whole in it).
///
/// It stays valid until the next call to [`SseDecoder::next_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event<'a> {
    /// The event type: the last `event:` field of this event, or `"message"` when there was none.
    pub event: &'a str,
    /// The `data:` lines of this event joined with `\n` (empty for an event of empty `data:` lines; an
    /// event with no `data:` line is not dispatched).
    pub data: &'a str,
    /// The last event id seen so far in the stream (`id:` fields persist across events, as in the spec).
    pub id: Option<&'a str>,
    /// The last reconnection time, in milliseconds, that the stream set with a `retry:` field.
    pub retry: Option<u64>,
}

/// Why the decoder stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum SseError {
    /// The underlying reader failed.
    Io(io::Error),
    /// A line or an event grew past the configured bound; the bytes read so far were dropped.
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::Io(e) => write!(f, "reading the event stream failed: {e}"),
            SseError::TooLarge { limit } => {
                write!(
                    f,
                    "an event-stream line or event exceeded the {limit}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for SseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SseError::Io(e) => Some(e),
            SseError::TooLarge { .. } => None,
        }
    }
}

impl From<io::Error> for SseError {
    fn from(e: io::Error) -> Self {
        SseError::Io(e)
    }
}

/// The state of the event being built, kept apart from the reader so lines can borrow the reader's buffer.
#[derive(Debug, Default)]
struct EventState {
    data: String,
    event: String,
    id: Option<String>,
    retry: Option<u64>,
    /// The previous call handed out an event: clear `data` and `event` before reading on.
    dispatched: bool,
}

impl EventState {
    /// Processes one complete line (without its terminator). Returns `true` when the line dispatches an event.
    fn line(&mut self, line: &[u8], max: usize) -> Result<bool, SseError> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.event.clear();
                return Ok(false);
            }
            // The spec appends "\n" after every data line and strips the last one at dispatch.
            self.data.pop();
            self.dispatched = true;
            return Ok(true);
        }
        if line[0] == b':' {
            return Ok(false);
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                let value = utf8(value);
                if self.data.len() + value.len() + 1 > max {
                    self.data.clear();
                    return Err(SseError::TooLarge { limit: max });
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&utf8(value));
            }
            b"id" if !value.contains(&0) => {
                let id = self.id.get_or_insert_with(String::new);
                id.clear();
                id.push_str(&utf8(value));
            }
            // Digits only; a value too large for u64 is ignored like any invalid one.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(retry) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    self.retry = Some(retry);
                }
            }
            _ => {}
        }
        Ok(false)
    }
}

impl EventState {
    /// The event being dispatched, with `data` (from the decoder's buffer or the reader's).
    fn event<'a>(&'a self, data: &'a str) -> Event<'a> {
        Event {
            event: if self.event.is_empty() {
                "message"
            } else {
                &self.event
            },
            data,
            id: self.id.as_deref(),
            retry: self.retry,
        }
    }
}

/// Where the event found lies.
enum Found {
    /// The input ended.
    End,
    /// In the decoder's own buffers.
    Owned,
    /// Whole in the reader's buffer (one `data` line and the blank line): the range of its data, and the
    /// bytes to consume once it has been handed out.
    Whole { data: Range<usize>, used: usize },
}

/// The common event, whole at the start of `rest`: a `data` line then a blank line, both ending in LF or
/// both in CRLF, within the size bound. Returns the range of the value and the length through the blank
/// line; anything else (other fields, several lines, other line ends, a cut) takes the general path.
fn whole_data_event(rest: &[u8], max: usize) -> Option<(Range<usize>, usize)> {
    let value = if rest.starts_with(b"data: ") {
        6
    } else if rest.starts_with(b"data:") {
        5
    } else {
        return None;
    };
    let end = memchr::memchr2(b'\n', b'\r', rest)?;
    // Over the bound, the general path reports it. (The spec's data buffer holds the value and a newline,
    // `end - value + 1` bytes, within `max` whenever the line is.)
    if end > max {
        return None;
    }
    let used = match &rest[end..] {
        [b'\n', b'\n', ..] => end + 2,
        [b'\r', b'\n', b'\r', b'\n', ..] => end + 4,
        _ => return None,
    };
    Some((value..end, used))
}

/// Decodes bytes as UTF-8, replacing invalid sequences as the spec's "UTF-8 decode" does.
/// Borrows (no allocation) whenever the bytes are valid, which the fast validator decides.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A WHATWG-conformant server-sent-events decoder over any [`BufRead`].
///
/// See the [module documentation](self) for the rules it follows and an example.
pub struct SseDecoder<R> {
    reader: R,
    /// A line whose terminator has not arrived yet (only used when a line spans reads).
    line: Vec<u8>,
    state: EventState,
    max: usize,
    /// The last read ended in CR: a LF at the start of the next read belongs to it.
    skip_lf: bool,
    /// Nothing has been read yet: a BOM may still come.
    at_start: bool,
    bytes_read: u64,
    /// The bytes of the last event handed out straight from the reader's buffer, consumed at the next call.
    consume_due: usize,
}

impl<R> fmt::Debug for SseDecoder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseDecoder")
            .field("bytes_read", &self.bytes_read)
            .field("max_event_size", &self.max)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> SseDecoder<R> {
    /// A decoder over `reader` with the [default size bound](DEFAULT_MAX_EVENT_SIZE).
    pub fn new(reader: R) -> Self {
        SseDecoder {
            reader,
            line: Vec::new(),
            state: EventState::default(),
            max: DEFAULT_MAX_EVENT_SIZE,
            skip_lf: false,
            at_start: true,
            bytes_read: 0,
            consume_due: 0,
        }
    }

    /// Sets the bound, in bytes, on one line and on one event's data (at least 1).
    #[must_use]
    pub fn with_max_event_size(mut self, max: usize) -> Self {
        self.set_max_event_size(max);
        self
    }

    pub(crate) fn set_max_event_size(&mut self, max: usize) {
        self.max = max.max(1);
    }

    /// The number of bytes read so far: through the blank line of the last event returned (whose bytes may
    /// still be in the reader's buffer until the next call; see [`get_ref`](Self::get_ref)).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// A reference to the underlying reader. The last event returned may still be in its buffer (an event
    /// that arrived whole is handed out from there, and consumed at the next call).
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// A mutable reference to the underlying reader, with the last event returned consumed. Reading from it
    /// skips bytes the decoder has not seen.
    pub fn reader_mut(&mut self) -> &mut R {
        self.consume_pending();
        &mut self.reader
    }

    /// Consumes the decoder, returning the underlying reader (with any unread bytes still in its buffer).
    pub fn into_inner(mut self) -> R {
        self.consume_pending();
        self.reader
    }

    /// Consumes the last event handed out from the reader's buffer.
    fn consume_pending(&mut self) {
        if self.consume_due > 0 {
            self.reader.consume(self.consume_due);
            self.consume_due = 0;
        }
    }

    /// Reads until the next event is complete and returns it, or `None` at the end of the input.
    ///
    /// Returns as soon as the blank line ending an event has been read; it never waits for more input once an
    /// event is complete. After an error the decoder should not be used again.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, SseError> {
        let (data, used) = match self.find()? {
            Found::End => return Ok(None),
            Found::Owned => return Ok(Some(self.state.event(&self.state.data))),
            Found::Whole { data, used } => (data, used),
        };
        // The event is whole in the reader's buffer: hand its data out from there (no copy), and consume it
        // at the next call. The buffer is the one `find` just looked at: nothing was consumed or read since.
        self.consume_due = used;
        self.bytes_read += used as u64;
        let buf = self.reader.fill_buf()?;
        let Some(bytes) = buf.get(data) else {
            return Err(SseError::Io(io::Error::other(
                "the reader's buffer changed without a read",
            )));
        };
        let data = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                // Invalid UTF-8 is decoded with replacement, as on the general path.
                self.state.data.push_str(&String::from_utf8_lossy(bytes));
                &self.state.data
            }
        };
        Ok(Some(self.state.event(data)))
    }

    /// Reads until the next event is complete: in the decoder's buffers, or whole in the reader's.
    fn find(&mut self) -> Result<Found, SseError> {
        self.consume_pending();
        if self.state.dispatched {
            self.state.dispatched = false;
            self.state.data.clear();
            self.state.event.clear();
        }
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SseError::Io(e)),
            };
            if buf.is_empty() {
                // End of input: a pending line or event without its blank line is discarded.
                self.line.clear();
                self.state.data.clear();
                self.state.event.clear();
                return Ok(Found::End);
            }
            let mut start = 0;
            if self.skip_lf {
                self.skip_lf = false;
                if buf[0] == b'\n' {
                    start = 1;
                }
            }
            if self.at_start {
                // The BOM may itself arrive split across reads: collect the first bytes in `line`.
                let need = BOM.len() - self.line.len();
                let take = need.min(buf.len() - start);
                let candidate = &buf[start..start + take];
                if self.line.len() + take <= BOM.len()
                    && BOM[self.line.len()..self.line.len() + take] == *candidate
                {
                    self.line.extend_from_slice(candidate);
                    let used = start + take;
                    self.bytes_read += used as u64;
                    self.reader.consume(used);
                    if self.line.len() == BOM.len() {
                        self.line.clear();
                        self.at_start = false;
                    }
                    continue;
                }
                // Not a BOM: whatever prefix was collected is the start of the first line.
                self.at_start = false;
            }
            let rest = &buf[start..];
            if self.line.is_empty() && self.state.data.is_empty() {
                if let Some((data, used)) = whole_data_event(rest, self.max) {
                    self.state.dispatched = true;
                    return Ok(Found::Whole {
                        data: start + data.start..start + data.end,
                        used: start + used,
                    });
                }
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                None => {
                    if self.line.len() + rest.len() > self.max {
                        self.line.clear();
                        return Err(SseError::TooLarge { limit: self.max });
                    }
                    self.line.extend_from_slice(rest);
                    let used = buf.len();
                    self.bytes_read += used as u64;
                    self.reader.consume(used);
                }
                Some(end) => {
                    let mut used = start + end + 1;
                    if rest[end] == b'\r' {
                        match rest.get(end + 1) {
                            Some(b'\n') => used += 1,
                            Some(_) => {}
                            None => self.skip_lf = true,
                        }
                    }
                    let dispatch = if self.line.is_empty() {
                        if end > self.max {
                            return Err(SseError::TooLarge { limit: self.max });
                        }
                        self.state.line(&rest[..end], self.max)
                    } else {
                        if self.line.len() + end > self.max {
                            self.line.clear();
                            return Err(SseError::TooLarge { limit: self.max });
                        }
                        self.line.extend_from_slice(&rest[..end]);
                        let result = self.state.line(&self.line, self.max);
                        self.line.clear();
                        result
                    };
                    self.bytes_read += used as u64;
                    self.reader.consume(used);
                    if dispatch? {
                        return Ok(Found::Owned);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    /// A reader that returns at most the next size in `splits` (cycling) per read.
    struct Split<'a> {
        data: &'a [u8],
        splits: &'a [usize],
        n: usize,
    }

    impl Read for Split<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let want = self.splits[self.n % self.splits.len()].max(1);
            self.n += 1;
            let len = want.min(out.len()).min(self.data.len());
            out[..len].copy_from_slice(&self.data[..len]);
            self.data = &self.data[len..];
            Ok(len)
        }
    }

    type Owned = (String, String, Option<String>, Option<u64>);

    fn decode_with(body: &[u8], splits: &[usize]) -> Vec<Owned> {
        let reader = BufReader::with_capacity(
            64,
            Split {
                data: body,
                splits,
                n: 0,
            },
        );
        let mut decoder = SseDecoder::new(reader);
        let mut out = Vec::new();
        while let Some(e) = decoder.next_event().unwrap() {
            out.push((
                e.event.to_string(),
                e.data.to_string(),
                e.id.map(str::to_string),
                e.retry,
            ));
        }
        assert_eq!(decoder.bytes_read(), body.len() as u64);
        out
    }

    /// Decodes whole, one byte at a time, and at irregular splits; all must agree.
    fn decode(body: &[u8]) -> Vec<Owned> {
        let whole = decode_with(body, &[usize::MAX]);
        for splits in [&[1][..], &[2], &[3], &[1, 7, 2, 13], &[5, 1, 1, 30]] {
            assert_eq!(decode_with(body, splits), whole, "splits {splits:?}");
        }
        whole
    }

    fn data(body: &str) -> Vec<String> {
        decode(body.as_bytes()).into_iter().map(|e| e.1).collect()
    }

    #[test]
    fn line_endings_lf_crlf_cr_mixed() {
        assert_eq!(
            data("data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n"),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_end() {
        // "data: a\r" | "\n" | "\r" | "\n" must not produce an extra blank line between CR and LF.
        let body = b"data: a\r\ndata: b\r\n\r\n";
        for cut in 1..body.len() {
            let events = decode_with(body, &[cut, usize::MAX]);
            assert_eq!(events.len(), 1, "cut at {cut}");
            assert_eq!(events[0].1, "a\nb", "cut at {cut}");
        }
    }

    #[test]
    fn comments_are_ignored() {
        assert_eq!(data(": keep-alive\n\n:\ndata: x\n: mid\n\n"), ["x"]);
    }

    #[test]
    fn one_leading_space_stripped() {
        assert_eq!(data("data:x\n\ndata: x\n\ndata:  x\n\n"), ["x", "x", " x"]);
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        assert_eq!(data("data: a\ndata:\ndata: b\n\n"), ["a\n\nb"]);
    }

    #[test]
    fn empty_data_dispatches_nothing() {
        assert!(data("\n\nevent: x\n\nid: 1\n\nretry: 5\n\n").is_empty());
        // A bare `data` line appends "" plus the separator, so the spec dispatches an event whose data is
        // "": the chat layer skips those.
        assert_eq!(data("data\n\n"), [""]);
    }

    #[test]
    fn event_type_defaults_to_message_and_resets() {
        let events = decode(b"event: error\ndata: {}\n\ndata: 1\n\n");
        assert_eq!(events[0].0, "error");
        assert_eq!(events[1].0, "message");
    }

    #[test]
    fn event_type_without_data_does_not_leak() {
        let events = decode(b"event: error\n\ndata: 1\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "message");
    }

    #[test]
    fn id_persists_and_retry_parses() {
        let events =
            decode(b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nid\nretry: x1\ndata: c\n\nid: a\0b\ndata: d\n\n");
        assert_eq!(events[0].2.as_deref(), Some("7"));
        assert_eq!(events[0].3, Some(1500));
        assert_eq!(events[1].2.as_deref(), Some("7"));
        assert_eq!(
            events[2].2.as_deref(),
            Some(""),
            "`id` with no value resets it"
        );
        assert_eq!(events[2].3, Some(1500), "invalid retry ignored");
        assert_eq!(
            events[3].2.as_deref(),
            Some(""),
            "id containing NUL ignored"
        );
    }

    #[test]
    fn bom_is_skipped_even_split() {
        let body = b"\xEF\xBB\xBFdata: a\n\n";
        assert_eq!(decode(body)[0].1, "a");
        // Only one BOM is skipped; a BOM-like prefix that is not a BOM stays.
        assert_eq!(
            decode(b"\xEF\xBBdata: a\n\n").len(),
            0,
            "field name is not `data`"
        );
        assert_eq!(decode(b"data: \xEF\xBB\xBFa\n\n")[0].1, "\u{feff}a");
    }

    #[test]
    fn utf8_split_across_reads() {
        let body = "data: 你好😊\n\n".as_bytes();
        assert_eq!(decode(body)[0].1, "你好😊");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(decode(b"data: a\xFFb\n\n")[0].1, "a\u{fffd}b");
    }

    #[test]
    fn unterminated_event_at_eof_is_discarded() {
        assert_eq!(data("data: a\n\ndata: b\n"), ["a"]);
        assert_eq!(data("data: a\n\ndata: b"), ["a"]);
    }

    #[test]
    fn unknown_fields_ignored() {
        assert_eq!(data("foo: bar\ndata: a\nDATA: b\n\n"), ["a"]);
    }

    #[test]
    fn oversized_line_is_an_error_without_buffering_it_all() {
        let mut body = b"data: ".to_vec();
        body.extend(std::iter::repeat_n(b'x', 10_000));
        body.extend_from_slice(b"\n\n");
        for splits in [&[usize::MAX][..], &[1, 7], &[4096]] {
            let reader = BufReader::with_capacity(
                512,
                Split {
                    data: &body,
                    splits,
                    n: 0,
                },
            );
            let mut decoder = SseDecoder::new(reader).with_max_event_size(1000);
            match decoder.next_event() {
                Err(SseError::TooLarge { limit: 1000 }) => {}
                other => panic!("expected TooLarge, got {other:?}"),
            }
            assert!(
                decoder.bytes_read() < 2000,
                "stopped early: {}",
                decoder.bytes_read()
            );
        }
    }

    #[test]
    fn oversized_event_from_many_lines_is_an_error() {
        let body = "data: 0123456789\n".repeat(200) + "\n";
        let mut decoder = SseDecoder::new(body.as_bytes()).with_max_event_size(1000);
        assert!(matches!(
            decoder.next_event(),
            Err(SseError::TooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn returns_event_without_reading_ahead() {
        // A reader that fails if read past the first event proves no read-ahead happens.
        struct Guard<'a>(&'a [u8], bool);
        impl Read for Guard<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.1 {
                    return Err(io::Error::other("read past the first event"));
                }
                self.1 = true;
                let n = self.0.len().min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                Ok(n)
            }
        }
        let mut decoder = SseDecoder::new(BufReader::new(Guard(b"data: first\n\n", false)));
        assert_eq!(decoder.next_event().unwrap().unwrap().data, "first");
    }

    #[test]
    fn io_errors_surface() {
        struct Fail;
        impl Read for Fail {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
            }
        }
        let mut decoder = SseDecoder::new(BufReader::new(Fail));
        assert!(
            matches!(decoder.next_event(), Err(SseError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset)
        );
    }
}
