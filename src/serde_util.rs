//! Small serde helpers shared by the wire types: open string enums and null-tolerant fields.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// Defines an open string enum: known values get a variant, any other string is kept in `Other`.
///
/// Parsing a known value allocates nothing, which matters for fields repeated on every chunk (`role`).
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// Any other value, kept exactly as the server sent it.
            Other(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <$crate::serde_util::Text as serde::Deserialize>::deserialize(deserializer)?;
                Ok($name::from(&*text.0))
            }
        }
    };
}
pub(crate) use open_enum;

/// Deserializes `null` (and absence, with `#[serde(default)]`) as the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Deserializes an optional open enum, reading `null` and `""` as `None` (SiliconFlow sends
/// `"finish_reason": ""` mid-stream to mean "not finished").
pub(crate) fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    let text = Option::<Text<'de>>::deserialize(deserializer)?;
    Ok(text.filter(|t| !t.0.is_empty()).map(|t| T::from(&t.0)))
}

/// A string that borrows from the input when it has no escapes, and is owned otherwise.
///
/// (`Cow<str>`'s own `Deserialize` always allocates; this one only does when it must.) It reads strings as
/// leniently as Python's `json` does: a lone UTF-16 surrogate escape (`"\ud800"`), which `serde_json`
/// refuses in a `str`, becomes U+FFFD. It asks `serde_json` for the string's bytes (where lone surrogates
/// are allowed) and checks them as UTF-8 itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                v: &'de [u8],
            ) -> Result<Text<'a>, E> {
                Ok(Text(match std::str::from_utf8(v) {
                    Ok(text) => Cow::Borrowed(text),
                    Err(_) => Cow::Owned(wtf8_lossy(v)),
                }))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(match std::str::from_utf8(v) {
                    Ok(text) => text.to_string(),
                    Err(_) => wtf8_lossy(v),
                })))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(match String::from_utf8(v) {
                    Ok(text) => text,
                    Err(e) => wtf8_lossy(e.as_bytes()),
                })))
            }
        }
        deserializer.deserialize_bytes(Visitor(std::marker::PhantomData))
    }
}

/// Text from bytes that may hold surrogates encoded as UTF-8 (what `serde_json` makes of a lone `\ud800`):
/// each such surrogate becomes one U+FFFD, and any other invalid sequence is replaced as
/// `String::from_utf8_lossy` would.
pub(crate) fn wtf8_lossy(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // `valid` was just checked.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push(char::REPLACEMENT_CHARACTER);
                let surrogate = rest.len() >= 3
                    && rest[0] == 0xED
                    && (0xA0..=0xBF).contains(&rest[1])
                    && (0x80..=0xBF).contains(&rest[2]);
                let skip = if surrogate {
                    3
                } else {
                    e.error_len().unwrap_or(rest.len()).max(1)
                };
                bytes = &rest[skip.min(rest.len())..];
            }
        }
    }
}

/// Reads an optional unsigned integer leniently: a JSON number (an integral float too), or a string of
/// digits; `null`, a negative or fractional number, other text and other shapes read as `None`.
///
/// For fields whose type the documentation does not pin down (timestamps, counts, seeds): one odd field
/// must not make a whole answer (with its result URLs) unreadable.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    Ok(value_as_u64(&serde_json::Value::deserialize(deserializer)?))
}

/// The value as an unsigned integer, if it is one (a number, an integral float, or a string of digits).
pub(crate) fn value_as_u64(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads an optional number leniently: a JSON number, or a string that parses as a finite number;
/// anything else reads as `None`.
pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    })
}

/// Reads an optional string leniently: a string as it is, a number or boolean as its JSON text; `null`
/// and other shapes read as `None`.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(&serde_json::Value::deserialize(deserializer)?))
}

/// A JSON scalar as text (strings as they are, numbers and booleans as JSON); `null` and containers give
/// `None`.
pub(crate) fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Lenient {
        #[serde(default, deserialize_with = "lenient_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "lenient_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "lenient_string")]
        s: Option<String>,
    }

    #[test]
    fn lenient_fields_read_what_they_can() {
        let read = |v: serde_json::Value| serde_json::from_value::<Lenient>(v).unwrap();
        let all = read(json!({"n": 9_999_999_999u64, "f": 0.25, "s": "x"}));
        assert_eq!(
            (all.n, all.f, all.s.as_deref()),
            (Some(9_999_999_999), Some(0.25), Some("x"))
        );
        let text = read(json!({"n": " 12 ", "f": "1.5", "s": 7}));
        assert_eq!(
            (text.n, text.f, text.s.as_deref()),
            (Some(12), Some(1.5), Some("7"))
        );
        let float = read(json!({"n": 3.0, "f": 2, "s": true}));
        assert_eq!(
            (float.n, float.f, float.s.as_deref()),
            (Some(3), Some(2.0), Some("true"))
        );
        for odd in [
            json!(null),
            json!(-1),
            json!(1.5),
            json!("x"),
            json!([1]),
            json!({"a": 1}),
        ] {
            let r = read(json!({"n": odd, "f": odd, "s": odd}));
            assert_eq!(r.n, None, "{odd}");
            if !odd.is_number() {
                assert_eq!(r.f, None, "{odd}");
            }
            if !odd.is_number() && !odd.is_string() {
                assert_eq!(r.s, None, "{odd}");
            }
        }
        let absent = read(json!({}));
        assert_eq!((absent.n, absent.f, absent.s), (None, None, None));
        assert_eq!(read(json!({"f": "NaN"})).f, None);
    }

    #[test]
    fn lone_surrogates_read_as_one_replacement_character_each() {
        let text: Text = serde_json::from_str(r#""a\ud800b\udfffc\ud83d\ude00""#).unwrap();
        assert_eq!(text.0, "a\u{FFFD}b\u{FFFD}c\u{1F600}");
        let text: Text = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(text.0, Cow::Borrowed("plain")));
        assert_eq!(wtf8_lossy(b"ok\xffend"), "ok\u{FFFD}end");
        assert_eq!(wtf8_lossy(b"cut \xe4\xbd"), "cut \u{FFFD}");
    }
}
