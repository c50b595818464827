//! Review 2: a JSON answer that ends in a backslash panics the client.
//!
//! README: "Every failure is a variant of `siliconflow::Error`; none is a panic"; DESIGN: "no panics on
//! anything a server sends". `json::replace_lone_surrogates` (run on every JSON answer that fails its
//! first parse) steps two bytes past a backslash that is not `\u`; when that backslash is the body's last
//! byte the next `&bytes[i..]` is out of range: `range start index N+1 out of range for slice of length N`
//! at src/json.rs. A body cut right after a backslash (a proxy's truncation, a hostile server) is enough.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use siliconflow::{Client, Error};

/// A 200 JSON answer cut right after a backslash.
const BODY: &str = r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"a path C:\"#;

/// The same for the envelope reader, which reads a body that is not an object as a bare answer.
const BARE: &str = r#"[{"id":"file-1","filename":"C:\"#;

fn answer(
    body: &'static str,
    call: impl FnOnce(&Client) -> Result<(), Error>,
) -> Result<Result<(), Error>, String> {
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 200, &[("Content-Type", "application/json")], body);
    });
    let client = client(&base);
    let result = catch_unwind(AssertUnwindSafe(|| call(&client))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    let _ = server.join();
    result
}

#[test]
fn a_json_answer_ending_in_a_backslash_is_an_error_not_a_panic() {
    assert!(BODY.ends_with('\\') && BARE.ends_with('\\'));
    type Call = fn(&Client) -> Result<(), Error>;
    let calls: [(&str, &'static str, Call); 6] = [
        ("chat", BODY, |c| c.chat(&request()).map(drop)),
        ("chat_stream answered with JSON", BODY, |c| {
            c.chat_stream(&request()).map(drop)
        }),
        ("completion", BODY, |c| {
            c.completion(&siliconflow::CompletionRequest::new("m", "p"))
                .map(drop)
        }),
        ("list_models", BODY, |c| c.list_models().map(drop)),
        ("embeddings", BODY, |c| {
            c.embeddings(&siliconflow::EmbeddingRequest::new("m", "x"))
                .map(drop)
        }),
        ("list_files (envelope reader, bare)", BARE, |c| {
            c.list_files(&siliconflow::FileListQuery::new()).map(drop)
        }),
    ];
    let mut panics = Vec::new();
    for (name, body, call) in calls {
        match answer(body, call) {
            Ok(result) => assert!(result.is_err(), "{name}: {result:?}"),
            Err(message) => panics.push(format!("{name}: panicked: {message}")),
        }
    }
    assert!(panics.is_empty(), "{panics:#?}");
}
