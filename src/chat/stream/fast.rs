//! The common chunk's top level, read without `serde_json`.
//!
//! A chunk's top level is a flat object of metadata (`id`, `object`, `created`, `model`,
//! `system_fingerprint`, `usage`) around `choices`; SiliconFlow repeats it on every chunk. Reading it
//! through `serde_json`'s map access costs more than the choices themselves, so this module walks the top
//! level itself: plain strings are ranges of the event, `created` is read digit by digit, other values
//! (`usage`, unknown keys) are skipped by a validating scanner, and only the `choices` array goes to
//! `serde_json` (the same seeds as the general path, over its exact text).
//!
//! It is a fast path, never a second parser with its own rules: whatever it is not sure of (a key or an id
//! with escapes, an error object, a second `choices`, a number that is not a plain `u64`, anything
//! malformed, any failure inside `choices`), it gives up and the chunk is read again by the general path
//! in `wire`, which decides, and reports errors, as before. What it accepts, the general path accepts with
//! the same result: its scanner is never more lenient than `serde_json`.

use super::parsed::Deltas;
use super::piece::{At, Span};
use super::wire::{parse_choices, ChunkMeta};
use crate::limits::StreamLimits;

/// How deep the scanner follows nested arrays and objects before giving up.
const MAX_DEPTH: usize = 32;

/// Reads the chunk in `data` if it is a plain one: its metadata, and its deltas pushed onto `deltas`.
/// `None`: not handled here (and `deltas` and `scratch` are as they were).
pub(crate) fn parse<'a>(
    data: &'a str,
    deltas: &mut Deltas,
    scratch: &mut String,
    limits: &StreamLimits,
) -> Option<ChunkMeta<'a>> {
    let (before, scratch_before) = (deltas.len(), scratch.len());
    let meta = walk(data, deltas, scratch, limits);
    if meta.is_none() {
        deltas.truncate(before);
        scratch.truncate(scratch_before);
    }
    meta
}

fn walk<'a>(
    data: &'a str,
    deltas: &mut Deltas,
    scratch: &mut String,
    limits: &StreamLimits,
) -> Option<ChunkMeta<'a>> {
    let b = data.as_bytes();
    let mut meta = ChunkMeta::default();
    let mut choices = false;
    let mut i = space(b, expect(b, 0, b'{')?);
    if b.get(i) == Some(&b'}') {
        return (i + 1 == b.len()).then_some(meta);
    }
    loop {
        let (key, after) = plain_string(b, i, true)?;
        i = space(b, expect(b, space(b, after), b':')?);
        i = match data.get(key)? {
            "id" => kept_text(b, i, &mut meta.id)?,
            "model" => kept_text(b, i, &mut meta.model)?,
            "system_fingerprint" => kept_text(b, i, &mut meta.system_fingerprint)?,
            "created" => {
                let (created, end) = plain_u64(b, i)?;
                meta.created = created;
                end
            }
            "choices" if !choices => {
                choices = true;
                read_choices(data, i, deltas, scratch, limits)?
            }
            // An error object, or a second `choices`: the general path decides.
            "choices" | "error" | "code" | "message" => return None,
            "usage" => {
                let end = skip(b, i, 0)?;
                let text = data.get(i..end)?;
                meta.usage = (text != "null").then_some(text);
                end
            }
            _ => skip(b, i, 0)?,
        };
        i = space(b, i);
        match b.get(i)? {
            b',' => i = space(b, i + 1),
            b'}' => return (i + 1 == b.len()).then_some(meta),
            _ => return None,
        }
    }
}

/// Reads the `choices` value at `i` (an array, or `null`) into `deltas`; returns the offset past it.
///
/// The array usually ends at the first `]` (no brackets in its strings, no nested arrays): that guess is
/// read first, unless another `[` comes before it. `serde_json` reads the guessed text whole or fails, and
/// an array that reads whole from its `[` to that `]` does end there. Otherwise the array's end is found by
/// scanning (and it is read again).
fn read_choices(
    data: &str,
    i: usize,
    deltas: &mut Deltas,
    scratch: &mut String,
    limits: &StreamLimits,
) -> Option<usize> {
    let b = data.as_bytes();
    if b[i..].starts_with(b"null") {
        return Some(i + 4);
    }
    let (before, scratch_before) = (deltas.len(), scratch.len());
    let guess = i + memchr::memchr(b']', &b[i..])? + 1;
    // A second `[` before it (a nested array, or one in a string) makes the guess likely wrong: skip it.
    if memchr::memchr(b'[', &b[i + 1..guess]).is_none() {
        if parse_choices(data, data.get(i..guess)?, deltas, scratch, limits).is_some() {
            return Some(guess);
        }
        deltas.truncate(before);
        scratch.truncate(scratch_before);
    }
    let end = array_end(b, i)?;
    parse_choices(data, data.get(i..end)?, deltas, scratch, limits)?;
    Some(end)
}

/// JSON whitespace, as `serde_json` skips it.
fn space(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// Past `byte` at `i`.
fn expect(b: &[u8], i: usize, byte: u8) -> Option<usize> {
    (b.get(i) == Some(&byte)).then_some(i + 1)
}

/// A string at `i` without escapes: the range of its text, and the offset past its closing quote.
/// `strict` refuses control characters, as `serde_json` does in keys and in values it skips (it allows
/// them in the strings this crate reads as bytes).
fn plain_string(b: &[u8], i: usize, strict: bool) -> Option<(std::ops::Range<usize>, usize)> {
    let start = expect(b, i, b'"')?;
    let end = if strict {
        find(b, start, string_stop, |c| {
            c == b'"' || c == b'\\' || c < 0x20
        })?
    } else {
        find(b, start, quote_or_backslash, |c| c == b'"' || c == b'\\')?
    };
    (b[end] == b'"').then_some((start..end, end + 1))
}

/// A text the chunk's metadata keeps (`id`, `model`, `system_fingerprint`): `null` or a string without
/// escapes (the general path unescapes the others). Returns the offset past the value.
fn kept_text(b: &[u8], i: usize, slot: &mut Option<Span>) -> Option<usize> {
    if b[i..].starts_with(b"null") {
        *slot = None;
        return Some(i + 4);
    }
    let (text, end) = plain_string(b, i, false)?;
    *slot = Some(Span {
        at: At::Data,
        start: text.start,
        end: text.end,
    });
    Some(end)
}

/// `null`, or a plain unsigned integer of at most 19 digits (no sign, fraction or exponent, no leading
/// zero): the value and the offset past it.
fn plain_u64(b: &[u8], i: usize) -> Option<(Option<u64>, usize)> {
    if b[i..].starts_with(b"null") {
        return Some((None, i + 4));
    }
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end = i + digits;
    let plain = (1..=19).contains(&digits)
        && !(digits > 1 && b[i] == b'0')
        && !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
    if !plain {
        return None;
    }
    let value = b[i..end]
        .iter()
        .fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
    Some((Some(value), end))
}

/// Where the array (or `null`) at `i` ends, counting brackets outside strings. It does not validate:
/// `serde_json` then reads exactly that text, and must read all of it.
fn array_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i..].starts_with(b"null") {
        return Some(i + 4);
    }
    expect(b, i, b'[')?;
    let mut depth = 0usize;
    let mut j = i;
    loop {
        j = find(b, j, quote_or_bracket, |c| matches!(c, b'"' | b'[' | b']'))?;
        match b[j] {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {
                // A string: to its closing quote, stepping over escaped characters.
                j += 1;
                loop {
                    j = find(b, j, quote_or_backslash, |c| c == b'"' || c == b'\\')?;
                    if b[j] == b'"' {
                        break;
                    }
                    j += 2;
                }
            }
        }
        j += 1;
    }
}

/// Skips the value at `i`, checking it as `serde_json` does when it skips one, and returns the offset past
/// it; `None` for anything `serde_json` might refuse (or nesting deeper than [`MAX_DEPTH`]).
fn skip(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'-' | b'0'..=b'9' => skip_number(b, i),
        b'n' => literal(b, i, b"null"),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'[' | b'{' if depth < MAX_DEPTH => {
            let object = b[i] == b'{';
            let close = if object { b'}' } else { b']' };
            let mut j = space(b, i + 1);
            if b.get(j) == Some(&close) {
                return Some(j + 1);
            }
            loop {
                if object {
                    j = skip_string(b, j)?;
                    j = space(b, expect(b, space(b, j), b':')?);
                }
                j = space(b, skip(b, j, depth + 1)?);
                match *b.get(j)? {
                    b',' => j = space(b, j + 1),
                    c if c == close => return Some(j + 1),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// A string as `serde_json` skips one: no control characters, only valid escapes.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = expect(b, i, b'"')?;
    loop {
        j = find(b, j, string_stop, |c| c == b'"' || c == b'\\' || c < 0x20)?;
        match b[j] {
            b'"' => return Some(j + 1),
            b'\\' => match *b.get(j + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                b'u' if b.get(j + 2..j + 6)?.iter().all(u8::is_ascii_hexdigit) => j += 6,
                _ => return None,
            },
            _ => return None, // a control character
        }
    }
}

/// `0x01` in every byte.
const ONES: u64 = u64::MAX / 255;

/// The high bit of each byte of `word` that equals `byte` (and maybe of some later bytes: only the lowest
/// flag is exact, which is the one [`find`] uses).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// Flags bytes below 0x20 (the same caveat).
fn control(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & (ONES << 7)
}

fn quote_or_backslash(word: u64) -> u64 {
    bytes_equal(word, b'"') | bytes_equal(word, b'\\')
}

fn string_stop(word: u64) -> u64 {
    quote_or_backslash(word) | control(word)
}

fn quote_or_bracket(word: u64) -> u64 {
    bytes_equal(word, b'"') | bytes_equal(word, b'[') | bytes_equal(word, b']')
}

/// The offset of the first byte at or after `from` that `stop` selects, eight bytes at a time (`flags`
/// flags the selected bytes of a little-endian word, like `serde_json`'s scan for the end of a string).
#[inline]
fn find(
    b: &[u8],
    from: usize,
    flags: impl Fn(u64) -> u64,
    stop: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let flagged = flags(u64::from_le_bytes(word));
        if flagged != 0 {
            return Some(i + flagged.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    (i..b.len()).find(|&j| stop(b[j]))
}

/// A number as JSON writes it: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?.
fn skip_number(b: &[u8], i: usize) -> Option<usize> {
    let digits = |j: usize| {
        b[j.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut j = i + usize::from(b[i] == b'-');
    match b.get(j)? {
        b'0' => j += 1,
        b'1'..=b'9' => j += digits(j),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let n = digits(j + 1);
        if n == 0 {
            return None;
        }
        j += 1 + n;
    }
    if let Some(b'e' | b'E') = b.get(j) {
        j += 1;
        if let Some(b'+' | b'-') = b.get(j) {
            j += 1;
        }
        let n = digits(j);
        if n == 0 {
            return None;
        }
        j += n;
    }
    // `serde_json` refuses a digit right after a leading zero ("01").
    (!b.get(j).is_some_and(u8::is_ascii_digit)).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_takes_what_json_allows_and_refuses_the_rest() {
        let ok = [
            r#""a\"b\\c\/\b\f\n\r\t\u00e9 \ud800""#,
            "0",
            "-0.5e+10",
            "12E3",
            "[]",
            "{}",
            r#"{ "a" : [1, {"b": null}, true, false, "x"] , "c":{} }"#,
        ];
        for json in ok {
            assert_eq!(skip(json.as_bytes(), 0, 0), Some(json.len()), "{json}");
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok());
        }
        let refused = [
            "\"a\u{1}\"",
            r#""\x""#,
            r#""\u12g4""#,
            "01",
            "1.",
            "1e",
            "-",
            ".5",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "nul",
            "tru",
            "[1 2]",
        ];
        for json in refused {
            assert_ne!(skip(json.as_bytes(), 0, 0), Some(json.len()), "{json}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(skip(deep.as_bytes(), 0, 0), None);
    }

    #[test]
    fn plain_numbers_and_array_ends() {
        assert_eq!(plain_u64(b"1764681242,", 0), Some((Some(1764681242), 10)));
        assert_eq!(plain_u64(b"null}", 0), Some((None, 4)));
        for refused in ["01", "1.0", "1e3", "-1", "12345678901234567890", "x"] {
            assert_eq!(plain_u64(refused.as_bytes(), 0), None, "{refused}");
        }
        let json = br#"[{"a":"]\"]"},[[]]],"x""#;
        assert_eq!(array_end(json, 0), Some(json.len() - 4));
        assert_eq!(array_end(b"null,", 0), Some(4));
        assert_eq!(array_end(b"[\"]", 0), None);
    }
}
