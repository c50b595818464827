//! Every endpoint the client calls, as one table, so each promise test (fault matrix, threads, redaction,
//! panics) runs over all of them: a new endpoint added here gets every row, and one not added here is
//! visibly missing.
#![allow(dead_code)]

use siliconflow::{
    ChatRequest, Client, EmbeddingRequest, Error, Message, ModelsQuery, RerankRequest,
};

/// How an endpoint's successful answer looks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A JSON body.
    Json,
    /// A server-sent-event stream.
    EventStream,
}

/// Calls an endpoint with a request body of about the given size.
pub type CallBig = fn(&Client, usize) -> Result<(), Error>;

/// One endpoint of the client.
pub struct Endpoint {
    pub name: &'static str,
    pub method: &'static str,
    /// The path under `/v1`.
    pub path: &'static str,
    pub answer: Answer,
    /// Calls it and consumes the whole answer.
    pub call: fn(&Client) -> Result<(), Error>,
    /// Calls it with a request body of about `bytes` bytes (endpoints whose request has a body).
    pub call_big: Option<CallBig>,
    /// A complete successful answer body.
    pub ok_body: fn() -> String,
}

fn chat_request(text: String) -> ChatRequest {
    ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user(text)])
}

fn consume_stream(client: &Client, request: &ChatRequest) -> Result<(), Error> {
    let mut stream = client.chat_stream(request)?;
    for delta in &mut stream {
        delta?;
    }
    Ok(())
}

pub const CHAT_STREAM_BODY: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

pub const CHAT_BODY: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;

/// Every endpoint.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "chat_stream",
            method: "POST",
            path: "/v1/chat/completions",
            answer: Answer::EventStream,
            call: |c| consume_stream(c, &chat_request("hi".into())),
            call_big: Some(|c, n| consume_stream(c, &chat_request("x".repeat(n)))),
            ok_body: || CHAT_STREAM_BODY.to_string(),
        },
        Endpoint {
            name: "chat",
            method: "POST",
            path: "/v1/chat/completions",
            answer: Answer::Json,
            call: |c| c.chat(&chat_request("hi".into())).map(drop),
            call_big: Some(|c, n| c.chat(&chat_request("x".repeat(n))).map(drop)),
            ok_body: || CHAT_BODY.to_string(),
        },
        Endpoint {
            name: "models",
            method: "GET",
            path: "/v1/models",
            answer: Answer::Json,
            call: |c| c.models(&ModelsQuery::new().kind("text")).map(drop),
            call_big: None,
            ok_body: || r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#.to_string(),
        },
        Endpoint {
            name: "user_info",
            method: "GET",
            path: "/v1/user/info",
            answer: Answer::Json,
            call: |c| c.user_info().map(drop),
            call_big: None,
            ok_body: || {
                r#"{"code":20000,"message":"OK","status":true,"data":{"id":"u","balance":"1"}}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "embeddings",
            method: "POST",
            path: "/v1/embeddings",
            answer: Answer::Json,
            call: |c| c.embeddings(&EmbeddingRequest::new("m", "hi")).map(drop),
            call_big: Some(|c, n| {
                c.embeddings(&EmbeddingRequest::new("m", "x".repeat(n)))
                    .map(drop)
            }),
            ok_body: || {
                r#"{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.5]}]}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "rerank",
            method: "POST",
            path: "/v1/rerank",
            answer: Answer::Json,
            call: |c| {
                c.rerank(&RerankRequest::new("m", "q", ["a", "b"]))
                    .map(drop)
            },
            call_big: Some(|c, n| {
                c.rerank(&RerankRequest::new("m", "q", ["x".repeat(n)]))
                    .map(drop)
            }),
            ok_body: || r#"{"id":"r","results":[{"index":0,"relevance_score":0.9}]}"#.to_string(),
        },
    ]
}
