//! The non-chat endpoints against mockito: `GET /models`, `GET /user/info`, `POST /embeddings`,
//! `POST /rerank`. For each: the request sent, the answer parsed, HTTP errors, malformed bodies.

use std::time::Duration;

use mockito::{Matcher, Server};
use serde_json::json;
use siliconflow::{
    Client, EmbeddingDecodeError, EmbeddingRequest, EmbeddingVector, EncodingFormat, Error,
    ModelsQuery, RerankRequest, RetryPolicy,
};

const KEY: &str = "sk-test-0123456789";
const AUTH: &str = "Bearer sk-test-0123456789";
const TRACE: &str = "ti_7f3k2q9x8c";

fn client(server: &Server) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.url()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

/// The `ApiError` of an `Error::Api`, or a panic naming what came instead.
fn api_error<T: std::fmt::Debug>(result: Result<T, Error>) -> Box<siliconflow::ApiError> {
    match result {
        Err(Error::Api(e)) => e,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

/// Asserts `result` is `Error::MalformedChunk` for a whole (non-streamed) body.
fn assert_malformed<T: std::fmt::Debug>(result: Result<T, Error>) {
    match result {
        Err(Error::MalformedChunk { event: 0, .. }) => {}
        other => panic!("expected Error::MalformedChunk, got {other:?}"),
    }
}

/// Standard base64 with padding, to build the bodies a server would send.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn f32s_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64(&bytes)
}

// ---------------------------------------------------------------------------------------------------
// GET /models

const MODELS_BODY: &str = r#"{"object":"list","data":[
    {"id":"deepseek-ai/DeepSeek-R1","object":"model","created":0,"owned_by":""},
    {"id":"Qwen/Qwen3-8B","object":"model","created":0,"owned_by":""}]}"#;

#[test]
fn list_models_sends_a_get_without_query_and_parses_the_list() {
    let mut server = Server::new();
    let mock = server
        .mock("GET", "/v1/models")
        .match_query(Matcher::Missing)
        .match_header("authorization", AUTH)
        .match_header("accept", "application/json")
        .match_header("content-type", Matcher::Missing)
        .match_body("")
        .with_header("content-type", "application/json")
        .with_body(MODELS_BODY)
        .create();
    let list = client(&server).list_models().unwrap();
    mock.assert();
    assert_eq!(list.object, "list");
    assert_eq!(
        list.ids().collect::<Vec<_>>(),
        ["deepseek-ai/DeepSeek-R1", "Qwen/Qwen3-8B"]
    );
    let first = &list.data[0];
    assert_eq!(
        (
            first.object.as_str(),
            first.created,
            first.owned_by.as_str()
        ),
        ("model", 0, "")
    );
}

#[test]
fn models_sends_type_and_sub_type_filters() {
    let mut server = Server::new();
    let mock = server
        .mock("GET", "/v1/models")
        .match_query(Matcher::Exact("type=text&sub_type=chat".into()))
        .match_header("authorization", AUTH)
        .with_body(MODELS_BODY)
        .create();
    let list = client(&server)
        .models(&ModelsQuery::new().kind("text").sub_type("chat"))
        .unwrap();
    mock.assert();
    assert_eq!(list.data.len(), 2);

    let only_sub_type = server
        .mock("GET", "/v1/models")
        .match_query(Matcher::Exact("sub_type=text-to-image".into()))
        .with_body(r#"{"object":"list","data":[]}"#)
        .create();
    let list = client(&server)
        .models(&ModelsQuery::new().sub_type("text-to-image"))
        .unwrap();
    only_sub_type.assert();
    assert_eq!(list.ids().count(), 0);
}

#[test]
fn models_percent_encodes_filter_values() {
    let mut server = Server::new();
    let mock = server
        .mock("GET", "/v1/models")
        .match_query(Matcher::AllOf(vec![
            Matcher::Exact("type=a%20b%26c%3Dd&sub_type=%E8%AF%AD%2Fx%3Fy%23z%25%2B".into()),
            // The server decodes exactly what was asked for, and sees no smuggled parameter.
            Matcher::UrlEncoded("type".into(), "a b&c=d".into()),
            Matcher::UrlEncoded("sub_type".into(), "语/x?y#z%+".into()),
        ]))
        .with_body(MODELS_BODY)
        .create();
    client(&server)
        .models(&ModelsQuery::new().kind("a b&c=d").sub_type("语/x?y#z%+"))
        .unwrap();
    mock.assert();
}

#[test]
fn models_http_error_is_an_api_error_with_the_trace_id() {
    let mut server = Server::new();
    server
        .mock("GET", "/v1/models")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_header("x-siliconcloud-trace-id", TRACE)
        .with_body(r#""Invalid token""#)
        .create();
    let e = api_error(client(&server).list_models());
    assert_eq!(e.status, 401);
    assert_eq!(e.code, None);
    assert_eq!(e.message, "Invalid token");
    assert_eq!(e.request_id.as_deref(), Some(TRACE));
}

#[test]
fn models_malformed_body_is_malformed_chunk() {
    let mut server = Server::new();
    server
        .mock("GET", "/v1/models")
        .with_body(r#"{"object":"list","data":[{"id":42}]}"#)
        .create();
    assert_malformed(client(&server).list_models());

    let mut server = Server::new();
    server
        .mock("GET", "/v1/models")
        .with_header("content-type", "text/html")
        .with_body("<html>gateway</html>")
        .create();
    assert_malformed(client(&server).list_models());
}

// ---------------------------------------------------------------------------------------------------
// GET /user/info

const USER_INFO_BODY: &str = r#"{"code":20000,"message":"OK","status":true,"data":{"id":"userid",
    "name":"username","image":"https://example.com/avatar.png","email":"a@b.c","isAdmin":false,
    "balance":"0.88","status":"normal","introduction":"","role":"","chargeBalance":"88.00",
    "totalBalance":"88.88"}}"#;

#[test]
fn user_info_unwraps_the_envelope() {
    let mut server = Server::new();
    let mock = server
        .mock("GET", "/v1/user/info")
        .match_query(Matcher::Missing)
        .match_header("authorization", AUTH)
        .match_header("accept", "application/json")
        .with_header("content-type", "application/json")
        .with_body(USER_INFO_BODY)
        .create();
    let info = client(&server).user_info().unwrap();
    mock.assert();
    assert_eq!(info.id, "userid");
    assert_eq!(info.name, "username");
    assert_eq!(info.image, "https://example.com/avatar.png");
    assert_eq!(info.email, "a@b.c");
    assert!(!info.is_admin);
    assert_eq!(info.status, "normal");
    assert_eq!(info.introduction, "");
    assert_eq!(info.role, "");
    // Balances are kept exactly as sent ("88.00", not "88").
    assert_eq!(info.balance, "0.88");
    assert_eq!(info.charge_balance, "88.00");
    assert_eq!(info.total_balance, "88.88");
    assert_eq!(info.balance_f64(), Some(0.88));
    assert_eq!(info.charge_balance_f64(), Some(88.0));
    assert_eq!(info.total_balance_f64(), Some(88.88));
    // And it serializes back under the wire's camelCase names.
    let value = serde_json::to_value(&info).unwrap();
    assert_eq!(value["totalBalance"], "88.88");
    assert_eq!(value["isAdmin"], false);
}

#[test]
fn user_info_failure_envelope_is_an_api_error() {
    let envelope = json!({"code": 30001, "message": "Sorry, your account balance is insufficient",
                          "status": false, "data": null});
    let mut server = Server::new();
    server
        .mock("GET", "/v1/user/info")
        .with_header("content-type", "application/json")
        .with_body(envelope.to_string())
        .create();
    let e = api_error(client(&server).user_info());
    assert_eq!(e.status, 200);
    assert_eq!(e.code.as_deref(), Some("30001"));
    assert_eq!(e.message, "Sorry, your account balance is insufficient");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&e.body).unwrap(),
        envelope
    );

    // A success-looking envelope without data is a failure too, and so is an unexpected code.
    for body in [
        r#"{"code":20000,"message":"OK","status":true,"data":null}"#,
        r#"{"code":50000,"message":"internal","status":true,"data":{"id":"u"}}"#,
    ] {
        let mut server = Server::new();
        server.mock("GET", "/v1/user/info").with_body(body).create();
        let e = api_error(client(&server).user_info());
        assert_eq!(e.status, 200, "{body}");
        assert!(e.code.is_some(), "{body}");
    }
}

#[test]
fn user_info_http_error_is_an_api_error_with_the_trace_id() {
    let mut server = Server::new();
    server
        .mock("GET", "/v1/user/info")
        .with_status(401)
        .with_header("x-siliconcloud-trace-id", TRACE)
        .with_body(r#""Invalid token""#)
        .create();
    let e = api_error(client(&server).user_info());
    assert_eq!((e.status, e.message.as_str()), (401, "Invalid token"));
    assert_eq!(e.request_id.as_deref(), Some(TRACE));
}

#[test]
fn user_info_malformed_body_is_malformed_chunk() {
    for body in [
        "not json",
        r#"[1,2,3]"#,
        r#"{"code":20000,"status":true,"data":{"isAdmin":"maybe"}}"#,
    ] {
        let mut server = Server::new();
        server.mock("GET", "/v1/user/info").with_body(body).create();
        assert_malformed(client(&server).user_info());
    }
}

// ---------------------------------------------------------------------------------------------------
// POST /embeddings

#[test]
fn embeddings_sends_only_what_was_set_and_parses_floats() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/v1/embeddings")
        .match_header("authorization", AUTH)
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(
            json!({"model": "BAAI/bge-m3", "input": "Silicon flows."}),
        ))
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"object":"list","data":[{"object":"embedding","embedding":[0.1,-0.25,3],"index":0}],
                "model":"BAAI/bge-m3","usage":{"prompt_tokens":3,"total_tokens":3}}"#,
        )
        .create();
    let request = EmbeddingRequest::new("BAAI/bge-m3", "Silicon flows.");
    let response = client(&server).embeddings(&request).unwrap();
    mock.assert();
    assert_eq!(response.object, "list");
    assert_eq!(response.model, "BAAI/bge-m3");
    assert_eq!(response.data.len(), 1);
    assert_eq!(response.data[0].object, "embedding");
    assert_eq!(response.data[0].index, 0);
    assert_eq!(
        response.data[0].embedding,
        EmbeddingVector::Float(vec![0.1, -0.25, 3.0])
    );
    assert_eq!(response.vectors().unwrap(), vec![vec![0.1, -0.25, 3.0]]);
    let usage = response.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (3, 0, 3)
    );
}

#[test]
fn embeddings_batch_with_every_parameter_and_base64_vectors() {
    let first = [1.0f32, -2.5, 0.15625];
    let second = [0.0f32, f32::MAX, -1e-7];
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/v1/embeddings")
        .match_header("authorization", AUTH)
        .match_body(Matcher::Json(json!({
            "model": "Qwen/Qwen3-Embedding-8B",
            "input": ["first", "second"],
            "encoding_format": "base64",
            "dimensions": 3,
            "user": "user-42",
            "truncate": "END"
        })))
        .with_body(
            json!({
                "object": "list",
                "model": "Qwen/Qwen3-Embedding-8B",
                // Out of order on purpose: `vectors()` orders by index.
                "data": [
                    {"object": "embedding", "embedding": f32s_base64(&second), "index": 1},
                    {"object": "embedding", "embedding": f32s_base64(&first), "index": 0}
                ],
                "usage": {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4}
            })
            .to_string(),
        )
        .create();
    let request = EmbeddingRequest::new("Qwen/Qwen3-Embedding-8B", vec!["first", "second"])
        .encoding_format(EncodingFormat::Base64)
        .dimensions(3)
        .user("user-42")
        .extra_field("truncate", "END");
    let response = client(&server).embeddings(&request).unwrap();
    mock.assert();
    assert!(matches!(
        response.data[0].embedding,
        EmbeddingVector::Base64(_)
    ));
    assert_eq!(response.data[1].embedding.to_vec().unwrap(), first);
    assert_eq!(
        response.vectors().unwrap(),
        vec![first.to_vec(), second.to_vec()]
    );
}

#[test]
fn embeddings_bad_base64_is_a_decode_error() {
    let mut server = Server::new();
    server
        .mock("POST", "/v1/embeddings")
        .with_body(
            json!({"object": "list", "model": "m", "data": [
                {"object": "embedding", "embedding": f32s_base64(&[1.0]), "index": 0},
                {"object": "embedding", "embedding": "AACA*w==", "index": 1},
                {"object": "embedding", "embedding": "AACAPw=", "index": 2},
                {"object": "embedding", "embedding": base64(&[0, 0, 128]), "index": 3}
            ]})
            .to_string(),
        )
        .create();
    let request = EmbeddingRequest::new("m", vec!["a", "b", "c", "d"])
        .encoding_format(EncodingFormat::Base64);
    let response = client(&server).embeddings(&request).unwrap();
    assert_eq!(response.data[0].embedding.to_vec().unwrap(), [1.0]);
    let errors: Vec<EmbeddingDecodeError> = response.data[1..]
        .iter()
        .map(|d| d.embedding.to_vec().unwrap_err())
        .collect();
    assert_eq!(
        errors,
        [
            EmbeddingDecodeError::InvalidByte {
                offset: 4,
                byte: b'*'
            },
            EmbeddingDecodeError::InvalidLength { len: 7 },
            EmbeddingDecodeError::NotF32s { bytes: 3 },
        ]
    );
    let err = response.vectors().unwrap_err();
    assert_eq!(err, errors[0], "vectors() fails on the first bad vector");
    let _: &dyn std::error::Error = &err;
    assert!(err.to_string().contains("offset 4"), "{err}");
}

#[test]
fn embeddings_http_error_is_an_api_error_with_the_trace_id() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/v1/embeddings")
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_header("x-siliconcloud-trace-id", TRACE)
        .with_body(
            r#"{"code":20012,"message":"Model does not exist. Please check it carefully.","data":null}"#,
        )
        .create();
    let e = api_error(client(&server).embeddings(&EmbeddingRequest::new("no/such-model", "x")));
    mock.assert();
    assert_eq!(e.status, 400);
    assert_eq!(e.code.as_deref(), Some("20012"));
    assert_eq!(
        e.message,
        "Model does not exist. Please check it carefully."
    );
    assert_eq!(e.request_id.as_deref(), Some(TRACE));
}

#[test]
fn embeddings_malformed_body_is_malformed_chunk() {
    for body in [
        r#"{"object":"list","data":[{"embedding":{"not":"a vector"},"index":0}]}"#,
        r#"{"object":"list","data":[{"embedding":[1.0],"index":0}]"#,
    ] {
        let mut server = Server::new();
        server
            .mock("POST", "/v1/embeddings")
            .with_body(body)
            .create();
        assert_malformed(client(&server).embeddings(&EmbeddingRequest::new("m", "x")));
    }
}

// ---------------------------------------------------------------------------------------------------
// POST /rerank

const RERANK_BODY: &str = r#"{"id":"0198a7b4c3d2e1f0","results":[
    {"document":{"text":"apple"},"index":0,"relevance_score":0.9953},
    {"document":{"text":"fruit"},"index":2,"relevance_score":0.0412}],
    "meta":{"billed_units":{"input_tokens":28,"output_tokens":0,"search_units":0,"classifications":0},
            "tokens":{"input_tokens":28,"output_tokens":0}}}"#;

#[test]
fn rerank_sends_only_what_was_set_and_parses_results() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/v1/rerank")
        .match_header("authorization", AUTH)
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "model": "BAAI/bge-reranker-v2-m3",
            "query": "Apple",
            "documents": ["apple", "banana", "fruit", "vegetable"],
            "top_n": 2,
            "return_documents": true
        })))
        .with_header("content-type", "application/json")
        .with_body(RERANK_BODY)
        .create();
    let request = RerankRequest::new(
        "BAAI/bge-reranker-v2-m3",
        "Apple",
        ["apple", "banana", "fruit", "vegetable"],
    )
    .top_n(2)
    .return_documents(true);
    let response = client(&server).rerank(&request).unwrap();
    mock.assert();
    assert_eq!(response.id, "0198a7b4c3d2e1f0");
    let ranked: Vec<_> = response
        .results
        .iter()
        .map(|r| (r.index, r.text(), r.relevance_score))
        .collect();
    assert_eq!(
        ranked,
        [(0, Some("apple"), 0.9953), (2, Some("fruit"), 0.0412)]
    );
    let meta = response.meta.as_ref().unwrap();
    let billed = meta.billed_units.as_ref().unwrap();
    assert_eq!(
        (
            billed.input_tokens,
            billed.output_tokens,
            billed.search_units,
            billed.classifications
        ),
        (28, 0, 0, 0)
    );
    let tokens = response.token_usage().unwrap();
    assert_eq!((tokens.input_tokens, tokens.output_tokens), (28, 0));
}

#[test]
fn rerank_with_every_parameter_and_no_documents_returned() {
    let mut server = Server::new();
    let mock = server
        .mock("POST", "/v1/rerank")
        .match_body(Matcher::Json(json!({
            "model": "Qwen/Qwen3-Reranker-8B",
            "query": "q",
            "documents": ["a", "b"],
            "top_n": 1,
            "return_documents": false,
            "max_chunks_per_doc": 16,
            "overlap_tokens": 32,
            "instruction": "Given a query, rank the documents.",
            "custom": [1, 2]
        })))
        .with_body(
            r#"{"id":"r2","results":[{"index":1,"relevance_score":0.75},
                {"document":null,"index":0,"relevance_score":0.5}],
                "tokens":{"input_tokens":12,"output_tokens":0}}"#,
        )
        .create();
    let request = RerankRequest::new(
        "Qwen/Qwen3-Reranker-8B",
        "q",
        vec![String::from("a"), "b".into()],
    )
    .top_n(1)
    .return_documents(false)
    .max_chunks_per_doc(16)
    .overlap_tokens(32)
    .instruction("Given a query, rank the documents.")
    .extra_field("custom", json!([1, 2]));
    let response = client(&server).rerank(&request).unwrap();
    mock.assert();
    assert!(response.results.iter().all(|r| r.document.is_none()));
    assert_eq!(response.results[0].index, 1);
    assert!(response.meta.is_none());
    assert_eq!(response.token_usage().map(|t| t.input_tokens), Some(12));
}

#[test]
fn rerank_http_error_is_an_api_error_with_the_trace_id() {
    let mut server = Server::new();
    server
        .mock("POST", "/v1/rerank")
        .with_status(403)
        .with_header("content-type", "application/json")
        .with_header("x-siliconcloud-trace-id", TRACE)
        .with_body(
            r#"{"code":30001,"message":"Sorry, your account balance is insufficient","data":null}"#,
        )
        .create();
    let e = api_error(client(&server).rerank(&RerankRequest::new("m", "q", ["d"])));
    assert_eq!(e.status, 403);
    assert_eq!(e.code.as_deref(), Some("30001"));
    assert_eq!(e.message, "Sorry, your account balance is insufficient");
    assert_eq!(e.request_id.as_deref(), Some(TRACE));
    assert!(!e.is_retryable());
}

#[test]
fn rerank_malformed_body_is_malformed_chunk() {
    let mut server = Server::new();
    server
        .mock("POST", "/v1/rerank")
        .with_body(r#"{"id":"r","results":[{"index":"first","relevance_score":0.5}]}"#)
        .create();
    assert_malformed(client(&server).rerank(&RerankRequest::new("m", "q", ["d"])));
}

// ---------------------------------------------------------------------------------------------------
// Shared behaviour

#[test]
fn error_body_echoing_the_key_is_redacted() {
    let mut server = Server::new();
    server
        .mock("POST", "/v1/embeddings")
        .with_status(401)
        .with_body(format!(
            r#"{{"code":20001,"message":"bad key {KEY}","data":null}}"#
        ))
        .create();
    let err = client(&server)
        .embeddings(&EmbeddingRequest::new("m", "x"))
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(KEY), "{text}");
}

#[test]
fn a_503_is_retried_by_the_clients_retry_policy() {
    let mut server = Server::new();
    let retry = RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(10));
    let build = |server: &Server| {
        Client::builder()
            .api_key(KEY)
            .base_url(format!("{}/v1", server.url()))
            .retry_policy(retry.clone())
            .build()
            .unwrap()
    };

    let models = server
        .mock("GET", "/v1/models")
        .with_status(503)
        .with_body(r#"{"message":"busy","data":null}"#)
        .expect(3)
        .create();
    let e = api_error(build(&server).list_models());
    assert_eq!((e.status, e.message.as_str()), (503, "busy"));
    models.assert();

    let rerank = server
        .mock("POST", "/v1/rerank")
        .match_body(Matcher::Json(
            json!({"model": "m", "query": "q", "documents": ["d"]}),
        ))
        .with_status(503)
        .expect(3)
        .create();
    let e = api_error(build(&server).rerank(&RerankRequest::new("m", "q", ["d"])));
    assert_eq!(e.status, 503);
    rerank.assert();
}

#[test]
fn a_retried_503_then_success_returns_the_answer() {
    let mut server = Server::new();
    // mockito answers with the first created matching mock whose `expect` is not used up yet.
    let busy = server
        .mock("GET", "/v1/user/info")
        .with_status(503)
        .expect(1)
        .create();
    let ok = server
        .mock("GET", "/v1/user/info")
        .with_body(USER_INFO_BODY)
        .expect(1)
        .create();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.url()))
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let info = client.user_info().unwrap();
    assert_eq!(info.total_balance, "88.88");
    busy.assert();
    ok.assert();
}
