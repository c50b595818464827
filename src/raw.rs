//! [`RawJson`]: a piece of a response kept as the JSON text it arrived as.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A piece of a response kept as the JSON text it arrived as, parsed only when you ask.
///
/// Used for parts this crate passes through without interpreting (`logprobs`, a batch's `metadata`, a voice
/// deletion's answer, and each value of [`ExtraFields`](crate::ExtraFields)): as text they take exactly the
/// bytes they arrived in, where a parsed `serde_json::Value` can take many times that, so a hostile server
/// cannot inflate memory through them.
///
/// ```
/// use siliconflow::RawJson;
///
/// let raw: RawJson = serde_json::from_str(r#"{"content":[{"token":"Hi","logprob":-0.1}]}"#)?;
/// assert_eq!(raw.get(), r#"{"content":[{"token":"Hi","logprob":-0.1}]}"#);
/// let value = raw.to_value();
/// assert_eq!(value["content"][0]["token"], "Hi");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Parses the text as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.get())
    }

    /// Parses the text as a `serde_json::Value` (`Null` if it cannot be parsed: only text holding a lone
    /// UTF-16 surrogate escape, which the raw text keeps as sent, cannot).
    pub fn to_value(&self) -> serde_json::Value {
        self.parse().unwrap_or_default()
    }

    /// Copies borrowed JSON text.
    pub(crate) fn from_raw(raw: &RawValue) -> RawJson {
        RawJson(raw.to_owned())
    }

    /// Takes JSON text, checking that it is one JSON value.
    pub(crate) fn from_string(json: String) -> Result<RawJson, serde_json::Error> {
        RawValue::from_string(json).map(RawJson)
    }
}

/// `null`.
impl Default for RawJson {
    fn default() -> Self {
        RawJson::from_raw(RawValue::NULL)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl PartialEq for RawJson {
    /// Equal when the texts are equal.
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for RawJson {}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(RawJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_a_value_detour() {
        let raw: RawJson = serde_json::from_str(r#" [1, {"a": null}] "#).unwrap();
        assert_eq!(raw.get(), r#"[1, {"a": null}]"#);
        assert_eq!(serde_json::to_string(&raw).unwrap(), r#"[1, {"a": null}]"#);
        let value = serde_json::json!({"logprobs": {"content": []}});
        #[derive(Deserialize)]
        struct Holder {
            logprobs: RawJson,
        }
        let holder: Holder = serde_json::from_value(value).unwrap();
        assert_eq!(holder.logprobs.get(), r#"{"content":[]}"#);
    }
}
