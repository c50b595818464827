//! Tolerant readers of single fields, as serde visitors: each accepts the shapes its field is documented
//! (or known) to take and reads anything else as "unknown", skipping it with [`IgnoredAny`] without
//! allocating, so one odd field never fails an answer and never costs memory.
//!
//! [`Lenient<T>`] wraps the value read (`None` for any other shape); the `lenient_*` functions (for
//! `deserialize_with`) and the tolerant fields of the endpoint types are built on it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A field read leniently as `T`: `Lenient(None)` for `null` and for any shape `T` does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Lenient<T>(pub Option<T>);

/// How a lenient field reads each JSON scalar; every method returns `None` by default (not accepted).
pub(crate) trait Scalar: Sized {
    /// What the field accepts, for messages.
    const EXPECTING: &'static str;

    /// A non-negative integer.
    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    /// A negative integer.
    fn from_i64(_: i64) -> Option<Self> {
        None
    }

    /// A number with a fraction or an exponent.
    fn from_f64(_: f64) -> Option<Self> {
        None
    }

    /// A string.
    fn from_str(_: &str) -> Option<Self> {
        None
    }

    /// A string the parser already owns (`from_str` unless the type can keep it).
    fn from_string(text: String) -> Option<Self> {
        Self::from_str(&text)
    }

    /// A boolean.
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
}

impl<'de, T: Scalar> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ScalarVisitor(PhantomData))
            .map(Lenient)
    }
}

struct ScalarVisitor<T>(PhantomData<T>);

impl<'de, T: Scalar> Visitor<'de> for ScalarVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Option<T>, E> {
        Ok(T::from_bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Option<T>, E> {
        Ok(match u64::try_from(v) {
            Ok(v) => T::from_u64(v),
            Err(_) => T::from_i64(v),
        })
    }

    fn visit_u64<E>(self, v: u64) -> Result<Option<T>, E> {
        Ok(T::from_u64(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Option<T>, E> {
        Ok(T::from_f64(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Option<T>, E> {
        Ok(T::from_str(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Option<T>, E> {
        Ok(T::from_string(v))
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// An unsigned integer: a number (an integral float too), or a string of digits.
impl Scalar for u64 {
    const EXPECTING: &'static str = "an unsigned integer";

    fn from_u64(v: u64) -> Option<u64> {
        Some(v)
    }

    fn from_f64(v: f64) -> Option<u64> {
        // `u64::MAX as f64` rounds up to 2^64, which is out of range: `<` keeps the cast exact.
        (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64).then_some(v as u64)
    }

    fn from_str(v: &str) -> Option<u64> {
        v.trim().parse().ok()
    }
}

/// A number: any JSON number, or a string that parses as a finite number.
impl Scalar for f64 {
    const EXPECTING: &'static str = "a number";

    fn from_u64(v: u64) -> Option<f64> {
        Some(v as f64)
    }

    fn from_i64(v: i64) -> Option<f64> {
        Some(v as f64)
    }

    fn from_f64(v: f64) -> Option<f64> {
        Some(v)
    }

    fn from_str(v: &str) -> Option<f64> {
        v.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

/// Text: a string as it is, a number or a boolean as its JSON text.
impl Scalar for String {
    const EXPECTING: &'static str = "a string, number or boolean";

    fn from_u64(v: u64) -> Option<String> {
        Some(v.to_string())
    }

    fn from_i64(v: i64) -> Option<String> {
        Some(v.to_string())
    }

    fn from_f64(v: f64) -> Option<String> {
        // As `serde_json` writes the number.
        serde_json::Number::from_f64(v).map(|n| n.to_string())
    }

    fn from_str(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn from_string(v: String) -> Option<String> {
        Some(v)
    }

    fn from_bool(v: bool) -> Option<String> {
        Some(v.to_string())
    }
}

/// A flag: `true`/`false`, the string `"true"` (any case; any other string is `false`), a non-zero
/// unsigned integer. Other numbers are `false`; other shapes unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub bool);

impl Scalar for Flag {
    const EXPECTING: &'static str = "a boolean";

    fn from_u64(v: u64) -> Option<Flag> {
        Some(Flag(v != 0))
    }

    fn from_i64(_: i64) -> Option<Flag> {
        Some(Flag(false))
    }

    fn from_f64(_: f64) -> Option<Flag> {
        Some(Flag(false))
    }

    fn from_str(v: &str) -> Option<Flag> {
        Some(Flag(v.trim().eq_ignore_ascii_case("true")))
    }

    fn from_bool(v: bool) -> Option<Flag> {
        Some(Flag(v))
    }
}

/// Only a JSON boolean; anything else is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OnlyBool(pub bool);

impl Scalar for OnlyBool {
    const EXPECTING: &'static str = "a boolean";

    fn from_bool(v: bool) -> Option<OnlyBool> {
        Some(OnlyBool(v))
    }
}

/// Reads an optional unsigned integer leniently (`deserialize_with`): a JSON number (an integral float
/// too), or a string of digits; `null`, a negative or fractional number, other text and other shapes read
/// as `None`.
///
/// For fields whose type the documentation does not pin down (timestamps, counts, seeds): one odd field
/// must not make a whole answer (with its result URLs) unreadable.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Lenient::<u64>::deserialize(d)?.0)
}

/// Visitor methods that read the scalars a loosely typed field may hold instead of its real shape (a
/// boolean, a number, `null`, and unless `except_str` a string) as `$value`, skipping them: one odd value
/// must not make a whole answer unreadable.
macro_rules! skip_scalars {
    ($value:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        $crate::lenient::skip_scalars!(except_str $value);
    };
    (except_str $value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
pub(crate) use skip_scalars;

/// Reads an optional number leniently (`deserialize_with`): a JSON number, or a string that parses as a
/// finite number; anything else reads as `None`.
#[cfg(test)]
pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Lenient::<f64>::deserialize(d)?.0)
}

/// Reads an optional string leniently (`deserialize_with`): a string as it is, a number or boolean as its
/// JSON text; `null` and other shapes read as `None`.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Lenient::<String>::deserialize(d)?.0)
}

/// Reads `Option<bool>` where only a JSON boolean counts (`deserialize_with`).
pub(crate) fn only_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Lenient::<OnlyBool>::deserialize(d)?.0.map(|b| b.0))
}

/// Reads a lenient flag, unknown shapes as `false` (`deserialize_with`).
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Lenient::<Flag>::deserialize(d)?.0.is_some_and(|f| f.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "lenient_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "lenient_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "lenient_string")]
        s: Option<String>,
    }

    #[test]
    fn lenient_fields_read_what_they_can() {
        let read = |v: serde_json::Value| serde_json::from_value::<Fields>(v).unwrap();
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

    fn read<T: Scalar>(json: &str) -> Option<T> {
        serde_json::from_str::<Lenient<T>>(json).unwrap().0
    }

    #[test]
    fn every_shape_reads_or_is_skipped() {
        assert_eq!(read::<u64>("12"), Some(12));
        assert_eq!(read::<u64>("\" 12 \""), Some(12));
        assert_eq!(read::<u64>("3.0"), Some(3));
        assert_eq!(read::<u64>("1e3"), Some(1000));
        for odd in [
            "-1",
            "1.5",
            "1e30",
            "\"x\"",
            "null",
            "true",
            "[1]",
            "{\"a\":[1]}",
        ] {
            assert_eq!(read::<u64>(odd), None, "{odd}");
        }
        assert_eq!(read::<f64>("-2"), Some(-2.0));
        assert_eq!(read::<f64>("\"1.5\""), Some(1.5));
        assert_eq!(read::<f64>("\"NaN\""), None);
        assert_eq!(read::<String>("7"), Some("7".into()));
        assert_eq!(read::<String>("-7"), Some("-7".into()));
        assert_eq!(read::<String>("1.5"), Some("1.5".into()));
        assert_eq!(read::<String>("false"), Some("false".into()));
        assert_eq!(read::<String>("\"a\\nb\""), Some("a\nb".into()));
        assert_eq!(read::<String>("[\"a\"]"), None);
        assert_eq!(read::<Flag>("1"), Some(Flag(true)));
        assert_eq!(read::<Flag>("-1"), Some(Flag(false)));
        assert_eq!(read::<Flag>("1.0"), Some(Flag(false)));
        assert_eq!(read::<Flag>("\" TRUE \""), Some(Flag(true)));
        assert_eq!(read::<Flag>("{}"), None);
        assert_eq!(read::<OnlyBool>("true"), Some(OnlyBool(true)));
        assert_eq!(read::<OnlyBool>("\"true\""), None);
    }

    #[test]
    fn through_a_value_too() {
        let value = serde_json::json!({"a": [1, {"b": null}]});
        assert_eq!(
            serde_json::from_value::<Lenient<u64>>(value).unwrap().0,
            None
        );
        let value = serde_json::json!("42");
        assert_eq!(
            serde_json::from_value::<Lenient<u64>>(value).unwrap().0,
            Some(42)
        );
    }
}
