//! [`ExtraFields`]: the fields of an answer's object this crate does not know, kept as one JSON text.
//!
//! Answer types keep what they do not know in an `extra` field, read without `#[serde(flatten)]` (which
//! buffers every unknown value as a tree of serde values, many times its text's size): a type's derived
//! reader sees only its known fields, through [`capture`], and each unknown field's value is kept as the
//! JSON text it arrived as, at most [`MAX_EXTRA_FIELDS`] per object (more are skipped). The fields of one
//! object end up in one string: they cost their text plus one allocation, and since they are disjoint
//! pieces of the body, all the extra fields of an answer together are at most the body's size.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::json::Key;
use crate::raw::RawJson;

/// The most unknown fields kept per object of an answer: 64 (more are read past, not kept).
pub const MAX_EXTRA_FIELDS: usize = 64;

/// The fields of an answer's object this crate does not know, as sent: at most [`MAX_EXTRA_FIELDS`] of
/// them, each value kept as its JSON text (parse it with [`RawJson::parse`]).
///
/// A field sent twice keeps its last value. Serialized, the fields are written back as they were sent.
///
/// ```
/// use siliconflow::ImageResponse;
///
/// let answer: ImageResponse = serde_json::from_str(r#"{"images":[],"shared_id":"0","n":[1,2]}"#)?;
/// assert_eq!(answer.extra.len(), 2);
/// assert_eq!(answer.extra.get("shared_id").map(|v| v.parse::<String>()).transpose()?.as_deref(), Some("0"));
/// assert_eq!(answer.extra.get("n").unwrap().get(), "[1,2]");
/// assert_eq!(answer.extra.as_json(), r#"{"shared_id":"0","n":[1,2]}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtraFields(String);

impl ExtraFields {
    /// Whether no unknown field was kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many fields were kept.
    pub fn len(&self) -> usize {
        let mut count = 0;
        self.walk(|_, _| count += 1);
        count
    }

    /// The value of field `name`, as JSON text.
    pub fn get(&self, name: &str) -> Option<RawJson> {
        let mut found = None;
        self.walk(|key, value| {
            if key == name {
                found = Some(RawJson::from_raw(value));
            }
        });
        found
    }

    /// Every field, in the order sent.
    pub fn fields(&self) -> Vec<(String, RawJson)> {
        let mut fields = Vec::new();
        self.walk(|key, value| fields.push((key.to_string(), RawJson::from_raw(value))));
        fields
    }

    /// The fields as one JSON object text (`{}` when there is none).
    pub fn as_json(&self) -> &str {
        if self.0.is_empty() {
            "{}"
        } else {
            &self.0
        }
    }

    /// The fields as a `serde_json` object (parsed now, from the kept text).
    pub fn to_value(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(self.as_json()).unwrap_or_default()
    }

    /// Calls `f` on every field of the kept text (which this crate wrote: it always parses).
    fn walk(&self, mut f: impl FnMut(&str, &RawValue)) {
        if self.0.is_empty() {
            return;
        }
        let mut deserializer = serde_json::Deserializer::from_str(&self.0);
        let _ = deserializer.deserialize_map(Walker(&mut f));
    }
}

struct Walker<'f, F>(&'f mut F);

impl<'de, F: FnMut(&str, &RawValue)> Visitor<'de> for Walker<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value::<&'de RawValue>()?;
            (self.0)(&key.0, value);
        }
        Ok(())
    }
}

impl fmt::Debug for ExtraFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_json())
    }
}

impl Serialize for ExtraFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = self.fields();
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Reads the fields of an object (within [`MAX_EXTRA_FIELDS`]).
impl<'de> Deserialize<'de> for ExtraFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = ExtraFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtraFields, A::Error> {
                let mut collector = Collector::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    collector.keep(key.0, &mut map)?;
                }
                Ok(collector.finish())
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// The unknown fields of one object as they are read.
#[derive(Default)]
pub(crate) struct Collector {
    fields: Vec<(String, Box<RawValue>)>,
}

impl Collector {
    /// Adds the fields of `other` whose names are not here yet (within [`MAX_EXTRA_FIELDS`]): merging
    /// costs the size of `other` only.
    pub(crate) fn add_missing(&mut self, other: &ExtraFields) {
        other.walk(|key, value| {
            if self.fields.len() < MAX_EXTRA_FIELDS && !self.fields.iter().any(|(k, _)| k == key) {
                self.fields.push((key.to_string(), value.to_owned()));
            }
        });
    }

    /// Reads the value of the unknown field `key`: kept (the last value of a repeated field), or skipped
    /// when [`MAX_EXTRA_FIELDS`] are kept already.
    pub(crate) fn keep<'de, A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let full = self.fields.len() >= MAX_EXTRA_FIELDS;
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, value)) => *value = map.next_value()?,
            None if !full => {
                let value = map.next_value()?;
                self.fields.push((key.into_owned(), value));
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    /// The fields kept.
    pub(crate) fn finish(self) -> ExtraFields {
        if self.fields.is_empty() {
            return ExtraFields::default();
        }
        let len = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>();
        let mut text = String::with_capacity(len + 1);
        for (key, value) in &self.fields {
            text.push(if text.is_empty() { '{' } else { ',' });
            // A key read from JSON, written back as a JSON string (serializing a `str` cannot fail).
            text.push_str(&serde_json::to_string(key).unwrap_or_default());
            text.push(':');
            text.push_str(value.get());
        }
        text.push('}');
        ExtraFields(text)
    }
}

/// Reads `T` (a type's derived reader of its known fields) and the object's other fields.
///
/// `T`'s reader asks for a struct with its field names (aliases included); every other key of the object
/// is kept in the [`ExtraFields`] (or skipped past [`MAX_EXTRA_FIELDS`]) and never reaches `T`.
pub(crate) fn capture<'de, D, T>(deserializer: D) -> Result<(T, ExtraFields), D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut collector = Collector::default();
    let value = T::deserialize(Capture {
        inner: deserializer,
        extra: &mut collector,
    })?;
    Ok((value, collector.finish()))
}

/// A deserializer that hands a struct only its known fields.
struct Capture<'c, D> {
    inner: D,
    extra: &'c mut Collector,
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Capture<'_, D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(
            name,
            fields,
            CaptureVisitor {
                fields,
                visitor,
                extra: self.extra,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

struct CaptureVisitor<'c, V> {
    fields: &'static [&'static str],
    visitor: V,
    extra: &'c mut Collector,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for CaptureVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(KnownFields {
            map,
            fields: self.fields,
            extra: self.extra,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }
}

/// The entries of an object whose keys are known fields; the others go to the collector.
struct KnownFields<'c, A> {
    map: A,
    fields: &'static [&'static str],
    extra: &'c mut Collector,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for KnownFields<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(Key(key)) = self.map.next_key::<Key<'de>>()? {
            if !self.fields.contains(&&*key) {
                self.extra.keep(key, &mut self.map)?;
                continue;
            }
            return match key {
                Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                Cow::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
            }
            .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Defines an answer type that keeps its unknown fields: the struct as written plus a public
/// `extra: ExtraFields` (serialized flattened), and a `Deserialize` that reads the written fields with
/// serde's derived reader (through a private twin) and the others into `extra`, through [`capture`].
///
/// The struct's `#[derive]` must not name `Deserialize`; field attributes apply to both.
macro_rules! with_extra {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$fmeta])*
                $fvis $field: $ty,
            )*
            /// Any other fields, as sent (see [`ExtraFields`](crate::ExtraFields)).
            #[serde(flatten)]
            pub extra: $crate::extra::ExtraFields,
        }

        const _: () = {
            #[derive(serde::Deserialize)]
            struct Known {
                $(
                    $(#[$fmeta])*
                    $field: $ty,
                )*
            }

            impl<'de> serde::Deserialize<'de> for $name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    let (known, extra) = $crate::extra::capture::<D, Known>(deserializer)?;
                    Ok($name {
                        $($field: known.$field,)*
                        extra,
                    })
                }
            }
        };
    };
}
pub(crate) use with_extra;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    with_extra! {
        /// A test type.
        #[derive(Debug, Clone, PartialEq, Default, Serialize)]
        pub struct Thing {
            /// Known.
            #[serde(default, alias = "nameAlias")]
            pub name: String,
            /// Known, renamed.
            #[serde(rename = "count", default, skip_serializing_if = "Option::is_none")]
            pub n: Option<u32>,
            /// Not read.
            #[serde(skip)]
            pub(crate) skipped: u8,
        }
    }

    #[test]
    fn unknown_fields_are_kept_as_text_known_ones_read() {
        let text =
            r#"{"a": 1, "name": "x", "b": {"c": [1, 2]}, "count": 3, "a": "again", "s\n": null}"#;
        let thing: Thing = serde_json::from_str(text).unwrap();
        assert_eq!((thing.name.as_str(), thing.n), ("x", Some(3)));
        assert_eq!(thing.extra.len(), 3);
        assert_eq!(thing.extra.get("a").unwrap().get(), r#""again""#);
        assert_eq!(thing.extra.get("b").unwrap().get(), r#"{"c": [1, 2]}"#);
        assert_eq!(thing.extra.get("s\n").unwrap().get(), "null");
        assert_eq!(thing.extra.get("name"), None);
        assert_eq!(
            thing.extra.as_json(),
            r#"{"a":"again","b":{"c": [1, 2]},"s\n":null}"#
        );
        assert_eq!(
            serde_json::to_value(&thing).unwrap(),
            json!({"name": "x", "count": 3, "a": "again", "b": {"c": [1, 2]}, "s\n": null})
        );
        assert_eq!(thing.extra.to_value()["b"]["c"][1], 2);
        let names: Vec<String> = thing.extra.fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["a", "b", "s\n"]);
    }

    #[test]
    fn aliases_are_known_and_values_work_too() {
        let thing: Thing = serde_json::from_value(json!({"nameAlias": "y", "z": [true]})).unwrap();
        assert_eq!(thing.name, "y");
        assert_eq!(thing.extra.get("z").unwrap().get(), "[true]");
        let plain: Thing = serde_json::from_str(r#"{"name":"n"}"#).unwrap();
        assert!(plain.extra.is_empty());
        assert_eq!(plain.extra.as_json(), "{}");
        assert_eq!(format!("{:?}", plain.extra), "{}");
        assert!(serde_json::from_str::<Thing>("null").is_err());
        assert!(serde_json::from_str::<Thing>(r#"{"count":"x"}"#).is_err());
    }

    #[test]
    fn at_most_the_cap_is_kept() {
        let fields: Vec<String> = (0..MAX_EXTRA_FIELDS + 10)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        let thing: Thing =
            serde_json::from_str(&format!("{{{},\"name\":\"last\"}}", fields.join(","))).unwrap();
        assert_eq!(thing.name, "last");
        assert_eq!(thing.extra.len(), MAX_EXTRA_FIELDS);
        assert!(thing.extra.get(&format!("k{}", MAX_EXTRA_FIELDS)).is_none());
        let mut merged = Collector::default();
        for text in [r#"{"b":3,"c":4}"#, r#"{"a":1,"b":2}"#] {
            merged.add_missing(&serde_json::from_str(text).unwrap());
        }
        assert_eq!(merged.finish().as_json(), r#"{"b":3,"c":4,"a":1}"#);
    }
}
