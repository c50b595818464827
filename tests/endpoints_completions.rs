//! Text completions and fill-in-the-middle: `POST /completions`, whole and streamed (through the chat
//! stream's decoder, `choices[].text` as content).

mod common;

use std::time::Duration;

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::json;
use siliconflow::mock::{MockResponse, MockServer, SseEvent};
use siliconflow::{CompletionRequest, Error, FinishReason, StreamEnd};

const MODEL: &str = "Qwen/Qwen2.5-Coder-32B-Instruct";

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&["completion", "completion_stream"]));
}

#[test]
fn completion_sends_stream_false_and_only_the_set_parameters() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"choices": [{"index": 0, "text": "x"}]}),
    ));
    let request = CompletionRequest::fim(MODEL, "def fib(n):\n    ", "\n\nprint(fib(10))")
        .max_tokens(4096)
        .stream(true) // the call decides: it is sent as false
        .temperature(0.2)
        .stop(vec!["\n\n"]);
    checks::client(&server).completion(&request).unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/completions"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": MODEL, "prompt": "def fib(n):\n    ", "suffix": "\n\nprint(fib(10))",
               "max_tokens": 4096, "stream": false, "temperature": 0.2, "stop": ["\n\n"]})
    );
}

#[test]
fn completion_reads_the_documented_answer_with_its_metadata() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::json(json!({
            "id": "0196", "object": "text_completion", "created": 1741685413, "model": MODEL,
            "choices": [{"index": 0, "text": "    if n < 2:\n        return n", "finish_reason": "eos",
                         "logprobs": {"tokens": ["if"], "token_logprobs": [-0.1]}}],
            "usage": {"prompt_tokens": 60, "completion_tokens": 80, "total_tokens": 140},
            "prompt": [{"text": "def fib(n):", "logprobs": null}]
        }))
        .header("x-siliconcloud-trace-id", TRACE),
    );
    let completion = checks::client(&server)
        .completion(&CompletionRequest::new(MODEL, "def fib(n):"))
        .unwrap();
    assert_eq!(completion.text(), "    if n < 2:\n        return n");
    assert_eq!(completion.finish_reason(), Some(&FinishReason::Eos));
    assert_eq!(completion.usage.as_ref().map(|u| u.total_tokens), Some(140));
    assert_eq!(
        completion.extra.to_value()["prompt"][0]["text"],
        "def fib(n):"
    );
    assert_eq!(completion.request_id(), Some(TRACE));
}

#[test]
fn an_error_object_with_200_is_an_error() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"code": 20015, "message": "suffix is not supported", "data": null}),
    ));
    let Err(Error::Api(error)) =
        checks::client(&server).completion(&CompletionRequest::new(MODEL, "x"))
    else {
        panic!("expected Error::Api");
    };
    assert_eq!((error.status, error.code.as_deref()), (200, Some("20015")));
}

#[test]
fn the_stream_accumulates_text_as_content() {
    let server = MockServer::start().unwrap();
    let chunk = |text: &str, finish: Option<&str>| {
        SseEvent::json(
            &json!({"id": "c1", "object": "text_completion", "model": MODEL,
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
        )
    };
    server.enqueue(
        MockResponse::sse(vec![
            chunk("return ", None),
            SseEvent::comment("keep-alive"),
            chunk("a + b", None),
            SseEvent::json(
                &json!({"choices": [{"index": 0, "text": null, "finish_reason": "stop"}]}),
            ),
            SseEvent::done(),
        ])
        .event_delay(Duration::from_millis(2))
        .header("x-siliconcloud-trace-id", TRACE),
    );
    let request = CompletionRequest::fim(MODEL, "fn add(a: i32, b: i32) -> i32 {\n    ", "\n}");
    let mut stream = checks::client(&server).completion_stream(&request).unwrap();
    let texts: Vec<String> = stream
        .by_ref()
        .map(|delta| delta.unwrap().content.unwrap_or_default())
        .filter(|text| !text.is_empty())
        .collect();
    assert_eq!(texts, ["return ", "a + b"]);
    assert_eq!(stream.content(), "return a + b");
    assert_eq!(stream.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(stream.usage().map(|u| u.total_tokens), Some(7));
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    assert_eq!(stream.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/completions"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.json().unwrap()["stream"], true);
    assert_eq!(sent.json().unwrap()["suffix"], "\n}");
}

#[test]
fn a_whole_json_answer_to_a_stream_is_replayed() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(json!({
        "id": "c1", "object": "text_completion",
        "choices": [{"index": 0, "text": "whole", "finish_reason": "length"}]
    })));
    let mut stream = checks::client(&server)
        .completion_stream(&CompletionRequest::new(MODEL, "x"))
        .unwrap();
    for delta in &mut stream {
        delta.unwrap();
    }
    assert_eq!(stream.content(), "whole");
    assert_eq!(stream.finish_reason(), Some(&FinishReason::Length));
    assert_eq!(stream.end(), Some(StreamEnd::Json));
}

#[test]
fn an_error_inside_the_stream_is_a_stream_error_and_keeps_the_text() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::sse(vec![
        SseEvent::json(&json!({"choices": [{"index": 0, "text": "half"}]})),
        SseEvent::json(&json!({"code": 50505, "message": "Model service overloaded."})),
    ]));
    let mut stream = checks::client(&server)
        .completion_stream(&CompletionRequest::new(MODEL, "x"))
        .unwrap();
    let last = stream.by_ref().last();
    assert!(matches!(last, Some(Err(Error::Stream(_)))), "{last:?}");
    assert_eq!(stream.content(), "half");
}

#[test]
fn a_streamed_answer_to_a_whole_completion_is_read_to_the_end() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::sse([
            SseEvent::json(&json!({"id": "c9", "model": MODEL, "choices": [{"index": 0, "text": "    if n "}]})),
            SseEvent::json(&json!({"choices": [{"index": 0, "text": "< 2:", "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})),
            SseEvent::done(),
        ])
        .header("x-siliconcloud-trace-id", TRACE),
    );
    let completion = checks::client(&server)
        .completion(&CompletionRequest::new(MODEL, "def fib(n):"))
        .unwrap();
    assert_eq!(completion.text(), "    if n < 2:");
    assert_eq!(completion.id, "c9");
    assert_eq!(
        completion.choices[0].finish_reason,
        Some(FinishReason::Stop)
    );
    assert_eq!(completion.usage.as_ref().map(|u| u.total_tokens), Some(7));
    assert_eq!(completion.request_id(), Some(TRACE));
}
