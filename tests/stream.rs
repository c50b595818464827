//! `ChatStream` over arbitrary readers: every SSE rule and accumulation rule, at every read split.

mod common;

use std::io::Cursor;

use common::*;
use serde_json::json;
use siliconflow::{
    ChatDelta, ChatStream, Error, FinishReason, Role, StreamEnd, TimeoutKind, ToolCall,
};

/// What one run over a body produced: the items (errors as their Debug text) and the final state.
#[derive(Debug, PartialEq)]
struct Run {
    deltas: Vec<ChatDelta>,
    error: Option<String>,
    content: String,
    reasoning: String,
    tool_calls: Vec<ToolCall>,
    finish: Option<FinishReason>,
    end: Option<StreamEnd>,
}

fn run_with(body: &[u8], splits: &[usize]) -> Run {
    let mut stream = ChatStream::from_reader(split_reader(body, splits));
    let mut deltas = Vec::new();
    let mut error = None;
    for item in &mut stream {
        match item {
            Ok(delta) => deltas.push(delta),
            Err(e) => {
                assert!(error.is_none(), "fused after the first error");
                error = Some(format!("{e:?}"));
            }
        }
    }
    assert!(stream.next().is_none(), "fused");
    Run {
        deltas,
        error,
        content: stream.content().to_string(),
        reasoning: stream.reasoning_content().to_string(),
        tool_calls: stream.tool_calls().to_vec(),
        finish: stream.finish_reason().cloned(),
        end: stream.end(),
    }
}

/// Runs `body` at every split in [`SPLITS`] and checks they all agree.
fn run(body: &str) -> Run {
    let whole = run_with(body.as_bytes(), SPLITS[0]);
    for splits in &SPLITS[1..] {
        assert_eq!(
            run_with(body.as_bytes(), splits),
            whole,
            "splits {splits:?}"
        );
    }
    whole
}

const DONE: &str = "data: [DONE]\n\n";

#[test]
fn line_endings_lf_crlf_cr() {
    for eol in ["\n", "\r\n", "\r"] {
        let body = [
            content_event("a"),
            content_event("b"),
            finish_event("stop"),
            DONE.to_string(),
        ]
        .concat()
        .replace('\n', eol);
        let run = run(&body);
        assert_eq!(run.content, "ab", "{eol:?}");
        assert_eq!(run.end, Some(StreamEnd::Done));
    }
}

#[test]
fn comments_fields_and_no_space_after_colon() {
    let body = concat!(
        ":\n: keep-alive\n\n",
        "event: message\nid: 1\nretry: 1000\n",
        "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
        ": ping\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data:[DONE]\n\n",
    );
    let run = run(body);
    assert_eq!(run.content, "xy");
    assert_eq!(run.deltas.len(), 2);
    assert_eq!(run.end, Some(StreamEnd::Done));
}

#[test]
fn json_split_over_several_data_lines() {
    let body = "data: {\"choices\":\ndata: [{\"index\":0,\"delta\":{\"content\":\"multi\"},\ndata: \"finish_reason\":\"stop\"}]}\n\n"
        .to_string()
        + DONE;
    assert_eq!(run(&body).content, "multi");
}

#[test]
fn empty_data_events_and_bom_are_skipped() {
    let body = "\u{feff}data:\n\ndata\n\n\n\nevent: ping\n\n".to_string()
        + &content_event("ok")
        + &finish_event("stop")
        + DONE;
    let run = run(&body);
    assert_eq!(run.content, "ok");
    assert_eq!(run.deltas.len(), 2);
}

#[test]
fn done_ends_the_stream_and_nothing_after_it_is_parsed() {
    let body = content_event("a") + DONE + "data: {garbage\n\n" + &content_event("b");
    let run = run(&body);
    assert_eq!(run.content, "a");
    assert_eq!(run.error, None);
    assert_eq!(run.end, Some(StreamEnd::Done));
}

#[test]
fn done_without_a_finish_is_complete() {
    let run = run(&(content_event("你好") + DONE));
    assert_eq!(run.error, None);
    assert_eq!(run.finish, None);
}

#[test]
fn error_event_is_a_stream_error() {
    let body = content_event("partial")
        + "event: error\ndata: {\"message\":\"upstream timeout\",\"code\":504}\n\n"
        + &content_event("never");
    let run = run(&body);
    let error = run.error.expect("error");
    assert!(error.starts_with("Stream(ApiError"), "{error}");
    assert!(error.contains("upstream timeout"), "{error}");
    assert_eq!(run.content, "partial");
    assert_eq!(run.end, Some(StreamEnd::Failed));

    let mut stream = ChatStream::from_reader("event: error\ndata: plain words\n\n".as_bytes());
    match stream.next() {
        Some(Err(Error::Stream(e))) => assert_eq!(e.message, "plain words"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn siliconflow_error_payload_mid_stream() {
    let body = content_event("par")
        + "data: {\"code\":50505,\"message\":\"Model service overloaded. Please try again later.\",\"data\":null}\n\n";
    let mut stream = ChatStream::from_reader(body.as_bytes());
    assert!(stream.next().unwrap().is_ok());
    match stream.next() {
        Some(Err(Error::Stream(e))) => {
            assert_eq!(e.code.as_deref(), Some("50505"));
            assert_eq!(
                e.message,
                "Model service overloaded. Please try again later."
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stream.content(), "par");
    // A chunk that merely has a `code` field next to its choices is not an error.
    let body = "data: {\"code\":0,\"message\":\"ok\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"fine\"},\"finish_reason\":\"stop\"}]}\n\n";
    assert_eq!(run(body).content, "fine");
    // `"error": null` is not an error either.
    let body = "data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"fine\"},\"finish_reason\":\"stop\"}]}\n\n";
    assert_eq!(run(body).error, None);
}

#[test]
fn cut_streams_keep_their_text() {
    // Body ends mid-event (no blank line): the partial event is discarded, the stream is cut.
    let body =
        reasoning_event("think") + &content_event("ans") + "data: {\"choices\":[{\"index\":0,\"de";
    let run = run(&body);
    assert!(
        run.error.as_deref().unwrap().starts_with("StreamCut"),
        "{:?}",
        run.error
    );
    assert_eq!(run.content, "ans");
    assert_eq!(run.reasoning, "think");
}

#[test]
fn malformed_json_names_the_chunk_bounded() {
    let long = format!("data: {{\"choices\": {}\n\n", "x".repeat(5000));
    let mut stream = ChatStream::from_reader(Cursor::new(content_event("ok") + &long));
    assert!(stream.next().unwrap().is_ok());
    match stream.next() {
        Some(Err(Error::MalformedChunk {
            event,
            data,
            source,
        })) => {
            assert_eq!(event, 2);
            assert!(data.starts_with("{\"choices\": xxx"));
            assert!(data.len() < 600, "bounded: {}", data.len());
            assert!(data.ends_with("(5012 bytes in all)"), "{data}");
            assert_eq!(source.line(), 1);
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        "42",
        "[1,2]",
        "\"text\"",
        "{\"choices\": 3}",
        "{\"choices\":[{\"delta\":{\"content\":5}}]}",
        "{} trailing",
    ] {
        let mut stream = ChatStream::from_reader(Cursor::new(format!("data: {bad}\n\n")));
        assert!(
            matches!(stream.next(), Some(Err(Error::MalformedChunk { .. }))),
            "{bad}"
        );
    }
}

#[test]
fn text_fields_absent_null_or_empty_are_none() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":null}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":null,\"finish_reason\":\"\"}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"eos\"}]}\n\n",
    );
    let run = run(body);
    assert_eq!(run.deltas.len(), 4);
    assert_eq!(run.deltas[0].role, Some(Role::Assistant));
    for delta in &run.deltas[..3] {
        assert_eq!(delta.content, None);
        assert_eq!(delta.reasoning_content, None);
        assert_eq!(delta.finish_reason, None, "\"\" means not finished");
    }
    assert_eq!(run.finish, Some(FinishReason::Eos));
    assert_eq!(run.end, Some(StreamEnd::FinishedWithoutDone));
}

#[test]
fn unknown_finish_reasons_are_kept() {
    let run = run(&finish_event("abort"));
    assert_eq!(run.finish, Some(FinishReason::Other("abort".into())));
}

#[test]
fn reasoning_under_either_name_is_never_counted_twice() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"a\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"b\",\"reasoning\":\"b\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"\",\"reasoning\":\"c\"}}]}\n\n",
        "data: [DONE]\n\n",
    );
    let run = run(body);
    assert_eq!(run.reasoning, "abc");
}

#[test]
fn several_choices_accumulate_apart_and_all_must_finish() {
    let chunk = |i: u32, text: &str, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": i, "delta": {"content": text}, "finish_reason": finish}]})
        )
    };
    let two = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "A"}}, {"index": 1, "delta": {"content": "B"}}]})
    );
    let body = two.clone()
        + &chunk(1, "b", None)
        + &chunk(0, "a", Some("stop"))
        + &chunk(1, "!", Some("length"));
    let mut stream = ChatStream::from_reader(body.as_bytes());
    let deltas: Vec<_> = stream.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        deltas.iter().map(|d| d.index).collect::<Vec<_>>(),
        [0, 1, 1, 0, 1]
    );
    assert_eq!(stream.content(), "Aa");
    let choices = stream.choices();
    assert_eq!(choices[1].content(), "Bb!");
    assert_eq!(choices[1].finish_reason(), Some(&FinishReason::Length));
    assert_eq!(stream.end(), Some(StreamEnd::FinishedWithoutDone));
    let completion = stream.into_completion();
    assert_eq!(completion.choices.len(), 2);
    assert_eq!(completion.choices[1].message.text(), "Bb!");

    // Choice 1 never finished and no [DONE]: cut.
    let body = two + &chunk(0, "a", Some("stop"));
    assert!(run(&body).error.unwrap().starts_with("StreamCut"));
}

#[test]
fn tool_calls_merge_by_index_and_nulls_never_overwrite() {
    let body = [
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "functions.get_weather:0", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            {"index": 0, "id": null, "type": null, "function": {"name": null, "arguments": "{\"ci"}}
        ]}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "id": "0123456789abcdef0123456789abcdef", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            {"index": 0, "id": null, "type": null, "function": {"arguments": "ty\": \"Paris\"}"}}
        ]}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "", "function": {"name": ""}}]}, "finish_reason": "tool_calls"}]}),
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .collect::<String>()
        + DONE;
    let run = run(&body);
    assert_eq!(
        run.tool_calls,
        [
            ToolCall::function(
                "functions.get_weather:0",
                "get_weather",
                "{\"city\": \"Paris\"}"
            ),
            ToolCall::function("0123456789abcdef0123456789abcdef", "get_time", "{}"),
        ]
    );
    assert_eq!(run.finish, Some(FinishReason::ToolCalls));
    assert_eq!(run.deltas[1].tool_calls.len(), 2);
}

#[test]
fn tool_calls_without_index_use_their_position() {
    let body = format!(
        "data: {}\n\n{DONE}",
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "[]"}}
        ]}}]})
    );
    let run = run(&body);
    assert_eq!(run.tool_calls.len(), 2);
    assert_eq!(run.tool_calls[1].id, "b");
}

#[test]
fn usage_is_the_latest_and_null_does_not_erase_it() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5,\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
        "data: {\"choices\":[],\"usage\":null}\n\n",
        "data: [DONE]\n\n",
    );
    let mut stream = ChatStream::from_reader(body.as_bytes());
    assert_eq!(stream.by_ref().count(), 2);
    let usage = stream.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (3, 2, 5)
    );
    assert_eq!(usage.reasoning_tokens(), Some(0));
}

#[test]
fn metadata_is_kept_and_into_completion_rebuilds_the_answer() {
    let body = concat!(
        "data: {\"id\":\"c-1\",\"model\":\"m\",\"created\":7,\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"r\"}}]}\n\n",
        "data: {\"id\":\"c-1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\\u00e9\\n\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let mut stream = ChatStream::from_reader(body.as_bytes());
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!((stream.id(), stream.model()), ("c-1", "m"));
    let completion = stream.into_completion();
    assert_eq!(completion.id, "c-1");
    assert_eq!(completion.created, 7);
    assert_eq!(completion.system_fingerprint.as_deref(), Some("fp"));
    assert_eq!(completion.content(), "cé\n");
    assert_eq!(completion.reasoning_content(), "r");
    assert_eq!(completion.choices[0].message.role, Role::Assistant);
    assert_eq!(completion.finish_reason(), Some(&FinishReason::Stop));
}

#[test]
fn into_completion_after_an_error_keeps_what_arrived() {
    let body = content_event("half") + "data: {bad\n\n";
    let mut stream = ChatStream::from_reader(body.as_bytes());
    assert!(stream.by_ref().any(|d| d.is_err()));
    let completion = stream.into_completion();
    assert_eq!(completion.content(), "half");
    assert_eq!(completion.finish_reason(), None);
}

#[test]
fn oversized_event_is_an_error() {
    let big = content_event(&"x".repeat(10_000));
    let mut stream =
        ChatStream::from_reader_with_limit(Cursor::new(content_event("ok") + &big), 1024);
    assert!(stream.next().unwrap().is_ok());
    assert!(matches!(
        stream.next(),
        Some(Err(Error::EventTooLarge { limit: 1024 }))
    ));
    assert_eq!(stream.content(), "ok");
}

#[test]
fn a_reader_timing_out_is_an_idle_timeout_and_other_failures_cut() {
    struct Failing(std::io::ErrorKind, bool);
    impl std::io::Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if !self.1 {
                self.1 = true;
                let event = content_event("got");
                out[..event.len()].copy_from_slice(event.as_bytes());
                return Ok(event.len());
            }
            Err(std::io::Error::new(self.0, "boom"))
        }
    }
    let mut stream = ChatStream::from_reader(std::io::BufReader::new(Failing(
        std::io::ErrorKind::TimedOut,
        false,
    )));
    assert!(stream.next().unwrap().is_ok());
    assert!(matches!(
        stream.next(),
        Some(Err(Error::Timeout(TimeoutKind::Idle)))
    ));
    let mut stream = ChatStream::from_reader(std::io::BufReader::new(Failing(
        std::io::ErrorKind::ConnectionReset,
        false,
    )));
    assert!(stream.next().unwrap().is_ok());
    match stream.next() {
        Some(Err(Error::StreamCut {
            received: 1,
            source: Some(e),
            ..
        })) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stream.content(), "got");
}

#[test]
fn deltas_concatenate_to_the_accumulated_text_at_every_split() {
    let mut body = String::new();
    for (i, word) in ["思考", " step", "😊", "\\n", "\"q\""].iter().enumerate() {
        body += &reasoning_event(&format!("{word}{i}"));
    }
    for word in ["Hello", ", ", "世界", "!", " 🎉"] {
        body += &content_event(word);
    }
    body += &finish_event("stop");
    body += DONE;
    let run = run(&body);
    let content: String = run
        .deltas
        .iter()
        .filter_map(|d| d.content.as_deref())
        .collect();
    let reasoning: String = run
        .deltas
        .iter()
        .filter_map(|d| d.reasoning_content.as_deref())
        .collect();
    assert_eq!(content, run.content);
    assert_eq!(reasoning, run.reasoning);
    assert_eq!(run.content, "Hello, 世界! 🎉");
    assert_eq!(run.reasoning, "思考0 step1😊2\\n3\"q\"4");
}

#[test]
fn a_malformed_usage_is_reported_when_it_is_the_last_one() {
    let bad = "data: {\"choices\":[],\"usage\":{\"total_tokens\":\"x\"}}\n\n";
    // The last usage is checked at the end of the stream: a malformed one is a typed error naming it.
    for end in [DONE, ""] {
        let body = content_event("a") + &finish_event("stop") + bad + end;
        let mut stream = ChatStream::from_reader(Cursor::new(body));
        let error = stream.by_ref().find_map(Result::err).expect("an error");
        match error {
            Error::MalformedChunk { event, data, .. } => {
                assert_eq!(event, 3);
                assert_eq!(data, "{\"total_tokens\":\"x\"}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stream.content(), "a");
        assert!(stream.usage().is_none(), "no usage rather than a wrong one");
    }
    // A running total replaced by a valid one is what the caller sees: the valid one.
    let body = content_event("a")
        + bad
        + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n"
        + &finish_event("stop")
        + DONE;
    let mut stream = ChatStream::from_reader(Cursor::new(body));
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.usage().map(|u| u.total_tokens), Some(3));
}

#[test]
fn a_rejected_chunk_changes_nothing() {
    let good = "data: {\"id\":\"a\",\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n";
    for bad in [
        // Malformed after its metadata and usage parsed.
        "data: {\"id\":\"b\",\"model\":\"m2\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9,\"total_tokens\":18},\"choices\":[oops\n\n",
        // An error object that also carries metadata.
        "data: {\"id\":\"b\",\"model\":\"m2\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9,\"total_tokens\":18},\"error\":{\"message\":\"boom\"}}\n\n",
    ] {
        let mut stream = ChatStream::from_reader(Cursor::new(format!("{good}{bad}")));
        assert!(stream.next().unwrap().is_ok());
        assert!(stream.next().unwrap().is_err());
        assert_eq!((stream.id(), stream.model()), ("a", "m1"));
        assert_eq!(stream.usage().map(|u| u.total_tokens), Some(3));
        assert_eq!(stream.content(), "x");
    }
}

/// Chunk parsing is as lenient as openai-python's (Python's `json`): a key given twice keeps its last
/// value, at every level of a chunk, and a lone UTF-16 surrogate escape reads as U+FFFD.
#[test]
fn duplicate_keys_keep_the_last_value_as_python_reads_them() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"index\":1,\"delta\":{\"content\":\"first\",\"content\":\"kept\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"id\":\"call_1\",",
        "\"function\":{\"name\":\"x\",\"name\":\"get_weather\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let run = run(body);
    assert_eq!(run.error, None);
    assert_eq!(run.deltas.len(), 3, "a second `choices` replaces the first");
    assert!(run.deltas.iter().all(|d| d.index == 1));
    assert_eq!(run.deltas[0].content.as_deref(), Some("kept"));
    let call = &run.deltas[1].tool_calls[0];
    assert_eq!(call.id.as_deref(), Some("call_1"));
    assert_eq!(
        call.function.as_ref().unwrap().name.as_deref(),
        Some("get_weather")
    );
    assert_eq!(run.end, Some(StreamEnd::Done));
}

#[test]
fn lone_surrogates_read_as_replacement_characters() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\ud800b\",\"reasoning_content\":\"\\udc00\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud83d\\ude00\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let run = run(body);
    assert_eq!(run.error, None);
    assert_eq!(run.content, "a\u{FFFD}b\u{1F600}");
    assert_eq!(run.reasoning, "\u{FFFD}");
}
