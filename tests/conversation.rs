//! Beyond one answer: tool loops, multi-turn history with reasoning models, `<think>` splitting, the
//! "spent its budget thinking" flag, and per-stream timings.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::*;
use mockito::Matcher;
use serde_json::json;
use siliconflow::{
    ChatCompletion, ChatRequest, ChatStream, FinishReason, Message, Role, Tool, ToolCall,
    ToolChoice,
};

fn event(value: serde_json::Value) -> String {
    format!("data: {value}\n\n")
}

fn content_chunk(text: &str) -> String {
    event(json!({"choices": [{"index": 0, "delta": {"content": text}}]}))
}

/// A stream of the given content pieces, a stop, and [DONE].
fn tagged_stream(pieces: &[&str]) -> String {
    pieces.iter().map(|p| content_chunk(p)).collect::<String>()
        + &finish_event("stop")
        + "data: [DONE]\n\n"
}

#[test]
fn think_tags_are_split_at_every_cut_of_the_content() {
    let text = "<think>\nThe user greets me. 想一想 <b>\n</think>\n\nHello! 😊";
    let cuts: Vec<usize> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    for &i in &cuts {
        let body = tagged_stream(&[&text[..i], &text[i..]]);
        for splits in [&[usize::MAX][..], &[1], &[5, 3, 17]] {
            let mut stream = ChatStream::from_reader(split_reader(body.as_bytes(), splits))
                .split_think_tags(true);
            let deltas: Vec<_> = stream.by_ref().collect::<Result<_, _>>().unwrap();
            assert_eq!(
                stream.reasoning_content(),
                "\nThe user greets me. 想一想 <b>\n",
                "cut {i}"
            );
            assert_eq!(stream.content(), "\n\nHello! 😊", "cut {i}");
            let shown: String = deltas.iter().filter_map(|d| d.content.as_deref()).collect();
            assert_eq!(
                shown,
                stream.content(),
                "deltas hand out exactly the content"
            );
            assert!(deltas
                .iter()
                .all(|d| !d.content.as_deref().unwrap_or("").contains('<')
                    || d.content.as_deref().unwrap().contains("<b>")));
        }
    }
}

#[test]
fn think_splitting_is_off_by_default_and_releases_partial_tags() {
    let body = tagged_stream(&["<think>a</think>b"]);
    let mut plain = ChatStream::from_reader(body.as_bytes());
    plain.by_ref().for_each(drop);
    assert_eq!(plain.content(), "<think>a</think>b");

    // A possible tag at the very end turns out to be text: released at [DONE] / at the end of the body.
    for body in [
        content_chunk("x <thi") + "data: [DONE]\n\n",
        content_chunk("x <thi") + &finish_event("stop"),
    ] {
        let mut stream = ChatStream::from_reader(Cursor::new(body)).split_think_tags(true);
        let deltas: Vec<_> = stream.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(stream.content(), "x <thi");
        let shown: String = deltas.iter().filter_map(|d| d.content.as_deref()).collect();
        assert_eq!(shown, "x <thi");
    }
}

#[test]
fn spent_budget_thinking_is_flagged() {
    let body = event(
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Long thought"}}]}),
    ) + &event(
        json!({"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "length"}]}),
    ) + "data: [DONE]\n\n";
    let mut stream = ChatStream::from_reader(body.as_bytes());
    stream.by_ref().for_each(drop);
    assert!(stream.spent_budget_thinking());
    let completion = stream.into_completion();
    assert!(completion.spent_budget_thinking());

    let body = event(
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": "t", "content": "answer"}, "finish_reason": "length"}]}),
    );
    let mut stream = ChatStream::from_reader(body.as_bytes());
    stream.by_ref().for_each(drop);
    assert!(!stream.spent_budget_thinking(), "an answer was written");
}

#[test]
fn history_carries_reasoning_only_when_asked() {
    let completion: ChatCompletion = serde_json::from_value(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4", "reasoning_content": "2+2"},
            "finish_reason": "stop"}]
    }))
    .unwrap();
    let history = vec![
        Message::user("2+2?"),
        completion.message(),
        Message::user("And 3+3?"),
    ];
    let json = serde_json::to_value(&history).unwrap();
    assert_eq!(json[1], json!({"role": "assistant", "content": "4"}));
    let with = serde_json::to_value(completion.message_with_reasoning()).unwrap();
    assert_eq!(
        with,
        json!({"role": "assistant", "content": "4", "reasoning_content": "2+2"})
    );
    // Round trip: what was serialized reads back as the same message.
    let back: Vec<Message> = serde_json::from_value(json).unwrap();
    assert_eq!(back, history);
}

#[test]
fn parallel_tool_calls_interleaved_across_chunks() {
    let call = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| json!({"index": index, "id": id, "type": id.map(|_| "function"), "function": {"name": name, "arguments": args}});
    let body = [
        vec![
            call(0, Some("call_a"), Some("weather"), ""),
            call(
                1,
                Some("9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
                Some("time"),
                "",
            ),
        ],
        vec![
            call(1, None, None, "{\"tz\":"),
            call(0, None, None, "{\"city\":"),
        ],
        vec![
            call(0, None, None, "\"Oslo\"}"),
            call(1, None, None, "\"CET\"}"),
        ],
    ]
    .into_iter()
    .map(|calls| event(json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}}]})))
    .collect::<String>()
        + &finish_event("tool_calls");
    let mut stream = ChatStream::from_reader(body.as_bytes());
    stream.by_ref().for_each(drop);
    assert_eq!(
        stream.tool_calls(),
        [
            ToolCall::function("call_a", "weather", "{\"city\":\"Oslo\"}"),
            ToolCall::function(
                "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                "time",
                "{\"tz\":\"CET\"}"
            ),
        ]
    );
    let message = stream.message();
    assert_eq!(
        message.content, None,
        "a tool-call-only answer has no content"
    );
    assert_eq!(message.tool_calls.as_ref().unwrap().len(), 2);
}

fn message_count(request: &mockito::Request) -> usize {
    request
        .body()
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["messages"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// The whole loop against a server: the model asks for a tool, the program runs it, sends the result, and
/// streams the final answer.
#[test]
fn full_tool_loop_against_a_server() {
    let mut server = mockito::Server::new();
    let weather = Tool::function(
        "get_weather",
        "Current weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    );
    let first_turn = [
        event(json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "functions.get_weather:0", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]})),
        event(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": null, "type": null, "function": {"arguments": "{\"city\": "}}]}}]})),
        event(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Hangzhou\"}"}}]}}]})),
        finish_event("tool_calls"),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let ask = server
        .mock("POST", "/v1/chat/completions")
        .match_body(Matcher::PartialJson(json!({
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
            "tool_choice": "auto",
            "messages": [{"role": "user", "content": "Weather in Hangzhou?"}]
        })))
        .match_request(|r| message_count(r) == 1)
        .with_header("content-type", "text/event-stream")
        .with_body(first_turn)
        .expect(1)
        .create();
    let answer = server
        .mock("POST", "/v1/chat/completions")
        .match_body(Matcher::PartialJson(json!({
            "messages": [
                {"role": "user", "content": "Weather in Hangzhou?"},
                {"role": "assistant", "tool_calls": [{"id": "functions.get_weather:0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Hangzhou\"}"}}]},
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "{\"sky\":\"clear\",\"temp_c\":21}"}
            ]
        })))
        .match_request(|r| message_count(r) == 3)
        .with_header("content-type", "text/event-stream")
        .with_body(content_event("It is 21 °C and clear in Hangzhou.") + &finish_event("stop") + "data: [DONE]\n\n")
        .expect(1)
        .create();

    let client = client(&format!("{}/v1", server.url()));
    let mut request =
        ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("Weather in Hangzhou?")])
            .tools(vec![weather])
            .tool_choice(ToolChoice::Auto);
    let mut stream = client.chat_stream(&request).unwrap();
    stream.by_ref().for_each(|d| {
        d.unwrap();
    });
    assert_eq!(stream.finish_reason(), Some(&FinishReason::ToolCalls));
    let calls = stream.tool_calls().to_vec();
    request.messages.push(stream.message());
    for call in &calls {
        let args: serde_json::Value = serde_json::from_str(&call.function.arguments).unwrap();
        assert_eq!(args["city"], "Hangzhou");
        request.messages.push(Message::tool(
            &call.id,
            json!({"temp_c": 21, "sky": "clear"}).to_string(),
        ));
    }
    let mut stream = client.chat_stream(&request).unwrap();
    stream.by_ref().for_each(|d| {
        d.unwrap();
    });
    assert_eq!(stream.content(), "It is 21 °C and clear in Hangzhou.");
    assert_eq!(request.messages[1].role, Role::Assistant);
    ask.assert();
    answer.assert();
}

#[test]
fn timings_measure_headers_first_tokens_and_total() {
    let mut server = mockito::Server::new();
    let _mock = server
        .mock("POST", "/v1/chat/completions")
        .with_header("content-type", "text/event-stream")
        .with_chunked_body(|w| {
            w.write_all(reasoning_event("thinking").as_bytes())?;
            std::thread::sleep(Duration::from_millis(150));
            w.write_all(content_event("answer").as_bytes())?;
            w.write_all(finish_event("stop").as_bytes())?;
            w.write_all(b"data: [DONE]\n\n")
        })
        .create();
    let client = client(&format!("{}/v1", server.url()));
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(stream.timings().total, None, "still running");
    stream.by_ref().for_each(drop);
    let t = stream.timings();
    let (headers, reasoning, content, total) = (
        t.headers.unwrap(),
        t.first_reasoning.unwrap(),
        t.first_content.unwrap(),
        t.total.unwrap(),
    );
    assert!(
        headers <= reasoning && reasoning <= content && content <= total,
        "{t:?}"
    );
    assert!(content - reasoning >= Duration::from_millis(100), "{t:?}");
    assert_eq!(t.chunks, 3);
    assert_eq!(t.first_token(), Some(reasoning));
}
