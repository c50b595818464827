//! Listing models: `GET /models`, optionally filtered by type and sub-type.
//!
//! [`Client::models`] sends a [`ModelsQuery`] and returns a [`ModelList`]; [`Client::list_models`] lists
//! every model without a filter. SiliconFlow filters on `type` (`text`, `image`, `audio`, `video`) and
//! `sub_type` (`chat`, `embedding`, `reranker`, `text-to-image`, `image-to-image`, `speech-to-text`,
//! `text-to-video`, …); other OpenAI-compatible servers ignore the filters and list everything.
//!
//! ```
//! use siliconflow::ModelList;
//!
//! let body = r#"{"object":"list","data":[{"id":"deepseek-ai/DeepSeek-R1","object":"model","created":0,"owned_by":""}]}"#;
//! let list: ModelList = serde_json::from_str(body).unwrap();
//! assert_eq!(list.ids().collect::<Vec<_>>(), ["deepseek-ai/DeepSeek-R1"]);
//! ```

use serde::{Deserialize, Serialize};

use crate::bounded::Entry;
use crate::client::with_response;
use crate::meta::ResponseMeta;
use crate::serde_util::null_as_default;
use crate::{Client, Error};

/// The filters of a `GET /models` request; unset filters are not sent.
///
/// ```
/// use siliconflow::ModelsQuery;
///
/// let query = ModelsQuery::new().kind("text").sub_type("chat");
/// assert_eq!(query.kind.as_deref(), Some("text"));
/// assert_eq!(query.sub_type.as_deref(), Some("chat"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelsQuery {
    /// The model type (`type` on the wire): `text`, `image`, `audio` or `video`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The model sub-type: `chat`, `embedding`, `reranker`, `text-to-image`, `image-to-image`,
    /// `speech-to-text`, `text-to-video`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
}

impl ModelsQuery {
    /// A query with no filters: every model.
    pub fn new() -> Self {
        ModelsQuery::default()
    }

    /// Lists only models of this type (`type` on the wire): `text`, `image`, `audio`, `video`.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Lists only models of this sub-type: `chat`, `embedding`, `reranker`, `text-to-image`, …
    #[must_use]
    pub fn sub_type(mut self, sub_type: impl Into<String>) -> Self {
        self.sub_type = Some(sub_type.into());
        self
    }

    /// The request path relative to the base URL: `models`, with the set filters percent-encoded as the
    /// query string.
    pub(crate) fn path(&self) -> String {
        let mut path = String::from("models");
        let params = [("type", &self.kind), ("sub_type", &self.sub_type)];
        crate::query::append_set(
            &mut path,
            params.iter().map(|(name, value)| (*name, value.as_deref())),
        );
        path
    }
}

/// The answer of `GET /models`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelList {
    /// `"list"`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// The models (read: at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)).
    #[serde(default, deserialize_with = "crate::bounded::list")]
    pub data: Vec<Model>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(ModelList);

impl ModelList {
    /// The model ids, in the order the server sent them.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.data.iter().map(|model| model.id.as_str())
    }
}

/// One model, as `GET /models` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Model {
    /// The model id to put in a request, for example `deepseek-ai/DeepSeek-R1`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// `"model"`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// Creation time, Unix seconds (SiliconFlow sends 0).
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: u64,
    /// The owner (SiliconFlow sends `""`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub owned_by: String,
}

impl Entry for Model {
    const WHAT: &'static str = "models";
}

impl Client {
    /// Lists the models that match `query` (`GET /models?type=…&sub_type=…`).
    ///
    /// Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, ModelsQuery};
    ///
    /// let client = Client::from_env()?;
    /// let chat_models = client.models(&ModelsQuery::new().kind("text").sub_type("chat"))?;
    /// for id in chat_models.ids() {
    ///     println!("{id}");
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn models(&self, query: &ModelsQuery) -> Result<ModelList, Error> {
        self.get_json(&query.path())
    }

    /// Lists every model (`GET /models` without filters).
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let models = client.list_models()?;
    /// println!("{} models", models.data.len());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn list_models(&self) -> Result<ModelList, Error> {
        self.models(&ModelsQuery::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_has_only_the_set_filters() {
        assert_eq!(ModelsQuery::new().path(), "models");
        assert_eq!(ModelsQuery::new().kind("text").path(), "models?type=text");
        assert_eq!(
            ModelsQuery::new().sub_type("text-to-image").path(),
            "models?sub_type=text-to-image"
        );
        assert_eq!(
            ModelsQuery::new().kind("text").sub_type("chat").path(),
            "models?type=text&sub_type=chat"
        );
    }

    #[test]
    fn nulls_and_unknown_fields_are_tolerated() {
        let list: ModelList = serde_json::from_value(json!({
            "object": "list",
            "data": [{"id": "m", "object": null, "created": null, "owned_by": null, "root": "x"}],
            "extra": true
        }))
        .unwrap();
        assert_eq!(list.data[0].id, "m");
        assert_eq!(list.data[0].created, 0);
        let empty: ModelList = serde_json::from_value(json!({"data": null})).unwrap();
        assert_eq!(empty.ids().count(), 0);
        let query: ModelsQuery = serde_json::from_value(json!({"type": null})).unwrap();
        assert_eq!(query, ModelsQuery::new());
    }
}
