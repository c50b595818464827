//! Files: upload (multipart), list, delete, and reading a file's content by id or by URL. Answers wrapped
//! in SiliconFlow's envelope and bare, failures inside the envelope, every error body, retries,
//! redaction, metadata.

mod common;

use std::time::Duration;

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::json;
use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::multipart::FilePart;
use siliconflow::{Error, FileListQuery, FilePurpose, FileRef, FileUploadRequest};

const JSONL: &[u8] =
    b"{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{}}\n";

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&[
        "upload_file",
        "list_files",
        "delete_file",
        "file_content",
    ]));
}

#[test]
fn an_upload_sends_purpose_and_file_and_reads_the_wrapped_or_bare_answer() {
    let server = MockServer::start().unwrap();
    let file = json!({"id": "file-jkvytbjtow", "object": "file", "bytes": 8509, "createdAt": 1741685396,
                      "filename": "requests.jsonl", "purpose": "batch"});
    server.enqueue(
        MockResponse::json(json!({"code": 20000, "message": "Ok", "status": true, "data": file}))
            .header("x-siliconcloud-trace-id", TRACE),
    );
    server.enqueue(MockResponse::json(file.clone()));
    let client = checks::client(&server);
    let upload = || {
        FileUploadRequest::batch(
            FilePart::bytes(JSONL.to_vec())
                .file_name("requests.jsonl")
                .content_type("application/jsonl"),
        )
    };
    let wrapped = client.upload_file(upload()).unwrap();
    assert_eq!(wrapped.id, "file-jkvytbjtow");
    assert_eq!(wrapped.created_at, Some(1741685396));
    assert_eq!(wrapped.purpose, Some(FilePurpose::Batch));
    assert_eq!(wrapped.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/files"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    let parts = sent.multipart().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        (parts[0].name.as_str(), parts[0].text()),
        ("purpose", Some("batch"))
    );
    assert_eq!(parts[1].name, "file");
    assert_eq!(parts[1].filename.as_deref(), Some("requests.jsonl"));
    assert_eq!(parts[1].content_type.as_deref(), Some("application/jsonl"));
    assert_eq!(parts[1].data, JSONL);

    let bare = client.upload_file(upload()).unwrap();
    assert_eq!(bare.id, "file-jkvytbjtow");
}

#[test]
fn a_failure_inside_the_envelope_is_an_api_error_with_the_trace_id() {
    let server = MockServer::start().unwrap();
    for body in [
        json!({"code": 30001, "message": "Sorry, your account balance is insufficient", "status": false, "data": null}),
        json!({"code": 20000, "message": "Ok", "status": true, "data": null}),
    ] {
        server.enqueue(MockResponse::json(body).header("x-siliconcloud-trace-id", TRACE));
    }
    server.enqueue(MockResponse::json(
        json!({"code": 20000, "status": true, "data": {"id": 5}}),
    ));
    let client = checks::client(&server);
    let upload = || FileUploadRequest::batch(FilePart::bytes(JSONL.to_vec()));
    let Err(Error::Api(error)) = client.upload_file(upload()) else {
        panic!("expected Error::Api");
    };
    assert_eq!(error.status, 200);
    assert_eq!(error.code.as_deref(), Some("30001"));
    assert_eq!(error.message, "Sorry, your account balance is insufficient");
    assert_eq!(error.request_id.as_deref(), Some(TRACE));
    let Err(Error::Api(error)) = client.list_files(&FileListQuery::new()) else {
        panic!("an envelope without data is a failure");
    };
    assert_eq!(error.code.as_deref(), Some("20000"));
    assert!(matches!(
        client.upload_file(upload()),
        Err(Error::MalformedChunk { event: 0, .. })
    ));
}

#[test]
fn the_list_sends_its_query_and_reads_every_shape() {
    let server = MockServer::start().unwrap();
    let file = json!({"id": "file-kkhtqklcnm", "object": "file", "bytes": 806, "created_at": 1741777570,
                      "filename": "requests-2.jsonl", "purpose": "batch", "line_count": 2});
    server.enqueue(
        MockResponse::json(json!({"code": 20000, "message": "Ok", "status": true,
                                  "data": {"object": "file", "data": [file]}}))
        .header("x-siliconcloud-trace-id", TRACE),
    );
    server.enqueue(MockResponse::json(
        json!({"object": "list", "data": [file, file]}),
    ));
    server.enqueue(MockResponse::json(
        json!({"code": 20000, "status": true, "data": {"data": null}}),
    ));
    let client = checks::client(&server);
    let list = client.list_files(&FileListQuery::new().limit(5)).unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("GET", "/v1/files"));
    assert_eq!(sent.query, "purpose=batch&limit=5");
    assert_eq!(list.data[0].line_count, Some(2));
    assert_eq!(list.data[0].created_at, Some(1741777570));
    assert_eq!(list.request_id(), Some(TRACE));
    assert_eq!(
        client
            .list_files(&FileListQuery::new().without_purpose())
            .unwrap()
            .data
            .len(),
        2
    );
    assert_eq!(server.last_request().unwrap().query, "");
    assert!(client
        .list_files(&FileListQuery::new())
        .unwrap()
        .data
        .is_empty());
}

#[test]
fn a_delete_is_a_delete_without_a_body() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"id": "file-1", "object": "file", "deleted": true}),
    ));
    server.enqueue(MockResponse::json(
        json!({"code": 20000, "status": true, "data": {"id": "file-1", "deleted": true}}),
    ));
    let client = checks::client(&server);
    assert!(client.delete_file("file-1").unwrap().deleted);
    let sent = server.last_request().unwrap();
    assert!(sent.is("DELETE", "/v1/files/file-1"));
    assert!(sent.body.is_empty());
    assert!(client.delete_file("file-1").unwrap().deleted);
    client.delete_file("a/b?c").ok();
    assert_eq!(server.last_request().unwrap().path, "/v1/files/a%2Fb%3Fc");
}

#[test]
fn content_by_id_goes_with_the_key_and_by_url_without() {
    let server = MockServer::start().unwrap();
    let content = b"{\"custom_id\":\"a\"}\n".repeat(2000);
    for _ in 0..2 {
        server.enqueue(
            MockResponse::bytes("application/jsonl", content.clone())
                .trickle(5000, Duration::from_millis(1))
                .header("x-siliconcloud-trace-id", TRACE),
        );
    }
    let client = checks::client(&server);
    let mut out = Vec::new();
    let download = client
        .file_content(&FileRef::Id("file-out".into()), &mut out)
        .unwrap();
    assert_eq!(out, content);
    assert_eq!(download.bytes, content.len() as u64);
    assert_eq!(download.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("GET", "/v1/files/file-out/content"));
    assert_eq!(sent.bearer_token(), Some(KEY));

    let url = server.url("/results/out.jsonl?Signature=s");
    let mut out = Vec::new();
    client
        .file_content(&FileRef::parse(&url).unwrap(), &mut out)
        .unwrap();
    assert_eq!(out, content);
    let sent = server.last_request().unwrap();
    assert!(sent.is("GET", "/results/out.jsonl"));
    assert_eq!(sent.header("authorization"), None, "no key for a URL");
}
