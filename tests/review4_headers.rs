//! Review 4: per-request headers next to the client's own.
//!
//! The README: "Every request says `Accept-Encoding: identity`: no compression layer may hold text back",
//! and `with_header` / `with_query` "cannot replace the key or the framing". `settings::header` refuses
//! only `authorization`, `content-length`, `transfer-encoding`, `host` and `connection`; a caller's
//! `Content-Type` or `Accept-Encoding` is sent *next to* the client's, so the request carries two
//! conflicting values (and the caller's comes first, which is the one most servers read). For a multipart
//! upload, a first `Content-Type` without the form's boundary makes the body unreadable.

mod common;

use common::KEY;
use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::{Client, Error, RetryPolicy};

const CHAT_BODY: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;

#[test]
fn a_callers_header_never_doubles_a_header_the_client_sets() {
    let server = MockServer::start().unwrap();
    for _ in 0..3 {
        server.enqueue(MockResponse::json(serde_json::from_str(CHAT_BODY).unwrap()));
    }
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let mut problems = Vec::new();
    for (name, value) in [
        ("Content-Type", "text/plain"),
        ("Accept-Encoding", "gzip, br"),
        ("Accept", "text/html"),
    ] {
        let before = server.requests().len();
        let result = client.with_header(name, value).chat(&common::request());
        let requests = server.requests();
        if requests.len() == before {
            if !matches!(result, Err(Error::InvalidConfig(_))) {
                problems.push(format!("{name}: nothing sent, but {result:?}"));
            }
            continue;
        }
        let sent: Vec<&str> = requests[requests.len() - 1]
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        if sent.len() > 1 {
            problems.push(format!("{name} sent {} times: {sent:?}", sent.len()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
