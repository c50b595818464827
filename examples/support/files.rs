//! Files: `POST /v1/files` (a multipart upload with `purpose=batch`), `GET /v1/files`, both answered in
//! SiliconFlow's `{"code":20000,"message":"Ok","status":true,"data":…}` envelope, and
//! `GET /v1/files/{id}/content` (not documented by SiliconFlow; some clients use it), which also serves
//! the batch demo's output and error files.

use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::demo::{bad_request, lock, now, push_capped, wrapped, Answer, Demo};

/// The most files the demo keeps (the oldest go first).
const MAX_FILES: usize = 64;

/// A file held by the demo: an upload, or a batch's output or errors.
pub struct StoredFile {
    pub id: String,
    pub filename: String,
    pub purpose: String,
    pub created_at: u64,
    pub content: Vec<u8>,
}

impl StoredFile {
    /// The number of non-blank lines (requests, for a batch input).
    fn line_count(&self) -> usize {
        self.content
            .split(|b| *b == b'\n')
            .filter(|line| !line.trim_ascii().is_empty())
            .count()
    }
}

/// Keeps a file.
pub fn store(demo: &Demo, file: StoredFile) {
    push_capped(&mut lock(&demo.files), file, MAX_FILES);
}

/// Answers an upload: `purpose` must be `batch` and `file` a non-empty file.
pub fn upload(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let parts = request.multipart().ok_or_else(|| {
        bad_request("The request must be multipart/form-data with purpose and file.")
    })?;
    let purpose = parts
        .iter()
        .find(|part| part.name == "purpose")
        .and_then(|part| part.text())
        .ok_or_else(|| bad_request("Field required: purpose"))?;
    if purpose != "batch" {
        return Err(bad_request("purpose must be \"batch\""));
    }
    let file = parts
        .iter()
        .find(|part| part.name == "file" && !part.data.is_empty())
        .ok_or_else(|| bad_request("Field required: file"))?;
    let stored = StoredFile {
        id: demo.new_id("file-"),
        filename: file
            .filename
            .clone()
            .unwrap_or_else(|| "file.jsonl".to_string()),
        purpose: purpose.to_string(),
        created_at: now(),
        content: file.data.clone(),
    };
    let data = json!({
        "id": stored.id,
        "object": "file",
        "bytes": stored.content.len(),
        "createdAt": stored.created_at,
        "filename": stored.filename,
        "purpose": stored.purpose,
    });
    store(demo, stored);
    Ok(wrapped("Ok", data))
}

/// Answers a list: newest first, filtered by `purpose`, at most `limit` (default 10).
pub fn list(demo: &Demo, request: &ReceivedRequest) -> MockResponse {
    let purpose = request.query_param("purpose").filter(|p| !p.is_empty());
    let limit = request
        .query_param("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit >= 1)
        .unwrap_or(10);
    let files = lock(&demo.files);
    let data: Vec<Value> = files
        .iter()
        .rev()
        .filter(|file| purpose.as_deref().is_none_or(|p| file.purpose == p))
        .take(limit)
        .map(|file| {
            json!({
                "id": file.id,
                "object": "file",
                "bytes": file.content.len(),
                "created_at": file.created_at,
                "filename": file.filename,
                "purpose": file.purpose,
                "line_count": file.line_count(),
            })
        })
        .collect();
    wrapped("Ok", json!({"object": "file", "data": data}))
}

/// Serves a file's bytes.
pub fn content(demo: &Demo, id: &str) -> Answer {
    let files = lock(&demo.files);
    let file = files
        .iter()
        .find(|file| file.id == id)
        .ok_or_else(MockResponse::not_found)?;
    Ok(MockResponse::bytes(
        "application/jsonl",
        file.content.clone(),
    ))
}
