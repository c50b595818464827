//! A JSON answer cut right after a backslash (a proxy's truncation, a hostile server) is an error, never a
//! panic, on every JSON path (chat, a stream answered with JSON, completion, models, embeddings, the
//! envelope reader's bare answer). Review 2 found `json::replace_lone_surrogates` indexing one past the
//! end there; `json`'s unit tests now cut escaped documents at every byte.

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
