//! [`Span`]: where a text of a chunk lies, so that parsing a chunk copies no text.
//!
//! A string without escapes is a range of the event's data; a string with escapes is unescaped (by
//! `serde_json`) and appended to the stream's scratch buffer, which is reused from chunk to chunk. Once a
//! delta has been accumulated, its texts are ranges of the choice's accumulated text, which is what the
//! stream hands out. Spans carry no lifetime, so the parsed deltas live in a buffer the stream reuses.
//!
//! The reading is the lenient one of [`Text`](crate::serde_util::Text): a lone UTF-16 surrogate escape
//! becomes U+FFFD.

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeSeed, Visitor};
use serde::{Deserialize, Deserializer};

use crate::json::hex4;
use crate::serde_util::wtf8_lossy;

/// Where a text lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// In the event's data.
    Data,
    /// In the stream's scratch buffer (a text that had escapes).
    Scratch,
    /// In the accumulated text of the delta's choice (`content` or `reasoning_content`).
    Held,
}

/// A text of a chunk: a range of the place it lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub at: At,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The text, from the data or the scratch buffer it was parsed into (`""` for a held span, or a range
    /// that does not fit, which the parser never makes).
    pub(crate) fn text<'a>(&self, data: &'a str, scratch: &'a str) -> &'a str {
        let source = match self.at {
            At::Data => data,
            At::Scratch => scratch,
            At::Held => return "",
        };
        source.get(self.range()).unwrap_or_default()
    }
}

/// Reads an optional string (`null` or absent: `None`) as a [`Span`] of `data` or of `scratch`.
pub(crate) struct SpanSeed<'s, 'de> {
    pub data: &'de str,
    pub scratch: &'s mut String,
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_, 'de> {
    type Value = Option<Span>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Span>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for SpanSeed<'_, 'de> {
    type Value = Option<Span>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<Span>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Span>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Span>, D::Error> {
        // Bytes, not `str`: `serde_json` refuses a lone surrogate escape in a `str` but not in bytes.
        deserializer
            .deserialize_bytes(StringVisitor(self))
            .map(Some)
    }
}

/// The string itself, once `null` has been ruled out.
struct StringVisitor<'s, 'de>(SpanSeed<'s, 'de>);

impl StringVisitor<'_, '_> {
    /// Appends a text to the scratch buffer.
    fn scratch(self, text: &str) -> Span {
        let scratch = self.0.scratch;
        let start = scratch.len();
        scratch.push_str(text);
        Span {
            at: At::Scratch,
            start,
            end: scratch.len(),
        }
    }

    /// Bytes that may hold surrogates encoded as UTF-8, into the scratch buffer.
    fn scratch_bytes(self, bytes: &[u8]) -> Span {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.scratch(text),
            Err(_) => self.scratch(&wtf8_lossy(bytes)),
        }
    }
}

impl<'de> Visitor<'de> for StringVisitor<'_, 'de> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Span, E> {
        // A string without escapes is a slice of the data: its range, found from the addresses. The data
        // is a `str` and the slice lies between two quotes, so the range falls on character boundaries;
        // `get` checks it anyway, and anything unexpected is copied instead.
        let data = self.0.data;
        let start = (v.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
        let end = start.wrapping_add(v.len());
        if start <= end && data.get(start..end).is_some() {
            return Ok(Span {
                at: At::Data,
                start,
                end,
            });
        }
        Ok(self.scratch_bytes(v))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Span, E> {
        Ok(self.scratch_bytes(v))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Span, E> {
        Ok(self.scratch_bytes(&v))
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Span, E> {
        self.visit_borrowed_bytes(v.as_bytes())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
        Ok(self.scratch(v))
    }
}

/// Reads an optional string as [`SpanSeed`] does, for the fast path (`fast`): the string is captured raw
/// (`serde_json` skips it without unescaping into its own scratch buffer, which it would allocate on every
/// chunk with an escape) and unescaped here. `serde_json` skips strings strictly (no control characters),
/// where [`SpanSeed`] reads them as bytes (control characters allowed): a string it refuses fails the fast
/// path, and the general path reads the chunk again.
pub(crate) struct RawSpanSeed<'s, 'de> {
    pub data: &'de str,
    pub scratch: &'s mut String,
}

impl<'de> DeserializeSeed<'de> for RawSpanSeed<'_, 'de> {
    type Value = Option<Span>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Span>, D::Error> {
        use serde::de::Error as _;
        let Some(raw) = Option::<&'de serde_json::value::RawValue>::deserialize(deserializer)?
        else {
            return Ok(None);
        };
        let raw = raw.get();
        let inner = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| D::Error::custom("expected a string"))?;
        let end = end_in(self.data.as_bytes(), inner.as_bytes())
            .ok_or_else(|| D::Error::custom("a string outside the event"))?;
        let start = end - inner.len();
        if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
            return Ok(Some(Span {
                at: At::Data,
                start,
                end,
            }));
        }
        let scratch = self.scratch;
        let from = scratch.len();
        unescape(inner, scratch).ok_or_else(|| D::Error::custom("a bad escape"))?;
        Ok(Some(Span {
            at: At::Scratch,
            start: from,
            end: scratch.len(),
        }))
    }
}

/// Appends the text of a JSON string's contents (escapes already checked by `serde_json`) to `out`, as
/// `serde_json` reads a string as bytes and [`wtf8_lossy`] then decodes them: a UTF-16 surrogate pair is
/// one character, any other surrogate becomes U+FFFD.
fn unescape(raw: &str, out: &mut String) -> Option<()> {
    let b = raw.as_bytes();
    let (mut i, mut copied) = (0, 0);
    while let Some(at) = memchr::memchr(b'\\', &b[i..]) {
        let at = i + at;
        out.push_str(raw.get(copied..at)?);
        i = at + 2;
        match *b.get(at + 1)? {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => i = unicode_escape(b, at + 2, out)?,
            _ => return None,
        }
        copied = i;
    }
    out.push_str(raw.get(copied..)?);
    Some(())
}

/// Reads the hex digits of a `\u` escape at `i` (and a surrogate pair's second escape), appends the
/// character, and returns the offset after what it used, as `serde_json`'s `parse_unicode_escape` does
/// without validation: a leading surrogate not followed by a trailing one is kept alone (here: U+FFFD)
/// and what follows is read on its own.
fn unicode_escape(b: &[u8], mut i: usize, out: &mut String) -> Option<usize> {
    let hex = |at: usize| hex4(b.get(at..at + 4));
    let mut n = hex(i)?;
    i += 4;
    loop {
        if !(0xD800..=0xDBFF).contains(&n) {
            out.push(char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER));
            return Some(i);
        }
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            out.push(char::REPLACEMENT_CHARACTER);
            return Some(i);
        }
        let n2 = hex(i + 2)?;
        if !(0xDC00..=0xDFFF).contains(&n2) {
            out.push(char::REPLACEMENT_CHARACTER);
            n = n2;
            i += 6;
            continue;
        }
        let pair = (((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000;
        out.push(char::from_u32(pair).unwrap_or(char::REPLACEMENT_CHARACTER));
        return Some(i + 6);
    }
}

/// The offset just past `part` in `data`, when `part` is a slice of `data` (found from the addresses).
pub(crate) fn end_in(data: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    let end = start.wrapping_add(part.len());
    (start <= end && end <= data.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (Option<Span>, String) {
        let mut scratch = String::new();
        let mut de = serde_json::Deserializer::from_str(json);
        let span = SpanSeed {
            data: json,
            scratch: &mut scratch,
        }
        .deserialize(&mut de)
        .unwrap();
        (span, scratch)
    }

    #[test]
    fn plain_strings_are_ranges_of_the_data_and_escaped_ones_go_to_scratch() {
        let (span, scratch) = read(r#""你好 there""#);
        let span = span.unwrap();
        assert_eq!(span.at, At::Data);
        assert_eq!(span.text(r#""你好 there""#, &scratch), "你好 there");

        let (span, scratch) = read(r#""a\nb \ud83d\ude00 \ud800!""#);
        let span = span.unwrap();
        assert_eq!(span.at, At::Scratch);
        assert_eq!(span.text("", &scratch), "a\nb 😀 \u{fffd}!");

        assert_eq!(read("null").0, None);
        let mut scratch = String::new();
        let mut de = serde_json::Deserializer::from_str("5");
        let seed = SpanSeed {
            data: "5",
            scratch: &mut scratch,
        };
        let error = seed.deserialize(&mut de).unwrap_err().to_string();
        assert!(error.contains("expected a string"), "{error}");
    }
}
