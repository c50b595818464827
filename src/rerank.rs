//! Reranking documents against a query: `POST /rerank`.
//!
//! [`Client::rerank`] sends a [`RerankRequest`] (a query and the documents to rank) and returns a
//! [`RerankResponse`] whose [`results`](RerankResponse::results) are ordered most relevant first, each
//! naming the document by its [`index`](RerankResult::index) in the request.
//!
//! ```
//! use siliconflow::RerankResponse;
//!
//! let body = r#"{"id":"r1","results":[{"document":{"text":"apple"},"index":0,"relevance_score":0.9953}],
//!               "meta":{"billed_units":{"input_tokens":28,"output_tokens":0,"search_units":0,"classifications":0},
//!                       "tokens":{"input_tokens":28,"output_tokens":0}}}"#;
//! let response: RerankResponse = serde_json::from_str(body).unwrap();
//! let best = &response.results[0];
//! assert_eq!((best.index, best.text()), (0, Some("apple")));
//! assert_eq!(response.token_usage().map(|t| t.input_tokens), Some(28));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bounded::Entry;
use crate::client::with_response;
use crate::json::Key;
use crate::meta::ResponseMeta;
use crate::serde_util::null_as_default;
use crate::{Client, Error};

/// A rerank request: the model, the query, the documents, and the optional parameters, each omitted from
/// the JSON while unset.
///
/// ```
/// use siliconflow::RerankRequest;
///
/// let request = RerankRequest::new("BAAI/bge-reranker-v2-m3", "Apple", ["apple", "banana", "fruit"])
///     .top_n(2)
///     .return_documents(true);
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["documents"][2], "fruit");
/// assert_eq!(json["top_n"], 2);
/// assert!(json.get("max_chunks_per_doc").is_none(), "unset parameters are not sent");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RerankRequest {
    /// The model id, for example `BAAI/bge-reranker-v2-m3` or `Qwen/Qwen3-Reranker-8B`.
    pub model: String,
    /// The query the documents are ranked against.
    pub query: String,
    /// The documents to rank.
    pub documents: Vec<String>,
    /// Return only the this many most relevant documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Return each document's text in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// The most chunks a long document is split into (BGE and Netease rerankers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunks_per_doc: Option<u32>,
    /// Tokens shared by neighbouring chunks of a long document (BGE and Netease rerankers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_tokens: Option<u32>,
    /// An instruction describing the ranking task (Qwen3 rerankers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RerankRequest {
    /// A request to rank `documents` (any iterator of strings) against `query` with `model`.
    pub fn new(
        model: impl Into<String>,
        query: impl Into<String>,
        documents: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RerankRequest {
            model: model.into(),
            query: query.into(),
            documents: documents.into_iter().map(Into::into).collect(),
            top_n: None,
            return_documents: None,
            max_chunks_per_doc: None,
            overlap_tokens: None,
            instruction: None,
            extra: Map::new(),
        }
    }

    crate::setters::option_setters! {
        /// Returns only the `top_n` most relevant documents.
        top_n: u32,
        /// Asks for each document's text in the results.
        return_documents: bool,
        /// Sets the most chunks a long document is split into.
        max_chunks_per_doc: u32,
        /// Sets how many tokens neighbouring chunks share.
        overlap_tokens: u32,
        /// Sets the task instruction (Qwen3 rerankers).
        instruction: impl Into<String>,
    }
}

/// The answer of `POST /rerank`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RerankResponse {
    /// The request id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The ranked documents, most relevant first (read: at most
    /// [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)).
    #[serde(default, deserialize_with = "crate::bounded::list")]
    pub results: Vec<RerankResult>,
    /// Billing and token counts (SiliconFlow, Cohere style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RerankMeta>,
    /// Token counts, when the server sends them at the top level instead of in `meta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<RerankTokens>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(RerankResponse);

impl RerankResponse {
    /// The token counts, from the top level or from `meta`, wherever the server put them.
    pub fn token_usage(&self) -> Option<&RerankTokens> {
        self.tokens
            .as_ref()
            .or_else(|| self.meta.as_ref().and_then(|meta| meta.tokens.as_ref()))
    }
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RerankResult {
    /// The document, when the request asked for it with `return_documents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<RerankDocument>,
    /// The document's position in the request's `documents`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: usize,
    /// How relevant the document is to the query, higher is more relevant (usually 0 to 1).
    #[serde(default, deserialize_with = "null_as_default")]
    pub relevance_score: f64,
}

impl RerankResult {
    /// The document's text, when the server returned it.
    pub fn text(&self) -> Option<&str> {
        self.document
            .as_ref()
            .map(|document| document.text.as_str())
    }
}

/// A returned document. Read from `{"text": "…"}` or from a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct RerankDocument {
    /// The document's text.
    pub text: String,
}

/// A string, or an object whose `text` is read (other keys skipped).
impl<'de> Deserialize<'de> for RerankDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;
        impl<'de> serde::de::Visitor<'de> for DocumentVisitor {
            type Value = RerankDocument;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a document: text, or an object with text")
            }
            fn visit_str<E>(self, v: &str) -> Result<RerankDocument, E> {
                Ok(RerankDocument {
                    text: v.to_string(),
                })
            }
            fn visit_string<E>(self, text: String) -> Result<RerankDocument, E> {
                Ok(RerankDocument { text })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RerankDocument, A::Error> {
                let mut text = String::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if key == "text" {
                        text = map.next_value::<Option<String>>()?.unwrap_or_default();
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(RerankDocument { text })
            }
        }
        deserializer.deserialize_any(DocumentVisitor)
    }
}

/// The `meta` object of a rerank response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RerankMeta {
    /// What was billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_units: Option<BilledUnits>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<RerankTokens>,
}

/// What a rerank request was billed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BilledUnits {
    /// Input tokens billed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub input_tokens: u64,
    /// Output tokens billed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_tokens: u64,
    /// Search units billed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub search_units: u64,
    /// Classifications billed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub classifications: u64,
}

/// Token counts of a rerank request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RerankTokens {
    /// Tokens read (query and documents).
    #[serde(default, deserialize_with = "null_as_default")]
    pub input_tokens: u64,
    /// Tokens written (0 for rerankers).
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_tokens: u64,
}

impl Entry for RerankResult {
    const WHAT: &'static str = "rerank results";
}

impl Client {
    /// Ranks documents by relevance to a query (`POST /rerank`).
    ///
    /// Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, RerankRequest};
    ///
    /// let client = Client::from_env()?;
    /// let documents = ["apple", "banana", "fruit", "vegetable"];
    /// let request = RerankRequest::new("BAAI/bge-reranker-v2-m3", "Apple", documents)
    ///     .top_n(2)
    ///     .return_documents(true);
    /// for result in client.rerank(&request)?.results {
    ///     println!("{:.3} {}", result.relevance_score, documents[result.index]);
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn rerank(&self, request: &RerankRequest) -> Result<RerankResponse, Error> {
        self.post_json("rerank", request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_parameter_serializes_and_unset_ones_are_omitted() {
        let bare = RerankRequest::new("m", "q", vec![String::from("a")]);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"model": "m", "query": "q", "documents": ["a"]})
        );
        let full = RerankRequest::new("m", "q", ["a", "b"])
            .top_n(1)
            .return_documents(false)
            .max_chunks_per_doc(4)
            .overlap_tokens(8)
            .instruction("Rank fruit first")
            .extra_field("x", 1);
        let value = serde_json::to_value(&full).unwrap();
        assert_eq!(
            value,
            json!({"model": "m", "query": "q", "documents": ["a", "b"], "top_n": 1,
                   "return_documents": false, "max_chunks_per_doc": 4, "overlap_tokens": 8,
                   "instruction": "Rank fruit first", "x": 1})
        );
        assert_eq!(
            serde_json::from_value::<RerankRequest>(value).unwrap(),
            full
        );
    }

    #[test]
    fn documents_absent_null_string_or_object() {
        let response: RerankResponse = serde_json::from_value(json!({
            "id": "r",
            "results": [
                {"index": 2, "relevance_score": 0.5},
                {"document": null, "index": 1, "relevance_score": 0.25},
                {"document": "plain", "index": 0, "relevance_score": 0.125},
                {"document": {"text": "obj", "extra": 1}, "index": 3, "relevance_score": null}
            ],
            "tokens": {"input_tokens": 7, "output_tokens": null}
        }))
        .unwrap();
        let texts: Vec<_> = response.results.iter().map(RerankResult::text).collect();
        assert_eq!(texts, [None, None, Some("plain"), Some("obj")]);
        assert_eq!(response.results[3].relevance_score, 0.0);
        assert_eq!(
            response.token_usage(),
            Some(&RerankTokens {
                input_tokens: 7,
                output_tokens: 0
            })
        );
        assert!(response.meta.is_none());
    }
}
