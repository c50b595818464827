//! Per-request headers next to the client's own. Review 4 found a caller's `Content-Type`,
//! `Accept-Encoding` or `Accept` sent *next to* the client's (two conflicting values, the caller's first:
//! for a multipart upload, a `Content-Type` without the form's boundary). The README promises
//! `Accept-Encoding: identity` on every request and that `with_header` cannot replace the framing; these
//! headers are now refused (`InvalidConfig`). `User-Agent` replaces ureq's (held).

mod common;

use common::KEY;
use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::{Client, Error, RetryPolicy};

const CHAT_BODY: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;

#[test]
fn a_callers_header_never_doubles_a_header_the_client_sets() {
    let server = MockServer::start().unwrap();
    for _ in 0..4 {
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
        ("User-Agent", "mine/1.0"),
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
