//! Response metadata behind a gateway: LiteLLM forwards the provider's headers renamed with an
//! `llm_provider-` prefix and adds its own. The request id, the rate-limit headers and every other header
//! must be readable on a stream, on a successful result of every endpoint, and on an error.

mod common;

use common::endpoints::endpoints;
use common::*;

/// The headers of a LiteLLM proxy in front of SiliconFlow (recorded shape; values made up).
const GATEWAY: &[(&str, &str)] = &[
    ("llm_provider-x-siliconcloud-trace-id", "ti_gateway_7f3k2q"),
    ("x-litellm-call-id", "9d5c7a4e-0000-4000-8000-litellm"),
    ("x-litellm-model-api-base", "https://api.siliconflow.cn/v1"),
    ("x-ratelimit-remaining-requests", "59"),
    ("x-ratelimit-limit-tokens", "1000000"),
    ("llm_provider-x-ratelimit-reset-requests", "1s"),
];

/// Every endpoint's error carries the gateway's renamed request id and its headers.
#[test]
fn every_endpoints_error_carries_the_renamed_request_id_and_headers() {
    for endpoint in endpoints() {
        let (base, server) = raw_server(1, |_, _, stream| {
            let mut headers = GATEWAY.to_vec();
            headers.push(("Content-Type", "application/json"));
            write_response(
                stream,
                400,
                &headers,
                r#"{"code":20012,"message":"Model does not exist. Please check it carefully.","data":null}"#,
            );
        });
        let error = (endpoint.call)(&client(&base)).unwrap_err();
        server.join().unwrap();
        let api = error
            .api_error()
            .unwrap_or_else(|| panic!("{}: {error:?}", endpoint.name));
        assert_eq!(
            api.request_id.as_deref(),
            Some("ti_gateway_7f3k2q"),
            "{}",
            endpoint.name
        );
        assert_eq!(
            api.headers.get("x-litellm-call-id"),
            Some("9d5c7a4e-0000-4000-8000-litellm"),
            "{}",
            endpoint.name
        );
        assert_eq!(api.code.as_deref(), Some("20012"), "{}", endpoint.name);
    }
}

#[test]
fn streams_results_and_errors_carry_the_renamed_request_id() {
    let (base, server) = raw_server(4, |n, _, stream| {
        let mut headers = GATEWAY.to_vec();
        match n {
            0 => {
                headers.push(("Content-Type", "text/event-stream"));
                let body = content_event("hi") + &finish_event("stop") + "data: [DONE]\n\n";
                write_response(stream, 200, &headers, &body);
            }
            1 => {
                headers.push(("Content-Type", "application/json"));
                write_response(stream, 200, &headers, common::endpoints::CHAT_BODY);
            }
            2 => {
                headers.push(("Content-Type", "application/json"));
                write_response(
                    stream,
                    200,
                    &headers,
                    r#"{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.5]}]}"#,
                );
            }
            _ => {
                headers.push(("Content-Type", "application/json"));
                write_response(
                    stream,
                    429,
                    &headers,
                    r#"{"message":"Request was rejected due to rate limiting.","data":null}"#,
                );
            }
        }
    });
    let client = client(&base);

    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.request_id(), Some("ti_gateway_7f3k2q"));
    assert_eq!(
        stream.response().header("x-litellm-call-id"),
        Some("9d5c7a4e-0000-4000-8000-litellm")
    );

    let completion = client.chat(&request()).unwrap();
    assert_eq!(completion.request_id(), Some("ti_gateway_7f3k2q"));
    let limits = completion.response().rate_limit();
    assert_eq!(limits.remaining_requests, Some(59));
    assert_eq!(limits.limit_tokens, Some(1_000_000));
    assert_eq!(
        limits.reset_requests.as_deref(),
        Some("1s"),
        "a prefixed copy is read too"
    );
    assert_eq!(completion.response().status(), 200);

    let embeddings = client
        .embeddings(&siliconflow::EmbeddingRequest::new("m", "hi"))
        .unwrap();
    assert_eq!(embeddings.request_id(), Some("ti_gateway_7f3k2q"));

    let error = client.chat(&request()).unwrap_err();
    let api = error.api_error().unwrap();
    assert_eq!(api.status, 429);
    assert_eq!(api.request_id.as_deref(), Some("ti_gateway_7f3k2q"));
    assert_eq!(
        api.headers.get("x-ratelimit-remaining-requests"),
        Some("59")
    );
    assert!(error.to_string().contains("ti_gateway_7f3k2q"), "{error}");
    server.join().unwrap();
}
