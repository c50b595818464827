//! Ids put into request paths cannot change which endpoint a request reaches. Review 4 found that an id
//! of `.`, `..` or `""` (percent-encoding leaves `.` alone: it is an RFC 3986 unreserved character) made a
//! dot segment or an empty one: `get_batch("..")` sent `GET /v1/batches/..`, which a normalising server,
//! proxy or gateway reads as `GET /v1/`, `cancel_batch("..")` as `POST /v1/cancel`, `get_batch(".")` as
//! the batch list. Now every API path with an empty or dot segment is refused (`InvalidConfig`) before
//! anything is sent. Reserved characters inside a longer id stay in their segment (that held).

mod common;

use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::{Error, FileRef};

/// RFC 3986 §5.2.4 remove_dot_segments, after decoding `%2E` (which RFC 3986 §2.3 and the WHATWG URL
/// parser treat as `.`).
fn normalise(path: &str) -> String {
    let decoded = path.replace("%2E", ".").replace("%2e", ".");
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

/// A call of the client with one id.
type Call = Box<dyn Fn() -> Result<(), Error>>;

#[test]
fn dot_segment_ids_cannot_reach_another_endpoint() {
    let server = not_found_server(16);
    let client = common::client(&server.base_url());
    let mut failures = Vec::new();
    for id in ["", ".", ".."] {
        let cases: Vec<(&str, &str, Call)> = vec![
            ("get_batch", "/v1/batches/", {
                let (c, id) = (client.clone(), id.to_string());
                Box::new(move || c.get_batch(&id).map(drop))
            }),
            ("cancel_batch", "/v1/batches/", {
                let (c, id) = (client.clone(), id.to_string());
                Box::new(move || c.cancel_batch(&id).map(drop))
            }),
            ("delete_file", "/v1/files/", {
                let (c, id) = (client.clone(), id.to_string());
                Box::new(move || c.delete_file(&id).map(drop))
            }),
            ("file_content", "/v1/files/", {
                let (c, id) = (client.clone(), id.to_string());
                Box::new(move || {
                    c.file_content(&FileRef::Id(id.clone()), &mut Vec::new())
                        .map(drop)
                })
            }),
        ];
        for (name, prefix, call) in cases {
            let before = server.requests().len();
            let result = call();
            let requests = server.requests();
            if requests.len() == before {
                // Refused before sending: fine, if it says why.
                if !matches!(result, Err(Error::InvalidConfig(_))) {
                    failures.push(format!("{name}({id:?}): nothing sent but {result:?}"));
                }
                continue;
            }
            let path = &requests[requests.len() - 1].path;
            let normalised = normalise(path);
            // The id's segment, right after the prefix, must survive normalisation, non-empty.
            let unchanged = normalised == path.replace("%2E", ".").replace("%2e", ".");
            let stays = unchanged
                && normalised
                    .strip_prefix(prefix)
                    .is_some_and(|rest| !rest.split('/').next().unwrap_or("").is_empty());
            if !stays {
                failures.push(format!(
                    "{name}({id:?}) sent {path:?}, which a normalising server reads as {normalised:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// It held: `/`, `?`, `#`, `%`, spaces and `..` inside a longer id are percent-encoded into one segment.
#[test]
fn reserved_characters_in_ids_stay_in_their_segment() {
    let server = not_found_server(4);
    let client = common::client(&server.base_url());
    let _ = client.get_batch("a/../b?c=1#d e%2F");
    let _ = client.cancel_batch("../../models");
    let requests = server.requests();
    assert_eq!(
        requests[0].path,
        "/v1/batches/a%2F..%2Fb%3Fc%3D1%23d%20e%252F"
    );
    assert_eq!(requests[0].query, "");
    assert_eq!(requests[1].path, "/v1/batches/..%2F..%2Fmodels/cancel");
}

/// A mock server that answers the next `answers` requests with 404.
fn not_found_server(answers: usize) -> MockServer {
    let server = MockServer::start().unwrap();
    for _ in 0..answers {
        server.enqueue(MockResponse::json(serde_json::json!({"message": "not found"})).status(404));
    }
    server
}
