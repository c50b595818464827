//! Scrubbing the API key out of everything a server sends back, before anything is cut or shown.
//!
//! A server or proxy may echo the key in an error body, a malformed chunk or a header: raw, JSON-escaped
//! (`\/`, `\"`, `\\`, or any character as `\u0073`; a server may escape every character of a plain
//! alphanumeric key), or percent-encoded (`%73`). The [`Redactor`] recognises every mix of these forms,
//! character by character, and replaces the whole occurrence with `<redacted>`. It always runs on the whole
//! text before any truncation, so a cut can never leave part of a key behind.

use std::fmt;
use std::sync::Arc;

/// What replaces the key.
pub(crate) const REDACTED: &str = "<redacted>";

/// Scrubs one API key out of texts and errors.
#[derive(Clone, Default)]
pub(crate) struct Redactor(Option<Arc<[u8]>>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    /// Keys shorter than this are placeholders (`"ollama"`), not secrets: scrubbing them would mangle text.
    pub(crate) const MIN_SECRET: usize = 8;

    /// The longest form of one key character: `\u0041`.
    const MAX_FORM: usize = 6;

    pub(crate) fn new(secret: &str) -> Self {
        Redactor((secret.len() >= Self::MIN_SECRET).then(|| secret.as_bytes().into()))
    }

    /// How many bytes past a cut may still belong to a key that starts before it: read this many more than
    /// you keep, scrub, then cut.
    pub(crate) fn margin(&self) -> usize {
        self.0.as_ref().map_or(0, |k| k.len() * Self::MAX_FORM)
    }

    /// Replaces every occurrence of the key, in any of its encoded forms.
    pub(crate) fn scrub(&self, text: &mut String) {
        let Some(key) = &self.0 else { return };
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            let Some(found) = memchr::memchr3(key[0], b'\\', b'%', &bytes[at..]) else {
                break;
            };
            let start = at + found;
            match match_key(key, &bytes[start..]) {
                Some(len) => {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    // `start` and `start + len` are ASCII positions, so on character boundaries.
                    out.push_str(&text[copied..start]);
                    out.push_str(REDACTED);
                    copied = start + len;
                    at = copied;
                }
                None => at = start + 1,
            }
        }
        if let Some(mut out) = out {
            out.push_str(&text[copied..]);
            *text = out;
        }
    }

    /// The text scrubbed, then cut to at most `max` bytes (see [`cut`]).
    pub(crate) fn scrub_cut(&self, text: &str, max: usize) -> String {
        // Only the part that can survive the cut (plus a key's length past it) needs scrubbing.
        let mut end = (max + self.margin()).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let mut kept = text[..end].to_string();
        self.scrub(&mut kept);
        let cut_at = kept.len().min(max);
        let mut out = cut_to(&kept, cut_at);
        if text.len() > end || kept.len() > max {
            out.push_str(&format!("… ({} bytes in all)", text.len()));
        }
        out
    }

    /// Whether there is a key to scrub.
    pub(crate) fn is_active(&self) -> bool {
        self.0.is_some()
    }
}

/// The length of the key's occurrence at the start of `text`, in any mix of raw, JSON-escaped and
/// percent-encoded characters. A `\\` or a `%` in the text may be a raw key character or start an escape,
/// so every reading is followed (the set of text offsets reached after each key character stays small).
fn match_key(key: &[u8], text: &[u8]) -> Option<usize> {
    let mut offsets = vec![0usize];
    let mut next = Vec::new();
    for &want in key {
        next.clear();
        for &at in &offsets {
            for len in forms(want, &text[at..]).into_iter().flatten() {
                if !next.contains(&(at + len)) {
                    next.push(at + len);
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        std::mem::swap(&mut offsets, &mut next);
    }
    offsets.into_iter().max()
}

/// The lengths of the encodings of `want` that `rest` starts with: raw, `\uXXXX`, `\"` `\\` `\/`, `%XX`.
fn forms(want: u8, rest: &[u8]) -> [Option<usize>; 3] {
    let raw = (rest.first() == Some(&want)).then_some(1);
    let escaped = match (rest.first(), rest.get(1)) {
        (Some(b'\\'), Some(b'u')) => rest
            .get(2..6)
            .and_then(hex)
            .filter(|&code| code == u32::from(want))
            .map(|_| 6),
        (Some(b'\\'), Some(&c)) if c == want && matches!(c, b'"' | b'\\' | b'/') => Some(2),
        _ => None,
    };
    let percent = match rest.first() {
        Some(b'%') => rest
            .get(1..3)
            .and_then(hex)
            .filter(|&code| code == u32::from(want))
            .map(|_| 3),
        _ => None,
    };
    [raw, escaped, percent]
}

/// Hex digits (any case) as a number.
fn hex(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut (no scrubbing: for texts
/// that cannot hold the key, or that were scrubbed whole).
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}… ({} bytes in all)", cut_to(text, max), text.len())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut_to(text: &str, max: usize) -> String {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-a/b\"c\\d%e+f.0123456789";

    fn json_escaped(key: &str) -> String {
        serde_json::to_string(key)
            .unwrap()
            .trim_matches('"')
            .to_string()
    }

    fn all_forms(key: &str) -> Vec<String> {
        let u_escaped: String = key.bytes().map(|b| format!("\\u{b:04x}")).collect();
        let u_upper: String = key.bytes().map(|b| format!("\\u{b:04X}")).collect();
        let percent: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        let slashes = key.replace('/', "\\/");
        let mixed: String = key
            .bytes()
            .enumerate()
            .map(|(i, b)| match i % 3 {
                0 => format!("\\u{b:04x}"),
                1 => format!("%{b:02x}"),
                _ if matches!(b, b'"' | b'\\') => format!("\\{}", b as char),
                _ => (b as char).to_string(),
            })
            .collect();
        vec![
            key.to_string(),
            json_escaped(key),
            u_escaped,
            u_upper,
            percent,
            slashes,
            mixed,
        ]
    }

    #[test]
    fn every_form_is_scrubbed() {
        let redactor = Redactor::new(KEY);
        for form in all_forms(KEY) {
            let mut text = format!("before {form} middle {form}after");
            redactor.scrub(&mut text);
            assert_eq!(
                text, "before <redacted> middle <redacted>after",
                "form {form}"
            );
        }
    }

    #[test]
    fn scrub_then_cut_never_leaves_a_piece_of_the_key() {
        let redactor = Redactor::new(KEY);
        for form in all_forms(KEY) {
            for prefix in 0..40 {
                let text = format!("{}{form}{}", "x".repeat(prefix), "y".repeat(50));
                for max in 0..text.len() + 2 {
                    let out = redactor.scrub_cut(&text, max);
                    assert!(
                        !out.contains("0123") && !out.contains("\\u0030") && !out.contains("%30"),
                        "{form} at {prefix} cut at {max}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn near_misses_and_short_keys_are_left_alone() {
        let redactor = Redactor::new(KEY);
        let mut text = "sk-a/b\"c\\d%e+f.012345678 (one short) \\u00".to_string();
        let before = text.clone();
        redactor.scrub(&mut text);
        assert_eq!(text, before);
        let mut text = "ollama ollama".to_string();
        Redactor::new("ollama").scrub(&mut text);
        assert_eq!(text, "ollama ollama");
    }

    #[test]
    fn cut_marks_and_respects_char_boundaries() {
        assert_eq!(cut("abc", 5), "abc");
        assert!(cut("你好你好", 4).starts_with("你…"));
        let out = Redactor::default().scrub_cut("你好你好", 4);
        assert!(out.starts_with("你…"), "{out}");
    }
}
