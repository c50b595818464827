//! Files for batch inference: upload (`POST /files`, multipart), list (`GET /files`), and reading a
//! file's content ([`Client::file_content`](crate::Client::file_content)).
//!
//! Both documented answers come **wrapped** in SiliconFlow's envelope (`{"code":20000,"message":"Ok",
//! "status":true,"data":{…}}`); the client's calls ([`Client::upload_file`](crate::Client::upload_file),
//! [`Client::list_files`](crate::Client::list_files)) unwrap it, and read a bare answer too. To read a
//! body yourself, unwrap it with [`crate::envelope`] before reading a [`FileObject`] or a [`FileList`].
//! The creation time is `createdAt` in the upload answer and `created_at` in the list: both are read
//! into [`FileObject::created_at`].
//!
//! Only the `batch` purpose exists. Retrieving (`GET /files/{id}`), deleting (`DELETE /files/{id}`) and
//! downloading (`GET /files/{id}/content`) are **not documented**; see [`FileRef`] for the batch result
//! files.
//!
//! ```
//! use siliconflow::{envelope, FileList, FileObject, FileUploadRequest};
//! use siliconflow::multipart::FilePart;
//!
//! let upload = FileUploadRequest::batch(FilePart::bytes(b"{}\n".to_vec()).file_name("requests.jsonl"));
//! let form = upload.into_form();
//! assert!(form.content_length().is_some());
//!
//! let body = br#"{"code":20000,"message":"Ok","status":true,"data":{"id":"file-jkvytbjtow","object":"file",
//!     "bytes":8509,"createdAt":1741685396,"filename":"requests.jsonl","purpose":"batch"}}"#;
//! let file: FileObject = envelope::decode_slice(body, "POST /files")?;
//! assert_eq!((file.id.as_str(), file.created_at), ("file-jkvytbjtow", Some(1741685396)));
//!
//! let body = br#"{"code":20000,"message":"Ok","status":true,"data":{"object":"file","data":[{"id":"file-kkhtqklcnm",
//!     "object":"file","bytes":806,"created_at":1741777570,"filename":"requests-2.jsonl","purpose":"batch","line_count":2}]}}"#;
//! let list: FileList = envelope::decode_slice(body, "GET /files")?;
//! assert_eq!(list.data[0].line_count, Some(2));
//! # Ok::<(), siliconflow::Error>(())
//! ```

mod calls;

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::bounded::{collect, Bounded, Entry};
use crate::client::with_response;
use crate::extra::with_extra;
use crate::json::Key;
use crate::lenient::{lenient_u64, Lenient, Scalar};
use crate::meta::ResponseMeta;
use crate::multipart::{FilePart, Form};
use crate::serde_util::{empty_as_none, null_as_default, open_enum};

open_enum! {
    /// What a file is for. Only `batch` is documented.
    pub enum FilePurpose {
        /// Input of a batch job (a `.jsonl` of requests).
        Batch = "batch",
    }
}

/// A file upload (`POST /files`): the purpose and the file, sent as `multipart/form-data`.
///
/// Not `Serialize`: the body is multipart, built by [`into_form`](FileUploadRequest::into_form).
///
/// ```
/// use siliconflow::{write_batch_input, ChatRequest, FileUploadRequest, Message};
/// use siliconflow::multipart::FilePart;
///
/// let mut jsonl = Vec::new();
/// write_batch_input(&mut jsonl, [("q1", ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user("Hi")]))])?;
/// let upload = FileUploadRequest::batch(FilePart::bytes(jsonl).file_name("requests.jsonl"));
/// let form = upload.into_form();
/// assert!(form.content_length().is_some());
/// # Ok::<(), siliconflow::BatchInputError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct FileUploadRequest {
    /// The purpose (`batch`).
    pub purpose: FilePurpose,
    /// The file (for a batch, the JSONL written by
    /// [`BatchInputWriter`](crate::batches::input::BatchInputWriter)).
    pub file: FilePart,
}

impl FileUploadRequest {
    /// An upload of a batch input file (`purpose` `batch`).
    pub fn batch(file: FilePart) -> Self {
        FileUploadRequest {
            purpose: FilePurpose::Batch,
            file,
        }
    }

    /// The multipart body: `purpose`, then `file`.
    pub fn into_form(self) -> Form {
        Form::new()
            .text("purpose", self.purpose.as_str())
            .file("file", self.file)
    }
}

with_extra! {
    /// A stored file, as the upload and the list describe it.
    ///
    /// ```
    /// use siliconflow::{FileObject, FilePurpose};
    ///
    /// let file: FileObject = serde_json::from_str(r#"{"id":"file-1","bytes":806,"created_at":1741777570,"purpose":"batch","line_count":2}"#).unwrap();
    /// assert_eq!((file.created_at, file.purpose), (Some(1741777570), Some(FilePurpose::Batch)));
    /// ```
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct FileObject {
        /// The file id (`file-…`): the `input_file_id` of a batch.
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// `"file"`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub object: String,
        /// Its size in bytes.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub bytes: Option<u64>,
        /// Upload time, Unix seconds (`created_at`, or `createdAt` as the upload answer spells it).
        #[serde(
            alias = "createdAt",
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub created_at: Option<u64>,
        /// The uploaded file's name.
        #[serde(default, deserialize_with = "null_as_default")]
        pub filename: String,
        /// Its purpose.
        #[serde(
            default,
            deserialize_with = "empty_as_none",
            skip_serializing_if = "Option::is_none"
        )]
        pub purpose: Option<FilePurpose>,
        /// How many lines (requests) it holds (in the list).
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub line_count: Option<u64>,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(FileObject);

/// The files of `GET /files` (the envelope's `data`).
///
/// Read tolerantly: `{"object":"file","data":[…]}` (documented), a `data` that is `null` or absent, and a
/// bare array of files; at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES) files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct FileList {
    /// `"file"` (sic) or `"list"`.
    pub object: String,
    /// The files.
    pub data: Vec<FileObject>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(FileList);

impl Entry for FileObject {
    const WHAT: &'static str = "files";
}

impl<'de> Deserialize<'de> for FileList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FileListVisitor)
    }
}

struct FileListVisitor;

impl<'de> Visitor<'de> for FileListVisitor {
    type Value = FileList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of files")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileList, A::Error> {
        let mut list = FileList::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "object" => {
                    list.object = map.next_value::<Lenient<Name>>()?.0.unwrap_or_default().0
                }
                "data" => {
                    list.data = map
                        .next_value::<Option<Bounded<FileObject>>>()?
                        .map_or_else(Vec::new, |data| data.0)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(list)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FileList, A::Error> {
        Ok(FileList {
            data: collect(seq)?,
            ..FileList::default()
        })
    }

    fn visit_unit<E>(self) -> Result<FileList, E> {
        Ok(FileList::default())
    }
}

/// A name: a string only.
#[derive(Default)]
struct Name(String);

impl Scalar for Name {
    const EXPECTING: &'static str = "a string";

    fn from_str(v: &str) -> Option<Name> {
        Some(Name(v.to_string()))
    }

    fn from_string(v: String) -> Option<Name> {
        Some(Name(v))
    }
}

/// The query of `GET /files`: `purpose` (documented as required, `batch`) and `limit` (default 10).
///
/// ```
/// use siliconflow::FileListQuery;
///
/// assert_eq!(FileListQuery::new().path(), "files?purpose=batch");
/// assert_eq!(FileListQuery::new().limit(50).path(), "files?purpose=batch&limit=50");
/// assert_eq!(FileListQuery::new().without_purpose().path(), "files");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileListQuery {
    /// The purpose to list (`batch`); `None` sends none (the docs' own example omits it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<FilePurpose>,
    /// The most files to list (at least 1; the server's default is 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl Default for FileListQuery {
    fn default() -> Self {
        FileListQuery::new()
    }
}

impl FileListQuery {
    /// Batch files, the server's default limit.
    pub fn new() -> Self {
        FileListQuery {
            purpose: Some(FilePurpose::Batch),
            limit: None,
        }
    }

    /// Sends no `purpose`.
    #[must_use]
    pub fn without_purpose(mut self) -> Self {
        self.purpose = None;
        self
    }

    /// Lists at most `limit` files.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The request path relative to the base URL, with the set parameters percent-encoded.
    pub fn path(&self) -> String {
        let mut path = String::from("files");
        let limit = self.limit.map(|l| l.to_string());
        let params = [
            ("purpose", self.purpose.as_ref().map(FilePurpose::as_str)),
            ("limit", limit.as_deref()),
        ];
        crate::query::append_set(&mut path, params);
        path
    }
}

with_extra! {
    /// The answer of [`Client::delete_file`](crate::Client::delete_file) (`DELETE /files/{id}`, OpenAI's
    /// endpoint; not documented by SiliconFlow): `{"id","object":"file","deleted":true}`, bare or wrapped.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct DeletedFile {
        /// The file id.
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// `"file"`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub object: String,
        /// Whether the file was deleted (`false` when the answer does not say).
        #[serde(default, deserialize_with = "null_as_default")]
        pub deleted: bool,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(DeletedFile);

/// A reference to a stored file as a batch reports it (`output_file_id`, `error_file_id`): an id, or —
/// the docs' "URL valid for one month" suggests it — a pre-signed URL.
///
/// **Unverified**: no download endpoint is documented. A public batch script handles both: a URL is
/// fetched directly (without the API key), an id through `GET /files/{id}/content` with it
/// ([`FileRef::content_path`]).
///
/// ```
/// use siliconflow::FileRef;
///
/// assert_eq!(FileRef::parse("file-abc"), Some(FileRef::Id("file-abc".into())));
/// assert_eq!(FileRef::parse("file-abc").unwrap().content_path().as_deref(), Some("files/file-abc/content"));
/// let url = FileRef::parse("https://s3.example.com/out.jsonl?sig=1").unwrap();
/// assert!(url.is_url() && url.content_path().is_none());
/// assert_eq!(FileRef::parse("  "), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileRef {
    /// An `http(s)://` URL, to fetch directly.
    Url(String),
    /// A file id.
    Id(String),
}

impl FileRef {
    /// Reads a reference: `http://` or `https://` (any case) is a URL, any other non-blank text an id.
    pub fn parse(text: &str) -> Option<FileRef> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        Some(
            if lower.starts_with("https://") || lower.starts_with("http://") {
                FileRef::Url(text.to_string())
            } else {
                FileRef::Id(text.to_string())
            },
        )
    }

    /// The reference as sent.
    pub fn as_str(&self) -> &str {
        match self {
            FileRef::Url(text) | FileRef::Id(text) => text,
        }
    }

    /// Whether it is a URL.
    pub fn is_url(&self) -> bool {
        matches!(self, FileRef::Url(_))
    }

    /// For an id, the (undocumented, unverified) download path relative to the base URL,
    /// `files/{id}/content`, with the id percent-encoded; `None` for a URL.
    pub fn content_path(&self) -> Option<String> {
        match self {
            FileRef::Url(_) => None,
            FileRef::Id(id) => {
                let mut path = String::from("files/");
                crate::query::push_encoded(&mut path, id);
                path.push_str("/content");
                Some(path)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Read;

    #[test]
    fn upload_form_exact() {
        let mut form = FileUploadRequest::batch(
            FilePart::bytes(b"{\"custom_id\":\"a\"}\n".to_vec())
                .file_name("requests.jsonl")
                .content_type("application/jsonl"),
        )
        .into_form();
        let mut body = String::new();
        form.reader().unwrap().read_to_string(&mut body).unwrap();
        let b = form.boundary();
        assert_eq!(
            body,
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"requests.jsonl\"\r\n\
                 Content-Type: application/jsonl\r\n\r\n{{\"custom_id\":\"a\"}}\n\r\n--{b}--\r\n"
            )
        );
    }

    #[test]
    fn file_object_under_both_time_names() {
        for (key, extra) in [("createdAt", json!(null)), ("created_at", json!(2))] {
            let f: FileObject = serde_json::from_value(json!({
                "id": "file-1", "object": "file", "bytes": 8509, key: 1741685396,
                "filename": "r.jsonl", "purpose": "batch", "line_count": extra
            }))
            .unwrap();
            assert_eq!(f.created_at, Some(1741685396), "{key}");
            assert_eq!(f.purpose, Some(FilePurpose::Batch));
            assert_eq!(f.bytes, Some(8509));
        }
        let odd: FileObject = serde_json::from_value(
            json!({"id": null, "bytes": "806", "created_at": null, "purpose": "", "owner": "u"}),
        )
        .unwrap();
        assert_eq!(
            (odd.id.as_str(), odd.bytes, odd.created_at),
            ("", Some(806), None)
        );
        assert_eq!(odd.purpose, None);
        assert_eq!(odd.extra.get("owner").unwrap().get(), r#""u""#);
        // Serialized under the snake_case name.
        let value = serde_json::to_value(FileObject {
            created_at: Some(5),
            ..FileObject::default()
        })
        .unwrap();
        assert_eq!(
            value,
            json!({"id": "", "object": "", "created_at": 5, "filename": ""})
        );
    }

    #[test]
    fn file_list_shapes() {
        let file = json!({"id": "file-k", "line_count": 2});
        for body in [
            json!({"object": "file", "data": [file]}),
            json!([file]),
            json!({"data": [file], "has_more": false}),
        ] {
            let list: FileList = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(list.data.len(), 1, "{body}");
            assert_eq!(list.data[0].line_count, Some(2));
        }
        for empty in [
            json!({}),
            json!({"object": "list", "data": null}),
            json!(null),
        ] {
            let list: FileList = serde_json::from_value(empty.clone()).unwrap();
            assert!(list.data.is_empty(), "{empty}");
        }
        assert!(serde_json::from_value::<FileList>(json!({"data": 3})).is_err());
        // Through the envelope, as the endpoint sends it.
        let list: FileList = crate::envelope::decode(
            json!({"code": 20000, "message": "Ok", "status": true, "data": {"object": "file", "data": [file]}}),
            "GET /files",
        )
        .unwrap();
        assert_eq!(list.object, "file");
    }

    #[test]
    fn list_query_paths() {
        let query = FileListQuery::default();
        assert_eq!(query.path(), "files?purpose=batch");
        assert_eq!(
            FileListQuery::new().without_purpose().limit(3).path(),
            "files?limit=3"
        );
        let odd = FileListQuery {
            purpose: Some(FilePurpose::from("a b&c")),
            limit: None,
        };
        assert_eq!(odd.path(), "files?purpose=a%20b%26c");
    }

    #[test]
    fn file_refs() {
        assert!(FileRef::parse("HTTP://x").unwrap().is_url());
        assert!(FileRef::parse("https:/x").is_some_and(|r| !r.is_url()));
        assert_eq!(FileRef::parse(" file-x ").unwrap().as_str(), "file-x");
        assert_eq!(
            FileRef::Id("a/b?c".into()).content_path().as_deref(),
            Some("files/a%2Fb%3Fc/content")
        );
        assert_eq!(FileRef::parse("é").unwrap().as_str(), "é");
    }
}
