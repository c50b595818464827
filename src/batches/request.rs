//! Creating and listing batches: [`BatchRequest`] (`POST /batches`) and [`BatchListQuery`]
//! (`GET /batches`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only endpoint batches support.
pub const BATCH_ENDPOINT: &str = "/v1/chat/completions";

/// The shortest completion window the guide allows, in hours.
pub const MIN_COMPLETION_WINDOW_HOURS: u32 = 24;

/// The longest completion window the guide allows, in hours (14 days).
pub const MAX_COMPLETION_WINDOW_HOURS: u32 = 336;

/// The most metadata pairs, the longest key and the longest value (in characters) the docs allow.
pub const METADATA_LIMITS: (usize, usize, usize) = (16, 64, 512);

/// A request the documentation's limits reject, found before sending it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchRequestError {
    /// The completion window is not `"<hours>h"` with 24 ≤ hours ≤ 336.
    #[error("completion window {0:?} is not between \"24h\" and \"336h\"")]
    CompletionWindow(String),
    /// More than 16 metadata pairs.
    #[error("{0} metadata pairs, at most 16 are allowed")]
    TooManyMetadataPairs(usize),
    /// A metadata key longer than 64 characters.
    #[error("metadata key {0:?} is longer than 64 characters")]
    MetadataKeyTooLong(String),
    /// A metadata value longer than 512 characters (the key is given).
    #[error("the value of metadata key {0:?} is longer than 512 characters")]
    MetadataValueTooLong(String),
}

/// A batch creation request (`POST /batches`): the uploaded input file, the endpoint, the completion
/// window, and optional metadata and `replace` overrides.
///
/// ```
/// use siliconflow::BatchRequest;
///
/// let request = BatchRequest::new("file-jkvytbjtow")
///     .completion_window_hours(48)
///     .metadata("description", "nightly eval job")
///     .replace_model("deepseek-ai/DeepSeek-V3");
/// request.check()?;
/// assert_eq!(
///     serde_json::to_value(&request).unwrap(),
///     serde_json::json!({"input_file_id": "file-jkvytbjtow", "endpoint": "/v1/chat/completions",
///                        "completion_window": "48h", "metadata": {"description": "nightly eval job"},
///                        "replace": {"model": "deepseek-ai/DeepSeek-V3"}})
/// );
/// # Ok::<(), siliconflow::BatchRequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchRequest {
    /// The uploaded input file's id ([`FileObject::id`](crate::FileObject::id)).
    pub input_file_id: String,
    /// The endpoint of every request in the file: [`BATCH_ENDPOINT`].
    pub endpoint: String,
    /// How long the batch may take: `"24h"` to `"336h"`.
    pub completion_window: String,
    /// Up to 16 string pairs of your own (key ≤ 64 characters, value ≤ 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// SiliconFlow's overrides for every line: `{"model": …}` replaces each request's model. Other keys
    /// are undocumented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<Map<String, Value>>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BatchRequest {
    /// A batch of the requests in `input_file_id`, to `/v1/chat/completions`, within 24 hours.
    pub fn new(input_file_id: impl Into<String>) -> Self {
        BatchRequest {
            input_file_id: input_file_id.into(),
            endpoint: BATCH_ENDPOINT.to_string(),
            completion_window: format!("{MIN_COMPLETION_WINDOW_HOURS}h"),
            metadata: None,
            replace: None,
            extra: Map::new(),
        }
    }

    /// Sets the completion window as sent (`"24h"`).
    #[must_use]
    pub fn completion_window(mut self, window: impl Into<String>) -> Self {
        self.completion_window = window.into();
        self
    }

    /// Sets the completion window in hours (`"<hours>h"`; 24 to 336).
    #[must_use]
    pub fn completion_window_hours(self, hours: u32) -> Self {
        self.completion_window(format!("{hours}h"))
    }

    /// Adds a metadata pair.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Replaces the model of every request in the file (`replace.model`): needed when the lines name
    /// different models, and wins over them.
    #[must_use]
    pub fn replace_model(self, model: impl Into<String>) -> Self {
        self.replace_field("model", model.into())
    }

    /// Sets another `replace` key (undocumented).
    #[must_use]
    pub fn replace_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.replace
            .get_or_insert_with(Map::new)
            .insert(name.into(), value.into());
        self
    }

    /// Sets a field this crate has no method for; it is sent at the top level of the JSON body.
    #[must_use]
    pub fn extra_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Checks the documented limits: the completion window (24 h to 336 h, in the `"<hours>h"` form the
    /// docs use) and the metadata (≤ 16 pairs, keys ≤ 64 characters, values ≤ 512).
    pub fn check(&self) -> Result<(), BatchRequestError> {
        let hours = self
            .completion_window
            .trim()
            .strip_suffix('h')
            .and_then(|h| h.parse::<u32>().ok());
        if !hours.is_some_and(|h| {
            (MIN_COMPLETION_WINDOW_HOURS..=MAX_COMPLETION_WINDOW_HOURS).contains(&h)
        }) {
            return Err(BatchRequestError::CompletionWindow(
                self.completion_window.clone(),
            ));
        }
        let (max_pairs, max_key, max_value) = METADATA_LIMITS;
        if let Some(metadata) = &self.metadata {
            if metadata.len() > max_pairs {
                return Err(BatchRequestError::TooManyMetadataPairs(metadata.len()));
            }
            for (key, value) in metadata {
                if key.chars().count() > max_key {
                    return Err(BatchRequestError::MetadataKeyTooLong(key.clone()));
                }
                if value.chars().count() > max_value {
                    return Err(BatchRequestError::MetadataValueTooLong(key.clone()));
                }
            }
        }
        Ok(())
    }
}

/// The query of `GET /batches`: `limit` and the `after` cursor (documented, though the guide says
/// listing does not paginate yet).
///
/// ```
/// use siliconflow::BatchListQuery;
///
/// assert_eq!(BatchListQuery::new().path(), "batches");
/// assert_eq!(BatchListQuery::new().limit(20).after("batch_abc").path(), "batches?limit=20&after=batch_abc");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchListQuery {
    /// The most batches to list (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// List the batches after this batch id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl BatchListQuery {
    /// No parameters: the server's defaults.
    pub fn new() -> Self {
        BatchListQuery::default()
    }

    /// Lists at most `limit` batches.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Lists the batches after `batch_id`.
    #[must_use]
    pub fn after(mut self, batch_id: impl Into<String>) -> Self {
        self.after = Some(batch_id.into());
        self
    }

    /// The request path relative to the base URL, with the set parameters percent-encoded.
    pub fn path(&self) -> String {
        let mut path = String::from("batches");
        let limit = self.limit.map(|l| l.to_string());
        crate::query::append_set(
            &mut path,
            [
                ("limit", limit.as_deref()),
                ("after", self.after.as_deref()),
            ],
        );
        path
    }
}

/// The path of one batch (`batches/{id}`, for retrieve) relative to the base URL, the id
/// percent-encoded.
pub fn batch_path(batch_id: &str) -> String {
    let mut path = String::from("batches/");
    crate::query::push_encoded(&mut path, batch_id);
    path
}

/// The path that cancels a batch (`batches/{id}/cancel`, a POST without body).
pub fn cancel_path(batch_id: &str) -> String {
    batch_path(batch_id) + "/cancel"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_and_full_request_json() {
        assert_eq!(
            serde_json::to_value(BatchRequest::new("file-1")).unwrap(),
            json!({"input_file_id": "file-1", "endpoint": "/v1/chat/completions", "completion_window": "24h"})
        );
        let full = BatchRequest::new("file-1")
            .completion_window("336h")
            .metadata("b", "2")
            .metadata("a", "1")
            .replace_model("deepseek-ai/DeepSeek-V3")
            .replace_field("temperature", 0.5)
            .extra_field("x", true);
        let value = serde_json::to_value(&full).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"completion_window":"336h","endpoint":"/v1/chat/completions","input_file_id":"file-1","metadata":{"a":"1","b":"2"},"replace":{"model":"deepseek-ai/DeepSeek-V3","temperature":0.5},"x":true}"#
        );
        assert_eq!(serde_json::from_value::<BatchRequest>(value).unwrap(), full);
        assert_eq!(full.check(), Ok(()));
    }

    #[test]
    fn documented_limits() {
        for window in ["23h", "337h", "24", "1d", "h", "-24h", ""] {
            assert_eq!(
                BatchRequest::new("f").completion_window(window).check(),
                Err(BatchRequestError::CompletionWindow(window.into())),
                "{window}"
            );
        }
        for hours in [24, 100, 336] {
            assert_eq!(
                BatchRequest::new("f")
                    .completion_window_hours(hours)
                    .check(),
                Ok(())
            );
        }
        let mut many = BatchRequest::new("f");
        for i in 0..17 {
            many = many.metadata(format!("k{i}"), "v");
        }
        assert_eq!(
            many.check(),
            Err(BatchRequestError::TooManyMetadataPairs(17))
        );
        let key = "k".repeat(65);
        assert_eq!(
            BatchRequest::new("f").metadata(key.clone(), "v").check(),
            Err(BatchRequestError::MetadataKeyTooLong(key))
        );
        assert_eq!(
            BatchRequest::new("f")
                .metadata("名".repeat(64), "值".repeat(512))
                .check(),
            Ok(())
        );
        assert_eq!(
            BatchRequest::new("f")
                .metadata("k", "v".repeat(513))
                .check(),
            Err(BatchRequestError::MetadataValueTooLong("k".into()))
        );
    }

    #[test]
    fn paths() {
        assert_eq!(BatchListQuery::new().limit(1).path(), "batches?limit=1");
        assert_eq!(
            BatchListQuery::new().after("a&b").path(),
            "batches?after=a%26b"
        );
        assert_eq!(batch_path("batch_1"), "batches/batch_1");
        assert_eq!(cancel_path("../x"), "batches/..%2Fx/cancel");
    }
}
