//! Small serde helpers shared by the wire types: open string enums and null-tolerant fields (the tolerant
//! readers of single fields are in `crate::lenient`).

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
            /// The bytes this value holds beyond its own size: the text of an unknown value.
            #[allow(dead_code)]
            pub(crate) fn held_len(&self) -> usize {
                match self {
                    $name::Other(other) => other.len(),
                    _ => 0,
                }
            }

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

#[cfg(test)]
mod tests {
    use super::*;

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
