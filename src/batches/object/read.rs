//! The tolerant readers of a batch's fields: its request counts and errors of any shape, its metadata
//! kept as text, and the list of batches bare or wrapped, each a visitor that skips what it does not read
//! (with `IgnoredAny`, building nothing) and bounds its lists
//! ([`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)).

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Batch, BatchError, BatchList, RequestCounts};
use crate::bounded::{collect, push, Entry};
use crate::extra::Collector;
use crate::json::Key;
use crate::lenient::{flag, lenient_string, Lenient};
use crate::meta::ResponseMeta;
use crate::raw::RawJson;
use crate::serde_util::null_as_default;

impl Entry for Batch {
    const WHAT: &'static str = "batches";

    /// The batch and its errors.
    fn entries(&self) -> usize {
        1 + self.errors.len()
    }
}

impl Entry for BatchError {
    const WHAT: &'static str = "batch errors";
}

/// Reads an id or a name, blank as none.
pub(super) fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(lenient_string(d)?.filter(|s| !s.trim().is_empty()))
}

/// Reads an object as its JSON text; any other value as none.
pub(super) fn object_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RawJson>, D::Error> {
    let raw = Option::<RawJson>::deserialize(d)?;
    Ok(raw.filter(|raw| raw.get().starts_with('{')))
}

/// `{"total", "completed", "failed", …}`, or the first such object of an array; anything else as all
/// unknown.
impl<'de> Deserialize<'de> for RequestCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(deserializer
            .deserialize_any(CountsVisitor { in_array: true })?
            .unwrap_or_default())
    }
}

/// Reads counts: `Some` from an object, `None` from anything else (skipped).
struct CountsVisitor {
    /// Whether an array is searched for an object (only at the top).
    in_array: bool,
}

impl<'de> Deserialize<'de> for Counts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CountsVisitor { in_array: false })
            .map(Counts)
    }
}

/// An item of an array of counts.
struct Counts(Option<RequestCounts>);

impl<'de> Visitor<'de> for CountsVisitor {
    type Value = Option<RequestCounts>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request counts")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut counts = RequestCounts::default();
        let mut extra = Collector::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let count = match &*key {
                "total" => &mut counts.total,
                "completed" => &mut counts.completed,
                "failed" => &mut counts.failed,
                _ => {
                    extra.keep(key, &mut map)?;
                    continue;
                }
            };
            *count = map.next_value::<Lenient<u64>>()?.0;
        }
        counts.extra = extra.finish();
        Ok(Some(counts))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        if self.in_array {
            while let Some(Counts(counts)) = seq.next_element::<Counts>()? {
                if counts.is_some() {
                    found = counts;
                    break;
                }
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }

    crate::lenient::skip_scalars!(None);
}

/// Reads a batch's `errors`: an array of strings or objects, OpenAI's `{"object":"list","data":[…]}`,
/// one error object, or one string; other items and shapes are skipped. At most
/// [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES).
pub(super) fn tolerant_errors<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<BatchError>, D::Error> {
    d.deserialize_any(ErrorsVisitor)
}

struct ErrorsVisitor;

impl<'de> Visitor<'de> for ErrorsVisitor {
    type Value = Vec<BatchError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("batch errors")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<BatchError>, A::Error> {
        let mut errors = Vec::new();
        let mut entries = 0;
        while let Some(ErrorItem(item)) = seq.next_element::<ErrorItem>()? {
            if let Some(error) = item {
                entries = push(&mut errors, error, entries)?;
            }
        }
        Ok(errors)
    }

    /// OpenAI's list (its `data`, or none when that is not an array), or one error object.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<BatchError>, A::Error> {
        let mut data: Option<Vec<BatchError>> = None;
        let mut single = BatchError::default();
        let mut extra = Collector::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "data" => data = Some(map.next_value::<ErrorList>()?.0),
                "code" => single.code = map.next_value::<Lenient<String>>()?.0,
                "message" => single.message = map.next_value::<Lenient<String>>()?.0,
                "param" => single.param = map.next_value::<Lenient<String>>()?.0,
                "line" => single.line = map.next_value::<Lenient<u64>>()?.0,
                _ => extra.keep(key, &mut map)?,
            }
        }
        single.extra = extra.finish();
        Ok(data.unwrap_or_else(|| vec![single]))
    }

    fn visit_str<E>(self, v: &str) -> Result<Vec<BatchError>, E> {
        Ok(vec![message_only(v.to_string())])
    }

    fn visit_string<E>(self, v: String) -> Result<Vec<BatchError>, E> {
        Ok(vec![message_only(v)])
    }

    crate::lenient::skip_scalars!(except_str Vec::new());
}

fn message_only(message: String) -> BatchError {
    BatchError {
        message: Some(message),
        ..BatchError::default()
    }
}

/// The `data` of OpenAI's error list: an array of errors, anything else as none.
struct ErrorList(Vec<BatchError>);

impl<'de> Deserialize<'de> for ErrorList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Vec<BatchError>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of batch errors")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<BatchError>, A::Error> {
                ErrorsVisitor.visit_seq(seq)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<BatchError>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Vec::new())
            }
            crate::lenient::skip_scalars!(Vec::new());
        }
        deserializer.deserialize_any(ListVisitor).map(ErrorList)
    }
}

/// An item of an error list: a string (the message), an object, or anything else (skipped, `None`).
struct ErrorItem(Option<BatchError>);

impl<'de> Deserialize<'de> for ErrorItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Option<BatchError>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a batch error")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(message_only(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(message_only(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                BatchError::deserialize(MapAccessDeserializer::new(map)).map(Some)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            crate::lenient::skip_scalars!(except_str None);
        }
        deserializer.deserialize_any(ItemVisitor).map(ErrorItem)
    }
}

/// A list of batches: `{"object", "data", "first_id", "last_id", "has_more"}` or a bare array.
impl<'de> Deserialize<'de> for BatchList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BatchListVisitor)
    }
}

struct BatchListVisitor;

/// The documented shape of a batch list.
#[derive(Deserialize)]
struct ListObject {
    #[serde(default, deserialize_with = "null_as_default")]
    object: String,
    #[serde(default, deserialize_with = "crate::bounded::list")]
    data: Vec<Batch>,
    #[serde(default, deserialize_with = "non_empty")]
    first_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    last_id: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    has_more: bool,
}

impl<'de> Visitor<'de> for BatchListVisitor {
    type Value = BatchList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of batches")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<BatchList, A::Error> {
        Ok(BatchList {
            data: collect(seq)?,
            ..BatchList::default()
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BatchList, A::Error> {
        let list = ListObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(BatchList {
            object: list.object,
            data: list.data,
            first_id: list.first_id,
            last_id: list.last_id,
            has_more: list.has_more,
            response: ResponseMeta::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounded::MAX_LIST_ENTRIES;

    #[test]
    fn lists_of_errors_and_batches_are_bounded() {
        let errors = format!(r#"{{"errors":[{}"e"]}}"#, "\"e\",".repeat(MAX_LIST_ENTRIES));
        let e = serde_json::from_str::<Batch>(&errors).unwrap_err();
        assert!(e.to_string().starts_with("too many batch errors"), "{e}");
        // Skipped items do not count.
        let skipped = format!(r#"{{"errors":[{}"e"]}}"#, "1,".repeat(MAX_LIST_ENTRIES));
        assert_eq!(
            serde_json::from_str::<Batch>(&skipped)
                .unwrap()
                .errors
                .len(),
            1
        );
        // A batch counts with its errors.
        let half = format!(
            r#"{{"errors":[{}"e"]}}"#,
            "\"e\",".repeat(MAX_LIST_ENTRIES / 2)
        );
        let list = format!("[{half},{half}]");
        let e = serde_json::from_str::<BatchList>(&list).unwrap_err();
        assert!(e.to_string().contains("counting the lists nested"), "{e}");
        assert!(serde_json::from_str::<BatchList>("5").is_err());
    }
}
