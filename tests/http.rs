//! The HTTP client against mockito and a raw TCP server: requests sent, error bodies, timeouts, framing.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mockito::Matcher;
use serde_json::json;
use siliconflow::{Client, Error, FinishReason, StreamEnd, TimeoutKind};

fn mock_client(server: &mockito::Server) -> Client {
    client(&format!("{}/v1", server.url()))
}

/// Asserts the key appears nowhere in what a caller could print of `error`.
fn assert_no_key(error: &Error) {
    let text = format!("{error} | {error:?}");
    assert!(!text.contains(KEY), "key leaked: {text}");
    assert!(!text.contains("must-never-leak"), "key leaked: {text}");
}

#[test]
fn streaming_request_sends_the_right_headers_and_body() {
    let mut server = mockito::Server::new();
    let mock = server
        .mock("POST", "/v1/chat/completions")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .match_header("accept", "text/event-stream")
        .match_header("accept-encoding", "identity")
        .match_header("content-type", "application/json")
        .match_header("x-team", "research")
        .match_header("user-agent", Matcher::Regex("^siliconflow-rust/".into()))
        .match_body(Matcher::Json(json!({
            "model": "deepseek-ai/DeepSeek-R1",
            "messages": [{"role": "user", "content": "你好"}],
            "max_tokens": 64,
            "stream": true
        })))
        .with_header("content-type", "text/event-stream")
        .with_body(content_event("hi") + &finish_event("stop") + "data: [DONE]\n\n")
        .create();
    let client = builder(&format!("{}/v1", server.url()))
        .header("x-team", "research")
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request().max_tokens(64)).unwrap();
    assert_eq!(stream.by_ref().count(), 2);
    assert_eq!(stream.content(), "hi");
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    mock.assert();
}

/// Each SiliconFlow error body shape seen in the wild maps to status, code, message and trace id.
#[test]
fn error_bodies_of_every_shape() {
    let cases: &[(usize, &str, &str, Option<&str>, &str)] = &[
        (
            400,
            "application/json",
            r#"{"code":20012,"message":"Model does not exist. Please check it carefully.","data":null}"#,
            Some("20012"),
            "Model does not exist. Please check it carefully.",
        ),
        (
            400,
            "application/json",
            r#"{"code":20015,"message":"Value error, current model does not support parameter `enable_thinking`.","data":null}"#,
            Some("20015"),
            "Value error, current model does not support parameter `enable_thinking`.",
        ),
        (401, "application/json", r#""Invalid token""#, None, "Invalid token"),
        (401, "application/json", r#""Api key is invalid""#, None, "Api key is invalid"),
        (
            403,
            "application/json",
            r#"{"code":30001,"message":"Sorry, your account balance is insufficient","data":null}"#,
            Some("30001"),
            "Sorry, your account balance is insufficient",
        ),
        (404, "text/plain", "404 page not found", None, "404 page not found"),
        (
            429,
            "application/json",
            r#"{"message":"Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:TPM limit reached.","data":null}"#,
            None,
            "Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:TPM limit reached.",
        ),
        (
            503,
            "application/json",
            r#"{"code":50505,"message":"Model service overloaded. Please try again later.","data":null}"#,
            Some("50505"),
            "Model service overloaded. Please try again later.",
        ),
        (504, "application/json", r#""Gateway Timeout""#, None, "Gateway Timeout"),
        (
            400,
            "application/json",
            r#"{"error":{"message":"Model Not Exist","type":"invalid_request_error","param":null,"code":"invalid_request_error"}}"#,
            Some("invalid_request_error"),
            "Model Not Exist",
        ),
    ];
    for &(status, content_type, body, code, message) in cases {
        let mut server = mockito::Server::new();
        let _mock = server
            .mock("POST", "/v1/chat/completions")
            .with_status(status)
            .with_header("content-type", content_type)
            .with_header("x-siliconcloud-trace-id", "trace-abc")
            .with_body(body)
            .create();
        let client = mock_client(&server);
        for error in [
            client.chat_stream(&request()).unwrap_err(),
            client.chat(&request()).unwrap_err(),
        ] {
            assert_no_key(&error);
            let Error::Api(e) = &error else {
                panic!("{status}: expected Error::Api, got {error:?}");
            };
            assert_eq!(e.status as usize, status);
            assert_eq!(e.code.as_deref(), code, "{body}");
            assert_eq!(e.message, message);
            assert_eq!(e.request_id.as_deref(), Some("trace-abc"));
            assert_eq!(e.body, body);
            assert_eq!(error.status(), Some(status as u16));
        }
    }
}

#[test]
fn x_request_id_is_the_fallback_trace_id_and_retry_after_is_read() {
    let mut server = mockito::Server::new();
    let _a = server
        .mock("POST", "/v1/chat/completions")
        .with_status(429)
        .with_header("x-request-id", "req-9")
        .with_header("retry-after", "3")
        .with_body("slow down")
        .create();
    let Error::Api(e) = mock_client(&server).chat_stream(&request()).unwrap_err() else {
        panic!()
    };
    assert_eq!(e.request_id.as_deref(), Some("req-9"));
    assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(e.message, "slow down");

    let mut server = mockito::Server::new();
    let _b = server
        .mock("POST", "/v1/chat/completions")
        .with_status(503)
        .with_header("retry-after-ms", "250")
        .with_header("retry-after", "3")
        .create();
    let Error::Api(e) = mock_client(&server).chat_stream(&request()).unwrap_err() else {
        panic!()
    };
    assert_eq!(e.retry_after, Some(Duration::from_millis(250)));
    assert_eq!(
        e.message, "Service Unavailable",
        "empty body: the reason phrase"
    );
}

/// No buffering: the first delta reaches the caller before the server has even written the second event.
#[test]
fn first_delta_arrives_before_the_second_event_is_written() {
    let mut server = mockito::Server::new();
    let second_written: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stamp = Arc::clone(&second_written);
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_chunked_body(move |w| {
            w.write_all(content_event("first").as_bytes())?;
            std::thread::sleep(Duration::from_millis(300));
            *stamp.lock().unwrap() = Some(Instant::now());
            w.write_all(content_event("second").as_bytes())?;
            w.write_all(finish_event("stop").as_bytes())?;
            w.write_all(b"data: [DONE]\n\n")
        })
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    let first = stream.next().unwrap().unwrap();
    let first_received = Instant::now();
    assert_eq!(first.content.as_deref(), Some("first"));
    assert!(
        second_written.lock().unwrap().is_none(),
        "the first delta was held back until the second event was written"
    );
    let second = stream.next().unwrap().unwrap();
    assert_eq!(second.content.as_deref(), Some("second"));
    let written = second_written.lock().unwrap().expect("second written");
    assert!(written > first_received);
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.content(), "firstsecond");
}

#[test]
fn mid_stream_error_event_keeps_the_partial_text() {
    let mut server = mockito::Server::new();
    let body = reasoning_event("Let me think")
        + &content_event("Part")
        + "data: {\"error\":{\"message\":\"Model service overloaded\",\"code\":\"50505\",\"type\":\"server_error\"}}\n\n"
        + &content_event("never");
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_header("x-siliconcloud-trace-id", "t-1")
        .with_body(body)
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    let items: Vec<_> = stream.by_ref().collect();
    assert_eq!(items.len(), 3);
    let Err(Error::Stream(e)) = &items[2] else {
        panic!("expected a stream error, got {:?}", items[2]);
    };
    assert_eq!(e.message, "Model service overloaded");
    assert_eq!(e.code.as_deref(), Some("50505"));
    assert_eq!(e.error_type.as_deref(), Some("server_error"));
    assert_eq!(e.status, 200);
    assert_eq!(e.request_id.as_deref(), Some("t-1"));
    assert_eq!(stream.content(), "Part");
    assert_eq!(stream.reasoning_content(), "Let me think");
    assert_eq!(stream.end(), Some(StreamEnd::Failed));
    assert!(stream.next().is_none(), "fused");
}

#[test]
fn cut_stream_is_an_error_with_partial_text() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body(reasoning_event("hmm") + &content_event("Hel"))
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    assert!(stream.next().unwrap().is_ok());
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::StreamCut { received: 2, .. }),
        "{error:?}"
    );
    assert_eq!(stream.content(), "Hel");
    assert!(stream.next().is_none());
}

#[test]
fn empty_success_body_is_a_cut_stream() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body("")
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    assert!(matches!(
        stream.next(),
        Some(Err(Error::StreamCut { received: 0, .. }))
    ));
}

#[test]
fn finish_without_done_is_complete_and_reported_as_such() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body(content_event("ok") + &finish_event("length"))
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.end(), Some(StreamEnd::FinishedWithoutDone));
    assert_eq!(stream.finish_reason(), Some(&FinishReason::Length));
}

#[test]
fn malformed_chunk_names_the_event_and_the_text() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body(content_event("good") + "data: {\"choices\": [oops\n\n")
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    match stream.next() {
        Some(Err(Error::MalformedChunk { event, data, .. })) => {
            assert_eq!(event, 2);
            assert_eq!(data, "{\"choices\": [oops");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stream.content(), "good");
}

#[test]
fn streaming_request_answered_with_a_json_completion() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "application/json; charset=utf-8")
        .with_body(
            json!({"id": "c1", "object": "chat.completion", "created": 5, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole answer",
                "reasoning_content": "whole thought"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
            .to_string(),
        )
        .create();
    let mut stream = mock_client(&server).chat_stream(&request()).unwrap();
    let deltas: Vec<_> = stream.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(deltas.len(), 1);
    assert_eq!(deltas[0].content.as_deref(), Some("whole answer"));
    assert_eq!(
        deltas[0].reasoning_content.as_deref(),
        Some("whole thought")
    );
    assert_eq!(stream.content(), "whole answer");
    assert_eq!(stream.reasoning_content(), "whole thought");
    assert_eq!(stream.usage().unwrap().total_tokens, 3);
    assert_eq!(stream.end(), Some(StreamEnd::Json));
    assert_eq!(stream.into_completion().id, "c1");
}

/// A replayed JSON answer counts its id, model and fingerprint against the accumulation bound as a chunk
/// would (they were once left out: a 100 KB id and model passed a 10,000-byte bound).
#[test]
fn a_replayed_json_answer_counts_its_metadata_against_the_bound() {
    let mut server = mockito::Server::new();
    let big = "i".repeat(100_000);
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "application/json")
        .with_body(
            json!({"id": big, "object": "chat.completion", "created": 5, "model": big,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop"}]})
            .to_string(),
        )
        .create();
    let client = siliconflow::Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.url()))
        .max_accumulated_size(Some(10_000))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    let first = stream.next().unwrap();
    assert!(
        matches!(first, Err(Error::AccumulatedTooLarge { limit: 10_000 })),
        "{first:?}"
    );
    assert!(stream.next().is_none());
}

#[test]
fn streaming_request_answered_with_a_json_error_on_200() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "application/json")
        .with_body(r#"{"code":50505,"message":"Model service overloaded. Please try again later.","data":null}"#)
        .create();
    match mock_client(&server).chat_stream(&request()) {
        Err(Error::Api(e)) => {
            assert_eq!(e.code.as_deref(), Some("50505"));
            assert_eq!(e.status, 200);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_streaming_chat() {
    let mut server = mockito::Server::new();
    let mock = server
        .mock("POST", "/v1/chat/completions")
        .match_header("accept", "application/json")
        .match_body(Matcher::PartialJson(json!({"stream": false})))
        .with_header("content-type", "application/json")
        .with_body(
            json!({"id": "c2", "object": "chat.completion", "created": 5, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "answer",
                "reasoning_content": "thought", "tool_calls": [{"id": "functions.f:0", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\":1}"}}]}, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
            .to_string(),
        )
        .create();
    let completion = mock_client(&server).chat(&request()).unwrap();
    mock.assert();
    assert_eq!(completion.content(), "answer");
    assert_eq!(completion.reasoning_content(), "thought");
    assert_eq!(completion.finish_reason(), Some(&FinishReason::ToolCalls));
    let calls = completion.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls[0].id, "functions.f:0");
    assert_eq!(calls[0].function.arguments, "{\"a\":1}");
}

#[test]
fn non_streaming_chat_answered_with_an_event_stream_is_accumulated() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body(
            reasoning_event("r") + &content_event("c") + &finish_event("stop") + "data: [DONE]\n\n",
        )
        .create();
    let completion = mock_client(&server).chat(&request()).unwrap();
    assert_eq!(completion.content(), "c");
    assert_eq!(completion.reasoning_content(), "r");
}

#[test]
fn non_streaming_malformed_body_is_a_typed_error() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "application/json")
        .with_body("{not json")
        .create();
    let error = mock_client(&server).chat(&request()).unwrap_err();
    assert!(
        matches!(&error, Error::MalformedChunk { event: 0, data, .. } if data == "{not json"),
        "{error:?}"
    );
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client(&format!("http://127.0.0.1:{port}/v1"));
    let error = client.chat_stream(&request()).unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_no_key(&error);
}

#[test]
fn slow_headers_fail_with_a_response_timeout() {
    let (base, server) = raw_server(1, |_, _, _| std::thread::sleep(Duration::from_secs(2)));
    let client = builder(&base)
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let error = client.chat(&request()).unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Response)),
        "{error:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(1300));
    server.join().unwrap();
}

/// A close-delimited body (no length, no chunking): the end of the connection ends the body, and the
/// [DONE]/finish rule decides whether it was complete.
#[test]
fn close_delimited_bodies_complete_and_cut() {
    let (base, server) = raw_server(2, |n, _, stream| {
        write_sse_head(stream, "close");
        let mut body = content_event("close-delimited");
        if n == 0 {
            body += &finish_event("stop");
            body += "data: [DONE]\n\n";
        }
        stream.write_all(body.as_bytes()).unwrap();
    });
    let client = client(&base);
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    assert_eq!(stream.request_id(), Some("raw-1"));

    let mut stream = client.chat_stream(&request()).unwrap();
    let items: Vec<_> = stream.by_ref().collect();
    assert!(matches!(items.last(), Some(Err(Error::StreamCut { .. }))));
    assert_eq!(stream.content(), "close-delimited");
    server.join().unwrap();
}

/// A chunked body cut in the middle of a chunk is a typed error, and the text before it is kept.
#[test]
fn chunked_body_cut_mid_chunk() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("kept"));
        // Announce 0x100 bytes, send a few, hang up.
        stream.write_all(b"100\r\ndata: {\"cho").unwrap();
        stream.flush().unwrap();
    });
    let mut stream = client(&base).chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("kept")
    );
    let error = stream.next().unwrap().unwrap_err();
    assert!(matches!(error, Error::StreamCut { .. }), "{error:?}");
    assert_eq!(stream.content(), "kept");
    server.join().unwrap();
}

#[test]
fn oversized_event_is_a_typed_error() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "close");
        let _ = stream.write_all(content_event("small").as_bytes());
        let _ = stream.write_all(b"data: ");
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if stream.write_all(&chunk).is_err() {
                return; // The client hung up, as it should.
            }
        }
    });
    let client = builder(&base).max_event_size(256 * 1024).build().unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::EventTooLarge { limit: 262144 }),
        "{error:?}"
    );
    assert_eq!(stream.content(), "small");
    drop(stream);
    server.join().unwrap();
}

#[test]
fn clients_share_one_pool_and_run_streams_from_many_threads() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_body(content_event("hi") + &finish_event("stop") + "data: [DONE]\n\n")
        .expect(8)
        .create();
    let client = mock_client(&server);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut stream = client.chat_stream(&request()).unwrap();
                assert!(stream.by_ref().all(|d| d.is_ok()));
                stream.content().to_string()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), "hi");
    }
}
