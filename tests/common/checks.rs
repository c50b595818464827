//! Promises every endpoint keeps, checked row by row of [`endpoints`](super::endpoints) against
//! `siliconflow::mock`: SiliconFlow's error bodies (chat.md §2.1) become `Error::Api` with the status, code,
//! message and trace id; a 503 is retried and the success that follows is returned; a key echoed in an
//! error body never reaches the caller.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::json;
use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::{Client, Error, RetryPolicy};

use super::endpoints::{Answer, Endpoint};
use super::KEY;

/// The trace id the mock server sends with every scripted answer.
pub const TRACE: &str = "ti_trace_0123";

/// One error body SiliconFlow (or DeepSeek) documents, and what the caller must see.
pub struct Shape {
    pub response: fn() -> MockResponse,
    pub status: u16,
    pub code: Option<&'static str>,
    pub message: &'static str,
}

/// Every error-body shape of chat.md §2.1, plus OpenAI's envelope (DeepSeek and gateways).
pub fn error_shapes() -> Vec<Shape> {
    vec![
        Shape {
            response: MockResponse::model_not_found,
            status: 400,
            code: Some("20012"),
            message: "Model does not exist. Please check it carefully.",
        },
        Shape {
            response: || {
                MockResponse::siliconflow_error(
                    400,
                    20015,
                    "The parameter is invalid. Please check again.",
                )
            },
            status: 400,
            code: Some("20015"),
            message: "The parameter is invalid. Please check again.",
        },
        Shape {
            response: MockResponse::invalid_token,
            status: 401,
            code: None,
            message: "Invalid token",
        },
        Shape {
            response: || MockResponse::json(json!("Forbidden")).status(403),
            status: 403,
            code: None,
            message: "Forbidden",
        },
        Shape {
            response: MockResponse::insufficient_balance,
            status: 403,
            code: Some("30001"),
            message: "Sorry, your account balance is insufficient",
        },
        Shape {
            response: MockResponse::not_found,
            status: 404,
            code: None,
            message: "404 page not found",
        },
        Shape {
            response: MockResponse::rate_limited,
            status: 429,
            code: None,
            message: "Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:TPM limit reached.",
        },
        Shape {
            response: MockResponse::overloaded,
            status: 503,
            code: Some("50505"),
            message: "Model service overloaded. Please try again later.",
        },
        Shape {
            response: || MockResponse::json(json!("Gateway Timeout")).status(504),
            status: 504,
            code: None,
            message: "Gateway Timeout",
        },
        Shape {
            response: || {
                MockResponse::json(json!({"error": {"message": "Model Not Exist", "type": "invalid_request_error", "param": null, "code": "invalid_request_error"}}))
                    .status(400)
            },
            status: 400,
            code: Some("invalid_request_error"),
            message: "Model Not Exist",
        },
    ]
}

/// A client of `server` with the test key and no retries.
pub fn client(server: &MockServer) -> Client {
    super::client(&server.base_url())
}

/// The successful answer of an endpoint, as its row describes it.
pub fn ok_response(endpoint: &Endpoint) -> MockResponse {
    let body = (endpoint.ok_body)();
    let response = match endpoint.answer {
        Answer::Json => MockResponse::bytes("application/json", body),
        Answer::EventStream => MockResponse::bytes("text/event-stream", body),
        Answer::Binary => MockResponse::bytes("application/octet-stream", body),
    };
    response.header("x-siliconcloud-trace-id", TRACE)
}

/// Checks that the request the server got is the endpoint's.
fn assert_route(server: &MockServer, endpoint: &Endpoint) {
    let request = server.last_request().expect("a request");
    assert!(
        request.is(endpoint.method, endpoint.path),
        "{}: {} {} sent, {} {} expected",
        endpoint.name,
        request.method,
        request.path,
        endpoint.method,
        endpoint.path
    );
}

/// Every error shape on `endpoint`: `Error::Api` with the status, code, message and trace id.
pub fn assert_error_shapes(endpoint: &Endpoint) {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    for shape in error_shapes() {
        server.enqueue((shape.response)().header("x-siliconcloud-trace-id", TRACE));
        let result = (endpoint.call)(&client);
        assert_route(&server, endpoint);
        let Err(Error::Api(error)) = result else {
            panic!("{}: expected Error::Api, got {result:?}", endpoint.name);
        };
        let what = format!("{} on HTTP {}", endpoint.name, shape.status);
        assert_eq!(error.status, shape.status, "{what}");
        assert_eq!(error.code.as_deref(), shape.code, "{what}");
        assert_eq!(error.message, shape.message, "{what}");
        assert_eq!(error.request_id.as_deref(), Some(TRACE), "{what}");
    }
}

/// A 503 then the success: retried once, the success returned.
pub fn assert_retries_503(endpoint: &Endpoint) {
    let server = MockServer::start().unwrap();
    let client = super::builder(&server.base_url())
        .retry_policy(
            RetryPolicy::default()
                .backoff(Duration::from_millis(5), Duration::from_millis(20))
                .jitter(false),
        )
        .build()
        .unwrap();
    server.enqueue(MockResponse::overloaded());
    server.enqueue(ok_response(endpoint));
    let result = (endpoint.call)(&client);
    assert!(result.is_ok(), "{}: {result:?}", endpoint.name);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{}: one retry", endpoint.name);
    assert_eq!(
        requests[0].body, requests[1].body,
        "{}: the same body re-sent",
        endpoint.name
    );
    assert_route(&server, endpoint);
}

/// A server that echoes the key in an error body and a header: neither `Display` nor `Debug` of the error
/// has it.
pub fn assert_redacts_key(endpoint: &Endpoint) {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let echo = format!("invalid api key {KEY} (Bearer {KEY})");
    server.enqueue(
        MockResponse::siliconflow_error(400, 20015, &echo)
            .header("x-siliconcloud-trace-id", TRACE)
            .header("x-echo", KEY),
    );
    let error = (endpoint.call)(&client).expect_err("an error");
    for text in [format!("{error}"), format!("{error:?}")] {
        assert!(
            !text.contains(KEY),
            "{}: the key leaked: {text}",
            endpoint.name
        );
    }
    assert!(
        format!("{error:?}").contains("<redacted>"),
        "{}: {error:?}",
        endpoint.name
    );
}

/// Every promise above, for each of `endpoints`.
pub fn assert_promises(endpoints: &[Endpoint]) {
    for endpoint in endpoints {
        assert_error_shapes(endpoint);
        assert_retries_503(endpoint);
        assert_redacts_key(endpoint);
    }
}

/// The rows of the endpoint table with these names (each must exist).
pub fn rows(names: &[&str]) -> Vec<Endpoint> {
    let all = super::endpoints::endpoints();
    names
        .iter()
        .map(|name| {
            all.iter()
                .position(|e| e.name == *name)
                .unwrap_or_else(|| panic!("no row {name} in the endpoint table"))
        })
        .map(|i| super::endpoints::endpoints().swap_remove(i))
        .collect()
}
