//! Reading a whole JSON answer: telling an error object from a result, and reading it as leniently as
//! openai-python (Python's `json`) does.
//!
//! Python's `json` keeps the last of duplicate keys and accepts lone UTF-16 surrogates (`"\ud800"`);
//! `serde_json` refuses both. A document that fails for either reason is read again: lone surrogates become
//! U+FFFD, and duplicate keys are resolved last-wins through a `serde_json::Value` (only for documents up to
//! [`MAX_VALUE_FALLBACK`], since a `Value` can take many times the text's size). Streamed chunks need none
//! of this: their parser resolves duplicates and surrogates itself (see `chat::stream::wire`).

use std::fmt;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;

/// The largest document read again through a `Value` to resolve duplicate keys.
const MAX_VALUE_FALLBACK: usize = 1024 * 1024;

/// Parses `bytes` as `T`, retrying leniently on lone surrogates and duplicate keys.
pub(crate) fn from_slice_lenient<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let fixed = replace_lone_surrogates(bytes);
    let text = fixed.as_deref().unwrap_or(bytes);
    if fixed.is_some() {
        if let Ok(value) = serde_json::from_slice(text) {
            return Ok(value);
        }
    }
    if text.len() <= MAX_VALUE_FALLBACK {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(text) {
            if let Ok(parsed) = serde_json::from_value(value) {
                return Ok(parsed);
            }
        }
    }
    Err(first)
}

/// The text with every `\uD800`–`\uDFFF` escape that is not half of a valid pair replaced by `\uFFFD`, or
/// `None` when there is none (the common case: nothing is copied).
pub(crate) fn replace_lone_surrogates(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(found) = memchr::memchr(b'\\', &bytes[i..]) {
        let at = i + found;
        let escape = bytes.get(at + 1).copied();
        if escape != Some(b'u') {
            i = at + 2; // any other escape, including `\\`, is two bytes
            continue;
        }
        let Some(code) = hex4(bytes.get(at + 2..at + 6)) else {
            i = at + 2;
            continue;
        };
        let high = (0xD800..=0xDBFF).contains(&code);
        let low = (0xDC00..=0xDFFF).contains(&code);
        if high {
            let next_is_low = bytes.get(at + 6..at + 8) == Some(b"\\u")
                && hex4(bytes.get(at + 8..at + 12)).is_some_and(|c| (0xDC00..=0xDFFF).contains(&c));
            if next_is_low {
                i = at + 12;
                continue;
            }
        }
        if high || low {
            let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(&bytes[copied..at]);
            out.extend_from_slice(b"\\uFFFD");
            copied = at + 6;
        }
        i = at + 6;
    }
    let mut out = out?;
    out.extend_from_slice(&bytes[copied..]);
    Some(out)
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    digits?
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}

/// What the top level of a JSON answer says about itself, read without building it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopLevel {
    /// An `error` key with a value that is not `null`.
    pub error: bool,
    /// A non-null `code`.
    pub code: bool,
    /// A non-null `message`.
    pub message: bool,
    /// A `choices` key.
    pub choices: bool,
}

impl TopLevel {
    /// Reads the top-level keys of an object (anything else reads as no keys). Values are skipped, not
    /// built, so this costs no memory whatever the document holds.
    pub(crate) fn of(bytes: &[u8]) -> TopLevel {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        deserializer
            .deserialize_any(TopLevelVisitor)
            .unwrap_or_default()
    }

    /// Whether the answer is an error object rather than a result: a non-null `error`, or (`chat`: for
    /// chat completions) SiliconFlow's `code` + `message` with no `choices`. Other endpoints, like
    /// `/user/info`, wrap their results in `code` + `message`, so that rule is chat's alone.
    pub(crate) fn is_error(&self, chat: bool) -> bool {
        self.error || (chat && self.code && self.message && !self.choices)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut top = TopLevel::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "error" => top.error = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                "code" => top.code = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                "message" => top.message = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                "choices" => {
                    top.choices = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }

    fn visit_unit<E>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let fixed = replace_lone_surrogates(
            br#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800","d":"\udc00"}"#,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{"a":"x\uFFFDy","b":"\ud83d\ude00","c":"\\ud800","d":"\uFFFD"}"#
        );
        assert_eq!(replace_lone_surrogates(br#"{"ok":"\u00e9 \n"}"#), None);
        assert_eq!(replace_lone_surrogates(br#"trailing \u12"#), None);
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Msg {
        content: String,
    }

    #[test]
    fn lenient_parsing_reads_what_python_reads() {
        let m: Msg = from_slice_lenient(br#"{"content":"a","content":"b"}"#).unwrap();
        assert_eq!(m.content, "b", "last wins");
        let m: Msg = from_slice_lenient(br#"{"content":"x\ud800"}"#).unwrap();
        assert_eq!(m.content, "x\u{FFFD}");
        assert!(from_slice_lenient::<Msg>(br#"{"content":1}"#).is_err());
    }

    #[test]
    fn top_level_keys() {
        let top = TopLevel::of(br#"{"code":20012,"message":"Model does not exist","data":null}"#);
        assert!(top.is_error(true) && !top.is_error(false));
        assert!(TopLevel::of(br#"{"error":{"message":"x"}}"#).is_error(false));
        assert!(!TopLevel::of(br#"{"error":null,"choices":[]}"#).is_error(true));
        assert!(!TopLevel::of(br#"{"code":20000,"message":"OK","choices":[]}"#).is_error(true));
        assert_eq!(TopLevel::of(b"[1,2]"), TopLevel::default());
        assert_eq!(TopLevel::of(b"not json"), TopLevel::default());
    }
}
