//! The batch object ([`Batch`]) as create, retrieve, cancel and list return it, with its status, counts
//! and errors, all read tolerantly.

use serde::Serialize;

use crate::client::with_response;
use crate::extra::{with_extra, ExtraFields};
use crate::files::FileRef;
use crate::lenient::{lenient_string, lenient_u64};
use crate::meta::ResponseMeta;
use crate::raw::RawJson;
use crate::serde_util::{empty_as_none, null_as_default, open_enum};

use read::{non_empty, object_or_none, tolerant_errors};

open_enum! {
    /// The state of a batch. Unknown values are kept in `Other` (and are not terminal).
    pub enum BatchStatus {
        /// Queued (SiliconFlow's first state, in place of OpenAI's `validating`).
        InQueue = "in_queue",
        /// Being validated (OpenAI's first state; shown in SiliconFlow's sample output).
        Validating = "validating",
        /// Running.
        InProgress = "in_progress",
        /// Writing the result files.
        Finalizing = "finalizing",
        /// Done: results in the output file, failures in the error file.
        Completed = "completed",
        /// Failed as a whole (not in the guide's list, but it has a `failed_at` time).
        Failed = "failed",
        /// The completion window passed: finished requests are billed and in the output file, the rest
        /// in the error file.
        Expired = "expired",
        /// Cancelling: waiting for the requests in flight.
        Cancelling = "cancelling",
        /// Cancelled.
        Cancelled = "cancelled",
    }
}

impl BatchStatus {
    /// Whether the batch is over (`completed`, `failed`, `expired`, `cancelled`): stop polling.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            BatchStatus::Completed
                | BatchStatus::Failed
                | BatchStatus::Expired
                | BatchStatus::Cancelled
        )
    }
}

with_extra! {
    /// A batch job.
    ///
    /// Every field but `id` is optional, and read tolerantly: timestamps as numbers or digit strings,
    /// `errors` and `request_counts` as `null`, `{}`, arrays or objects, `""` file ids as none.
    ///
    /// ```
    /// use siliconflow::{Batch, BatchStatus, FileRef};
    ///
    /// let batch: Batch = serde_json::from_str(r#"{"id":"batch_rdyqgrcgjg","object":"batch",
    ///     "endpoint":"/v1/chat/completions","errors":null,"input_file_id":"file-jkvytbjtow",
    ///     "completion_window":"24h","status":"completed","output_file_id":"file-xxxx","error_file_id":null,
    ///     "created_at":1741685413,"completed_at":1741690100,"failed_at":null,
    ///     "request_counts":{"total":2,"completed":2,"failed":0},"metadata":{"description":"nightly eval job"}}"#).unwrap();
    /// assert!(batch.is_terminal());
    /// assert_eq!(batch.status, Some(BatchStatus::Completed));
    /// assert_eq!(batch.output_file(), Some(FileRef::Id("file-xxxx".into())));
    /// assert_eq!(batch.error_file(), None);
    /// assert_eq!(batch.request_counts.completed, Some(2));
    /// ```
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Batch {
        /// The batch id (`batch_…`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// `"batch"`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub object: String,
        /// The endpoint its requests go to (`/v1/chat/completions`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub endpoint: String,
        /// Its state.
        #[serde(
            default,
            deserialize_with = "empty_as_none",
            skip_serializing_if = "Option::is_none"
        )]
        pub status: Option<BatchStatus>,
        /// Validation or processing errors (documented as an array of strings; `null` and `[]` are usual).
        #[serde(
            default,
            deserialize_with = "tolerant_errors",
            skip_serializing_if = "Vec::is_empty"
        )]
        pub errors: Vec<BatchError>,
        /// The input file's id.
        #[serde(default, deserialize_with = "null_as_default")]
        pub input_file_id: String,
        /// The completion window (`"24h"` … `"336h"`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub completion_window: String,
        /// The successful results' file, as sent: an id or a URL (see [`Batch::output_file`]).
        #[serde(
            default,
            deserialize_with = "non_empty",
            skip_serializing_if = "Option::is_none"
        )]
        pub output_file_id: Option<String>,
        /// The failed requests' file, as sent: an id or a URL (see [`Batch::error_file`]).
        #[serde(
            default,
            deserialize_with = "non_empty",
            skip_serializing_if = "Option::is_none"
        )]
        pub error_file_id: Option<String>,
        /// Creation time, Unix seconds (`createdAt` accepted too).
        #[serde(
            alias = "createdAt",
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub created_at: Option<u64>,
        /// When it started running.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub in_progress_at: Option<u64>,
        /// When its completion window ends.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub expires_at: Option<u64>,
        /// When it started writing results.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub finalizing_at: Option<u64>,
        /// When it completed.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub completed_at: Option<u64>,
        /// When it failed.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub failed_at: Option<u64>,
        /// When it expired.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub expired_at: Option<u64>,
        /// When cancelling began.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub cancelling_at: Option<u64>,
        /// When it was cancelled.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub cancelled_at: Option<u64>,
        /// Request counts (all unknown when the server sent `null` or `{}`).
        #[serde(default, skip_serializing_if = "RequestCounts::is_empty")]
        pub request_counts: RequestCounts,
        /// Your metadata, as the JSON object text sent (`None` when `null` or not an object).
        #[serde(
            default,
            deserialize_with = "object_or_none",
            skip_serializing_if = "Option::is_none"
        )]
        pub metadata: Option<RawJson>,
        /// The input file's name (list items).
        #[serde(
            default,
            deserialize_with = "non_empty",
            skip_serializing_if = "Option::is_none"
        )]
        pub file_name: Option<String>,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(Batch);

impl Batch {
    /// Whether the batch is over (see [`BatchStatus::is_terminal`]).
    pub fn is_terminal(&self) -> bool {
        self.status.as_ref().is_some_and(BatchStatus::is_terminal)
    }

    /// The successful results' file: an id or a URL (see [`FileRef`]; results are kept 30 days).
    pub fn output_file(&self) -> Option<FileRef> {
        self.output_file_id.as_deref().and_then(FileRef::parse)
    }

    /// The failed requests' file: an id or a URL.
    pub fn error_file(&self) -> Option<FileRef> {
        self.error_file_id.as_deref().and_then(FileRef::parse)
    }
}

/// How many requests of a batch are done; every count is `None` until the server reports it.
///
/// Read from `{"total", "completed", "failed"}` (numbers or digit strings), and tolerantly from `null`,
/// `{}`, `[]`, an array holding one such object, or any other shape (all unknown). Other counts are kept
/// in [`extra`](RequestCounts::extra).
///
/// ```
/// use siliconflow::Batch;
///
/// let running: Batch = serde_json::from_str(r#"{"id":"b","status":"in_progress","request_counts":{"total":10,"completed":4,"failed":1}}"#).unwrap();
/// assert_eq!(running.request_counts.pending(), Some(5));
/// let early: Batch = serde_json::from_str(r#"{"id":"b","status":"in_queue","request_counts":{}}"#).unwrap();
/// assert!(early.request_counts.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Requests in the batch.
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u64>,
    /// Requests that succeeded.
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed: Option<u64>,
    /// Requests that failed.
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub failed: Option<u64>,
    /// Any other counts, as sent (see [`ExtraFields`]).
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl RequestCounts {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.total.is_none()
            && self.completed.is_none()
            && self.failed.is_none()
            && self.extra.is_empty()
    }

    /// Requests neither completed nor failed yet, when the total is known.
    pub fn pending(&self) -> Option<u64> {
        let done = self
            .completed
            .unwrap_or(0)
            .saturating_add(self.failed.unwrap_or(0));
        self.total.map(|total| total.saturating_sub(done))
    }
}

with_extra! {
    /// One error of a batch.
    ///
    /// Read from a string (the documented `array<string>`), from an object `{code, message, line, param}`
    /// (OpenAI's shape), and from OpenAI's list wrapper `{"object":"list","data":[…]}`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct BatchError {
        /// The error code.
        #[serde(
            default,
            deserialize_with = "lenient_string",
            skip_serializing_if = "Option::is_none"
        )]
        pub code: Option<String>,
        /// What went wrong.
        #[serde(
            default,
            deserialize_with = "lenient_string",
            skip_serializing_if = "Option::is_none"
        )]
        pub message: Option<String>,
        /// The input line it concerns.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub line: Option<u64>,
        /// The parameter it concerns.
        #[serde(
            default,
            deserialize_with = "lenient_string",
            skip_serializing_if = "Option::is_none"
        )]
        pub param: Option<String>,
    }
}

/// The answer of `GET /batches`.
///
/// The guide says listing does not paginate yet; `first_id`, `last_id` and `has_more` are read when sent.
/// A bare array of batches is accepted too.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct BatchList {
    /// `"list"`.
    pub object: String,
    /// The batches (read: at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES), errors included).
    pub data: Vec<Batch>,
    /// The first batch's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_id: Option<String>,
    /// The last batch's id (the `after` cursor of the next page, once paging exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// Whether more batches follow.
    pub has_more: bool,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(BatchList);

mod read;
#[cfg(test)]
mod tests;
