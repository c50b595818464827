//! Reading a whole JSON answer: telling an error object from a result, and reading it as leniently as
//! openai-python (Python's `json`) does.
//!
//! Python's `json` keeps the last of duplicate keys and accepts lone UTF-16 surrogates (`"\ud800"`);
//! `serde_json` refuses both. A document that fails for either reason is read again: lone surrogates become
//! U+FFFD, and, when the parser names a duplicate field, the text is rewritten without the earlier values of
//! every repeated key (only for documents up to [`MAX_DEDUPLICATED`]; the rewrite holds the keys of one
//! object at a time, about ten times that object's text at worst, and never a `serde_json::Value`).
//! Streamed chunks need none of this: their parser resolves duplicates and surrogates itself (see
//! `chat::stream::wire`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeOwned, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The largest document rewritten to resolve duplicate keys.
const MAX_DEDUPLICATED: usize = 1024 * 1024;

/// The deepest nesting the rewrite follows (`serde_json`'s own limit).
const MAX_DEPTH: usize = 128;

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
    // The error that decides whether duplicate keys are to blame is the fixed text's.
    let mut last = None;
    if fixed.is_some() {
        match serde_json::from_slice(text) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    if let Some(deduplicated) = without_duplicate_keys(text, last.as_ref().unwrap_or(&first)) {
        if let Ok(value) = serde_json::from_slice(&deduplicated) {
            return Ok(value);
        }
    }
    Err(first)
}

/// [`from_slice_lenient`] for a document the caller owns: lone surrogates are replaced in place, so the
/// retry costs no copy of a large document.
pub(crate) fn from_vec_lenient<T: DeserializeOwned>(
    mut bytes: Vec<u8>,
) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice(&bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let mut last = None;
    if replace_lone_surrogates_in_place(&mut bytes) {
        match serde_json::from_slice(&bytes) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    if let Some(deduplicated) = without_duplicate_keys(&bytes, last.as_ref().unwrap_or(&first)) {
        drop(bytes);
        if let Ok(value) = serde_json::from_slice(&deduplicated) {
            return Ok(value);
        }
    }
    Err(first)
}

/// `text` rewritten with only the last value of every key given twice in an object, when `error` (the
/// first parse's) names a duplicate field and the text is at most [`MAX_DEDUPLICATED`]; `None` otherwise.
pub(crate) fn without_duplicate_keys(text: &[u8], error: &serde_json::Error) -> Option<Vec<u8>> {
    if text.len() > MAX_DEDUPLICATED || !error.to_string().starts_with("duplicate field") {
        return None;
    }
    let raw = serde_json::from_slice::<&RawValue>(text).ok()?;
    let mut out = Vec::with_capacity(text.len());
    write_deduplicated(raw, &mut out, 0).ok()?;
    Some(out)
}

/// Writes `raw` to `out`, keeping only the last value of a key repeated in an object, at every level.
fn write_deduplicated(
    raw: &RawValue,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), serde_json::Error> {
    if depth > MAX_DEPTH {
        return Err(serde_json::Error::custom("nested too deeply"));
    }
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let entries = serde_json::from_str::<Entries<'_>>(text)?.0;
            // The last index of each key: sort the indices by key, keep the last of each run.
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
            let mut kept = vec![false; entries.len()];
            for (n, &i) in order.iter().enumerate() {
                let last = order
                    .get(n + 1)
                    .is_none_or(|&next| entries[next].0 != entries[i].0);
                kept[i] = last;
            }
            out.push(b'{');
            let mut first = true;
            for ((key, value), keep) in entries.iter().zip(kept) {
                if !keep {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut *out, key.as_ref())?;
                out.push(b':');
                write_deduplicated(value, out, depth + 1)?;
            }
            out.push(b'}');
        }
        Some(b'[') => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            deserializer.deserialize_seq(ArrayWriter { out, depth })?;
        }
        _ => out.extend_from_slice(text.as_bytes()),
    }
    Ok(())
}

/// The entries of one object, borrowed.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    entries.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Writes the elements of an array as they are read.
struct ArrayWriter<'o> {
    out: &'o mut Vec<u8>,
    depth: usize,
}

impl<'de> Visitor<'de> for ArrayWriter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_deduplicated(item, self.out, self.depth + 1).map_err(A::Error::custom)?;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// The text with every `\uD800`–`\uDFFF` escape that is not half of a valid pair replaced by `\uFFFD`, or
/// `None` when there is none (the common case: nothing is copied).
pub(crate) fn replace_lone_surrogates(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut at = next_lone_surrogate(bytes, 0)?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut copied = 0;
    loop {
        out.extend_from_slice(&bytes[copied..at]);
        out.extend_from_slice(REPLACEMENT_ESCAPE);
        copied = at + REPLACEMENT_ESCAPE.len();
        match next_lone_surrogate(bytes, copied) {
            Some(next) => at = next,
            None => break,
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    Some(out)
}

/// [`replace_lone_surrogates`] in place (each escape and its replacement are six bytes): whether any was
/// replaced. For a document that is already owned and may be most of an 8 MiB line, no copy.
pub(crate) fn replace_lone_surrogates_in_place(bytes: &mut [u8]) -> bool {
    let mut from = 0;
    let mut replaced = false;
    while let Some(at) = next_lone_surrogate(bytes, from) {
        bytes[at..at + REPLACEMENT_ESCAPE.len()].copy_from_slice(REPLACEMENT_ESCAPE);
        from = at + REPLACEMENT_ESCAPE.len();
        replaced = true;
    }
    replaced
}

/// `\uFFFD`, as long as the `\uD800` escape it replaces.
const REPLACEMENT_ESCAPE: &[u8; 6] = b"\\uFFFD";

/// Where the next lone surrogate escape (six bytes, `\uD800`–`\uDFFF` not half of a valid pair) starts,
/// scanning from `from`, which must not be inside an escape.
fn next_lone_surrogate(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    // `get`, not an index: after a trailing backslash `i` is one past the end.
    while let Some(found) = bytes.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
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
            return Some(at);
        }
        i = at + 6;
    }
    None
}

pub(crate) fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    digits?
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}

/// A request's JSON body with `stream` set as given, whatever the request says (the request itself is not
/// changed).
pub(crate) fn body_with_stream<T: serde::Serialize>(
    request: &T,
    stream: bool,
) -> Result<Vec<u8>, crate::error::Error> {
    let mut value = serde_json::to_value(request).map_err(crate::error::Error::Serialize)?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("stream".to_string(), serde_json::Value::Bool(stream));
    }
    serde_json::to_vec(&value).map_err(crate::error::Error::Serialize)
}

/// Reads past a value (`deserialize_with`, with `default`): whether the field is present.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A field's value as its raw JSON text (`deserialize_with`, with `default`: `None` when absent; `null`
/// is kept as the text `null`).
pub(crate) fn present_raw<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A map key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
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

    crate::lenient::skip_scalars!(TopLevel::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn a_lone_surrogate_before_a_duplicate_key_reads_both_ways() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            content: String,
        }
        let text = br#"{"content":"\ud800","content":"b"}"#;
        let expected = Doc {
            content: "b".to_string(),
        };
        assert_eq!(from_slice_lenient::<Doc>(text).unwrap(), expected);
        assert_eq!(from_vec_lenient::<Doc>(text.to_vec()).unwrap(), expected);
        let text = br#"{"content":"a","content":"\ud800"}"#;
        let expected = Doc {
            content: "\u{fffd}".to_string(),
        };
        assert_eq!(from_slice_lenient::<Doc>(text).unwrap(), expected);
        assert_eq!(from_vec_lenient::<Doc>(text.to_vec()).unwrap(), expected);
    }

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

    #[test]
    fn every_cut_of_an_escaped_document_is_an_answer_not_a_panic() {
        // Review 2 found a body ending in a backslash indexed one past the end. Cut documents full of
        // escapes at every byte, and the lenient parser on top of the scan, so no cut can panic.
        let docs: [&[u8]; 3] = [
            br#"{"a":"C:\\ \ud800\udc00 \ud800 \udc00 \u00e9\n\"","b":"\\"}"#,
            br#"["\\\\\\\u","\ud83d\ude00\"]"#,
            br#"\\u\ud8\\\"#,
        ];
        for doc in docs {
            for end in 0..=doc.len() {
                let cut = &doc[..end];
                let _ = replace_lone_surrogates(cut);
                let _ = from_slice_lenient::<Msg>(cut);
            }
        }
        assert_eq!(replace_lone_surrogates(br"C:\\"), None);
        assert_eq!(replace_lone_surrogates(br"C:\"), None);
        assert_eq!(
            replace_lone_surrogates(br"\ud800\").as_deref(),
            Some(&br"\uFFFD\"[..])
        );
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
        #[derive(Deserialize, Debug)]
        struct Outer {
            inner: Vec<Msg>,
            n: u8,
        }
        let o: Outer = from_slice_lenient(
            br#"{"n":1,"inner":[{"content":"a","content":"b","x":{"y":1,"y":[2]}}],"n":2}"#,
        )
        .unwrap();
        assert_eq!((o.inner[0].content.as_str(), o.n), ("b", 2));
        let e = serde_json::from_slice::<Outer>(br#"{"n":1,"n":2}"#).unwrap_err();
        assert_eq!(
            without_duplicate_keys(br#"{"n":1,"a\n":[{"k":1,"k":2}],"n":2}"#, &e).unwrap(),
            br#"{"a\n":[{"k":2}],"n":2}"#
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(without_duplicate_keys(deep.as_bytes(), &e), None);
        let other = serde_json::from_slice::<Outer>(b"{}").unwrap_err();
        assert_eq!(without_duplicate_keys(br#"{"n":1,"n":2}"#, &other), None);
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
