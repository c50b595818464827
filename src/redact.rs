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

    /// The longest form of one key character: `%5Cu0041` (a JSON escape whose backslash is
    /// percent-encoded).
    const MAX_FORM: usize = 8;

    pub(crate) fn new(secret: &str) -> Self {
        Redactor((secret.len() >= Self::MIN_SECRET).then(|| secret.as_bytes().into()))
    }

    /// How many bytes past a cut may still belong to a key that starts before it: read this many more than
    /// you keep, then cut with [`scrub_prefix`](Self::scrub_prefix).
    pub(crate) fn margin(&self) -> usize {
        self.0.as_ref().map_or(0, |k| k.len() * Self::MAX_FORM)
    }

    /// Whether there is a key to scrub.
    pub(crate) fn is_active(&self) -> bool {
        self.0.is_some()
    }

    /// Every occurrence of the key in `text`, in any mix of its encoded forms: byte ranges, in order, not
    /// overlapping. (Both ends are ASCII positions, so character boundaries.)
    fn occurrences(&self, text: &str) -> Vec<(usize, usize)> {
        let Some(key) = &self.0 else {
            return Vec::new();
        };
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let Some(offset) = memchr::memchr3(key[0], b'\\', b'%', &bytes[at..]) else {
                break;
            };
            let start = at + offset;
            match match_key(key, &bytes[start..]) {
                Some(len) => {
                    found.push((start, start + len));
                    at = start + len;
                }
                None => at = start + 1,
            }
        }
        found
    }

    /// Replaces every occurrence of the key, in any of its encoded forms.
    pub(crate) fn scrub(&self, text: &mut String) {
        let found = self.occurrences(text);
        if !found.is_empty() {
            *text = replace(text, &found, text.len());
        }
    }

    /// The text up to byte `max` of the text as given (never past an occurrence of the key that the cut
    /// would split), with every occurrence replaced. The cut is measured in the text as given, not in the
    /// scrubbed one, so a key lying past the cut can never be pulled in by the shorter replacements before
    /// it. Only `max` and [`margin`](Self::margin) bytes of `text` are read; when `text` is itself a cut of
    /// a longer text, it should reach that far, so that a key starting before `max` is found whole.
    pub(crate) fn scrub_prefix(&self, text: &str, max: usize) -> String {
        let mut end = max.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // An occurrence the cut keeps or splits starts before `max`, so it ends within the margin: the
        // rest of a long text (a whole event, a whole body) is never scanned.
        let mut scan = max.saturating_add(self.margin()).min(text.len());
        while !text.is_char_boundary(scan) {
            scan += 1;
        }
        let found = self.occurrences(&text[..scan]);
        if let Some(&(start, _)) = found
            .iter()
            .find(|&&(start, stop)| start < end && stop > end)
        {
            end = start;
        }
        let before: Vec<(usize, usize)> =
            found.into_iter().filter(|&(_, stop)| stop <= end).collect();
        replace(text, &before, end)
    }

    /// An error body as kept in [`ApiError::body`](crate::ApiError::body): its first 64 KiB
    /// ([`MAX_ERROR_BODY`](crate::error::MAX_ERROR_BODY)) as text, every key scrubbed before the cut
    /// (a key the cut would split is left out whole). `body` may be any length; a longer one is read
    /// only [`margin`](Self::margin) bytes past the cut.
    pub(crate) fn error_text(&self, body: &[u8]) -> String {
        let max = crate::error::MAX_ERROR_BODY;
        let body = &body[..body.len().min(max + self.margin())];
        self.scrub_prefix(&String::from_utf8_lossy(body), max)
    }

    /// The text scrubbed and cut to about `max` bytes (see [`scrub_prefix`](Self::scrub_prefix)), the
    /// cut marked.
    pub(crate) fn scrub_cut(&self, text: &str, max: usize) -> String {
        if text.len() <= max {
            let mut out = text.to_string();
            self.scrub(&mut out);
            return out;
        }
        let mut out = self.scrub_prefix(text, max);
        out.push_str(&format!("… ({} bytes in all)", text.len()));
        out
    }
}

/// `text[..end]` with each of the ranges (all before `end`) replaced by [`REDACTED`].
fn replace(text: &str, ranges: &[(usize, usize)], end: usize) -> String {
    let mut out = String::with_capacity(end);
    let mut copied = 0;
    for &(start, stop) in ranges {
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = stop;
    }
    out.push_str(&text[copied..end]);
    out
}

/// The length of the key's occurrence at the start of `text`, in any mix of raw, JSON-escaped and
/// percent-encoded characters (also a JSON escape whose backslash is itself percent-encoded, `%5C/`). A
/// `\\` or a `%` in the text may be a raw key character or start an escape, so every reading is followed
/// (the set of text offsets reached after each key character stays small).
fn match_key(key: &[u8], text: &[u8]) -> Option<usize> {
    let mut offsets = vec![0usize];
    let mut next = Vec::new();
    for &want in key {
        next.clear();
        for &at in &offsets {
            for len in forms(want, &text[at..]) {
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

/// The lengths of the encodings of `want` that `rest` starts with: raw; percent-encoded `%XX`; a JSON
/// escape (`\\uXXXX`, or `\\"` `\\\\` `\\/` for those three characters, the escaped character itself raw or
/// percent-encoded), its backslash raw or percent-encoded (`%5C`).
fn forms(want: u8, rest: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    if rest.first() == Some(&want) {
        lens.push(1);
    }
    let percent = |at: usize| {
        (rest.get(at) == Some(&b'%'))
            .then(|| rest.get(at + 1..at + 3).and_then(hex))
            .flatten()
    };
    if percent(0) == Some(u32::from(want)) {
        lens.push(3);
    }
    // The escape's backslash: raw, or percent-encoded.
    let escape = match rest.first() {
        Some(b'\\') => Some(1),
        Some(b'%') if percent(0) == Some(u32::from(b'\\')) => Some(3),
        _ => None,
    };
    if let Some(e) = escape {
        if rest.get(e) == Some(&b'u')
            && rest.get(e + 1..e + 5).and_then(hex) == Some(u32::from(want))
        {
            lens.push(e + 5);
        }
        if matches!(want, b'"' | b'\\' | b'/') {
            if rest.get(e) == Some(&want) {
                lens.push(e + 1);
            }
            if percent(e) == Some(u32::from(want)) {
                lens.push(e + 3);
            }
        }
    }
    lens
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
        let double: String = key
            .bytes()
            .map(|b| match b {
                b'/' => "%5C%2F".to_string(),
                b'"' => "%5C\"".to_string(),
                _ => format!("%5Cu{b:04x}"),
            })
            .collect();
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
            double,
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
    fn a_cut_is_measured_in_the_text_as_given() {
        // Two \u-escaped keys shrink to `<redacted>` when scrubbed: a cut measured in the scrubbed text
        // would reach the third key, which the given text's cut leaves out.
        let redactor = Redactor::new(KEY);
        let escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        let text = format!("{escaped}{escaped}{}{KEY}", "p".repeat(50));
        let max = escaped.len() * 2 + 50 + 10;
        let out = redactor.scrub_prefix(&text, max);
        assert_eq!(out, format!("<redacted><redacted>{}", "p".repeat(50)));
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
