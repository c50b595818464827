//! Every real capture in `tests/wire/` replayed through the whole crate.
//!
//! Each capture is replayed (a) through [`ChatStream::from_reader`] at many read splits (the whole body in
//! one read, one byte per read, irregular reads through small `BufReader`s) and (b) through the HTTP client
//! against a mockito server, with a fixed-length body and with a chunked one. Every replay is checked
//! against what `tests/wire/README.md` says the capture accumulates to, against the capture's own JSON
//! (delta by delta, usage after each delta, no read-ahead), and against every other replay of the same
//! capture (the deltas must not depend on how the bytes were split).
//!
//! The captures are embedded with `include_bytes!` so this file depends on nothing else in `tests/`.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::rc::Rc;

use mockito::Matcher;
use serde_json::{json, Value};
use siliconflow::{
    ChatDelta, ChatRequest, ChatStream, Client, Error, FinishReason, Message, Role, StreamEnd,
};

// ---- The captures and what README.md says they accumulate to -------------------------------------------

/// How a capture ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `[DONE]` arrives: every item is `Ok` and `end()` is `Some(StreamEnd::Done)`.
    Done,
    /// The body ends without `[DONE]` and without a finish: the last item is `Err(Error::StreamCut)`.
    Cut,
}

/// What the full reasoning of choice 0 must be.
#[derive(Debug, Clone, Copy)]
enum Reasoning {
    Whole(&'static str),
    StartsWith(&'static str),
}

/// An accumulated tool call, as README.md lists it.
#[derive(Debug)]
struct Call {
    id: &'static str,
    kind: &'static str,
    name: &'static str,
    arguments: &'static str,
}

struct Capture {
    name: &'static str,
    body: &'static [u8],
    content: &'static str,
    reasoning: Reasoning,
    finish: Option<FinishReason>,
    tool_calls: &'static [Call],
    /// prompt / completion / total
    usage: Option<[u64; 3]>,
    ending: Ending,
}

const SILICONFLOW_R1: Capture = Capture {
    name: "siliconflow-deepseek-r1-reasoning",
    body: include_bytes!("wire/siliconflow-deepseek-r1-reasoning.sse"),
    content: "\nHello! How can I assist you today? 😊",
    reasoning: Reasoning::Whole("We. We can simply respond with a greeting.\n"),
    finish: Some(FinishReason::Stop),
    tool_calls: &[],
    usage: Some([294, 51, 345]),
    ending: Ending::Done,
};

const SILICONFLOW_V3_FIRST_CHUNKS: Capture = Capture {
    name: "siliconflow-deepseek-v3-first-chunks",
    body: include_bytes!("wire/siliconflow-deepseek-v3-first-chunks.sse"),
    content: "你好",
    reasoning: Reasoning::Whole(""),
    finish: None,
    tool_calls: &[],
    usage: Some([4, 1, 5]),
    ending: Ending::Done,
};

const SILICONFLOW_QWEN_CONTENT_FILTER: Capture = Capture {
    name: "siliconflow-qwen-content-filter-results",
    body: include_bytes!("wire/siliconflow-qwen-content-filter-results.sse"),
    content: " 当然！帮助！",
    reasoning: Reasoning::Whole(""),
    finish: Some(FinishReason::Stop),
    tool_calls: &[],
    usage: Some([35, 256, 291]),
    ending: Ending::Done,
};

const SILICONFLOW_KIMI_TOOL_CALL_NULLS: Capture = Capture {
    name: "siliconflow-kimi-tool-call-nulls",
    body: include_bytes!("wire/siliconflow-kimi-tool-call-nulls.sse"),
    content: "",
    reasoning: Reasoning::Whole(""),
    finish: None,
    tool_calls: &[Call {
        id: "functions.files_extract:0",
        kind: "function",
        name: "files_extract",
        arguments: "{\"",
    }],
    usage: Some([12795, 48, 12843]),
    ending: Ending::Cut,
};

const SILICONFLOW_QWEN3_TOOL_CALL_CONTINUATION: Capture = Capture {
    name: "siliconflow-qwen3-tool-call-continuation",
    body: include_bytes!("wire/siliconflow-qwen3-tool-call-continuation.sse"),
    content: "",
    reasoning: Reasoning::Whole("2"),
    finish: None,
    // The continuation's first fragment was never captured: no id, type or name ever arrived.
    tool_calls: &[Call {
        id: "",
        kind: "",
        name: "",
        arguments: " face",
    }],
    usage: Some([145, 16, 161]),
    ending: Ending::Cut,
};

const SILICONFLOW_EMPTY_FINISH_REASON: Capture = Capture {
    name: "siliconflow-empty-finish-reason",
    body: include_bytes!("wire/siliconflow-empty-finish-reason.sse"),
    content: "5.",
    reasoning: Reasoning::Whole(""),
    finish: None,
    tool_calls: &[],
    usage: Some([3996, 204, 4200]),
    ending: Ending::Cut,
};

const DEEPSEEK_REASONER: Capture = Capture {
    name: "deepseek-reasoner",
    body: include_bytes!("wire/deepseek-reasoner.sse"),
    content: "Hello! 😊 It's wonderful to meet you!",
    reasoning: Reasoning::StartsWith("Hmm, the user just said \"Hello!\""),
    finish: Some(FinishReason::Stop),
    tool_calls: &[],
    usage: Some([6, 169, 175]),
    ending: Ending::Done,
};

const DEEPSEEK_CHAT_TOOL_CALL: Capture = Capture {
    name: "deepseek-chat-tool-call",
    body: include_bytes!("wire/deepseek-chat-tool-call.sse"),
    content: "I'll check the current weather in Tokyo for you.",
    reasoning: Reasoning::Whole(""),
    finish: Some(FinishReason::ToolCalls),
    tool_calls: &[Call {
        id: "call_00_Sq0n5HVeFHkS1mBrIGbwBQcK",
        kind: "function",
        name: "get_weather",
        arguments: "{\"location\": \"Tokyo\"}",
    }],
    usage: Some([161, 25, 186]),
    ending: Ending::Done,
};

const OPENAI_TOOL_CALL_USAGE_TRAILER: Capture = Capture {
    name: "openai-gpt4o-tool-call-usage-trailer",
    body: include_bytes!("wire/openai-gpt4o-tool-call-usage-trailer.sse"),
    content: "",
    reasoning: Reasoning::Whole(""),
    finish: Some(FinishReason::ToolCalls),
    tool_calls: &[Call {
        id: "call_9W0PDPMmK2SHo8Ph5qmngr60",
        kind: "function",
        name: "weather",
        arguments: "{\"location\":\"Florence, Italy\"}",
    }],
    usage: Some([61, 16, 77]),
    ending: Ending::Done,
};

const OPENAI_TEXT_USAGE_TRAILER: Capture = Capture {
    name: "openai-gpt4o-text-usage-trailer",
    body: include_bytes!("wire/openai-gpt4o-text-usage-trailer.sse"),
    content: "The current temperature in Florence, Italy is 40°C.",
    reasoning: Reasoning::Whole(""),
    finish: Some(FinishReason::Stop),
    tool_calls: &[],
    usage: Some([86, 13, 99]),
    ending: Ending::Done,
};

const OLLAMA_REASONING_FIELD: Capture = Capture {
    name: "ollama-v1-reasoning-field",
    body: include_bytes!("wire/ollama-v1-reasoning-field.sse"),
    content: "",
    reasoning: Reasoning::Whole("We need answer"),
    finish: None,
    tool_calls: &[],
    usage: None,
    ending: Ending::Cut,
};

const DEEPSEEK_ERROR_BODY: &[u8] = include_bytes!("wire/deepseek-error-body.json");

// ---- Reading at arbitrary splits ------------------------------------------------------------------------

/// Read sizes cycled through by the irregular splits.
const IRREGULAR: &[usize] = &[1, 7, 2, 13, 3, 31, 5, 1, 64, 11, 2, 97, 17, 4];

/// A reader that hands out `data` in reads of the sizes in `pattern` (cycled), recording how many bytes
/// have been pulled out of it so far.
struct SplitReader {
    data: &'static [u8],
    position: usize,
    pattern: &'static [usize],
    turn: usize,
    pulled: Rc<Cell<usize>>,
}

impl Read for SplitReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = self.pattern[self.turn % self.pattern.len()];
        self.turn += 1;
        let n = want.min(out.len()).min(self.data.len() - self.position);
        out[..n].copy_from_slice(&self.data[self.position..self.position + n]);
        self.position += n;
        self.pulled.set(self.position);
        Ok(n)
    }
}

/// One way of splitting the body into reads: a `BufReader` of `capacity` over reads of `pattern` sizes.
struct Split {
    name: &'static str,
    /// `None`: the whole body fits the buffer.
    capacity: Option<usize>,
    pattern: &'static [usize],
}

const SPLITS: &[Split] = &[
    Split {
        name: "whole body in one read",
        capacity: None,
        pattern: &[usize::MAX],
    },
    Split {
        name: "one byte per read",
        capacity: Some(1),
        pattern: &[1],
    },
    Split {
        name: "two bytes per read",
        capacity: Some(2),
        pattern: &[2],
    },
    Split {
        name: "three bytes per read",
        capacity: Some(3),
        pattern: &[3],
    },
    Split {
        name: "irregular reads 1,7,2,13,… through an 8-byte buffer",
        capacity: Some(8),
        pattern: IRREGULAR,
    },
    Split {
        name: "irregular reads 1,7,2,13,… through a 64-byte buffer",
        capacity: Some(64),
        pattern: IRREGULAR,
    },
    Split {
        name: "irregular reads 1,7,2,13,… through a 4 KiB buffer",
        capacity: Some(4096),
        pattern: IRREGULAR,
    },
];

/// What a replay of `body` is checked against, beside README.md: the capture's own JSON, event by event.
struct WireEvent {
    /// Offset just past the blank line that ends the event.
    end: usize,
    /// The chunk's choices (none for `[DONE]` and for a usage trailer).
    choices: Vec<Value>,
    /// The chunk's usage, when it is an object (not absent, not `null`).
    usage: Option<[u64; 3]>,
}

/// Splits a capture into its events. Every capture is `data: <one line>` events separated by blank lines.
fn wire_events(body: &[u8]) -> Vec<WireEvent> {
    let text = std::str::from_utf8(body).expect("captures are UTF-8");
    let mut events = Vec::new();
    let mut start = 0;
    while let Some(length) = text[start..].find("\n\n") {
        let block = &text[start..start + length];
        let end = start + length + 2;
        let data = block
            .strip_prefix("data: ")
            .expect("each event is one data line");
        assert!(!data.contains('\n'), "each event is one data line");
        let (choices, usage) = if data == "[DONE]" {
            (Vec::new(), None)
        } else {
            let chunk: Value = serde_json::from_str(data).expect("captured chunks are JSON");
            let choices = chunk["choices"].as_array().cloned().unwrap_or_default();
            let usage = chunk.get("usage").filter(|u| u.is_object()).map(|u| {
                ["prompt_tokens", "completion_tokens", "total_tokens"]
                    .map(|field| u[field].as_u64().expect("usage counts are integers"))
            });
            (choices, usage)
        };
        events.push(WireEvent {
            end,
            choices,
            usage,
        });
        start = end;
    }
    assert_eq!(start, text.len(), "captures end with a blank line");
    events
}

/// A non-empty string, else `None`: how the wire's text fields should reach a `ChatDelta`.
fn wire_text(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.is_empty())
}

// ---- One replay, fully checked ---------------------------------------------------------------------------

/// Everything the iterator handed out, and what the stream showed after each delta.
struct Replay {
    deltas: Vec<ChatDelta>,
    error: Option<Error>,
    usage_after: Vec<Option<[u64; 3]>>,
    /// Bytes pulled out of the underlying reader when each delta was handed out (empty if unknown).
    pulled_after: Vec<usize>,
}

fn usage_of<R>(stream: &ChatStream<R>) -> Option<[u64; 3]> {
    stream
        .usage()
        .map(|u| [u.prompt_tokens, u.completion_tokens, u.total_tokens])
}

/// Drains the stream, checking that an error can only be the last item and that the iterator is fused.
fn drain<R: BufRead>(
    how: &str,
    stream: &mut ChatStream<R>,
    pulled: Option<&Cell<usize>>,
) -> Replay {
    let mut replay = Replay {
        deltas: Vec::new(),
        error: None,
        usage_after: Vec::new(),
        pulled_after: Vec::new(),
    };
    for _ in 0..100_000 {
        match stream.next() {
            None => {
                for _ in 0..3 {
                    assert!(stream.next().is_none(), "{how}: the iterator is not fused");
                }
                return replay;
            }
            Some(Ok(delta)) => {
                assert!(
                    replay.error.is_none(),
                    "{how}: a delta after the error {:?}: {delta:?}",
                    replay.error
                );
                replay.deltas.push(delta);
                replay.usage_after.push(usage_of(stream));
                if let Some(pulled) = pulled {
                    replay.pulled_after.push(pulled.get());
                }
            }
            Some(Err(error)) => {
                assert!(
                    replay.error.is_none(),
                    "{how}: a second error {error:?} after {:?}",
                    replay.error
                );
                replay.error = Some(error);
            }
        }
    }
    panic!("{how}: the stream never ended");
}

/// How a replay ended, comparable across splits.
fn ending_of(replay: &Replay) -> String {
    match &replay.error {
        None => "ok".to_string(),
        Some(Error::StreamCut {
            received, source, ..
        }) => format!(
            "cut after {received} events, io source: {}",
            source.is_some()
        ),
        Some(other) => format!("unexpected error: {other:?}"),
    }
}

/// Replays `stream` to its end and checks everything; returns the deltas and how it ended.
///
/// `pulled` is the reader's byte counter and the `BufReader` capacity, when the test controls the reads.
fn check<R: BufRead>(
    capture: &Capture,
    how: &str,
    mut stream: ChatStream<R>,
    pulled: Option<(&Cell<usize>, usize)>,
) -> (Vec<ChatDelta>, String) {
    let how = format!("{} ({how})", capture.name);
    let how = how.as_str();
    let replay = drain(how, &mut stream, pulled.map(|(cell, _)| cell));
    let events = wire_events(capture.body);

    // One delta per choice object on the wire, in order: a `choices: []` trailer yields none.
    let expected: Vec<(usize, &Value)> = events
        .iter()
        .enumerate()
        .flat_map(|(e, event)| event.choices.iter().map(move |choice| (e, choice)))
        .collect();
    assert_eq!(
        replay.deltas.len(),
        expected.len(),
        "{how}: one delta per choice on the wire; got {:#?}",
        replay.deltas
    );

    for (k, (delta, &(e, choice))) in replay.deltas.iter().zip(&expected).enumerate() {
        let at = format!("{how}: delta {k} (event {})", e + 1);
        let wire = &choice["delta"];

        // Text fields are never `Some("")`: absent, null and "" all read as None.
        assert_ne!(delta.content.as_deref(), Some(""), "{at}: {delta:?}");
        assert_ne!(
            delta.reasoning_content.as_deref(),
            Some(""),
            "{at}: {delta:?}"
        );

        assert_eq!(
            u64::from(delta.index),
            choice["index"].as_u64().unwrap_or(0),
            "{at}"
        );
        assert_eq!(
            delta.content.as_deref(),
            wire_text(&wire["content"]),
            "{at}"
        );
        assert_eq!(
            delta.reasoning_content.as_deref(),
            wire_text(&wire["reasoning_content"]).or(wire_text(&wire["reasoning"])),
            "{at}"
        );
        assert_eq!(delta.role, wire_text(&wire["role"]).map(Role::from), "{at}");
        // `finish_reason: ""` means "not finished".
        assert_eq!(
            delta.finish_reason,
            wire_text(&choice["finish_reason"]).map(FinishReason::from),
            "{at}"
        );
        let wire_calls = wire["tool_calls"].as_array().cloned().unwrap_or_default();
        assert_eq!(delta.tool_calls.len(), wire_calls.len(), "{at}: {delta:?}");
        for (call, wire_call) in delta.tool_calls.iter().zip(&wire_calls) {
            assert_eq!(
                Some(u64::from(call.index)),
                wire_call["index"].as_u64(),
                "{at}"
            );
            // `null` is "no update": None (or empty), never the text "null".
            assert_eq!(
                non_empty(call.id.as_deref()),
                wire_text(&wire_call["id"]),
                "{at}"
            );
            assert_eq!(
                non_empty(call.kind.as_deref()),
                wire_text(&wire_call["type"]),
                "{at}"
            );
            let function = call.function.as_ref();
            assert_eq!(
                non_empty(function.and_then(|f| f.name.as_deref())),
                wire_text(&wire_call["function"]["name"]),
                "{at}"
            );
            assert_eq!(
                non_empty(function.and_then(|f| f.arguments.as_deref())),
                wire_text(&wire_call["function"]["arguments"]),
                "{at}"
            );
        }

        // Usage after each delta: the latest non-null usage seen so far (a running total replaces the
        // previous one; `usage: null` erases nothing).
        let latest_usage = events[..=e].iter().rev().find_map(|event| event.usage);
        assert_eq!(replay.usage_after[k], latest_usage, "{at}: usage");

        // No read-ahead: the delta is handed out once its blank line has arrived, before the reader is
        // asked for anything past it (a BufReader of capacity c may hold at most c - 1 further bytes).
        if let Some((_, capacity)) = pulled {
            let limit = events[e].end + capacity - 1;
            assert!(
                replay.pulled_after[k] <= limit,
                "{at}: {} bytes read before handing out a delta whose event ends at byte {}",
                replay.pulled_after[k],
                events[e].end
            );
        }
    }

    // The deltas, concatenated, are what the stream accumulated (content and reasoning separately).
    let concat = |field: fn(&ChatDelta) -> Option<&str>| -> String {
        replay
            .deltas
            .iter()
            .filter(|d| d.index == 0)
            .filter_map(field)
            .collect()
    };
    assert_eq!(
        concat(|d| d.content.as_deref()),
        stream.content(),
        "{how}: content deltas vs accumulated"
    );
    assert_eq!(
        concat(|d| d.reasoning_content.as_deref()),
        stream.reasoning_content(),
        "{how}: reasoning deltas vs accumulated"
    );

    // How it ended.
    assert_eq!(
        stream.events_received(),
        events.len() as u64,
        "{how}: events received"
    );
    match capture.ending {
        Ending::Done => {
            assert!(
                replay.error.is_none(),
                "{how}: complete capture failed: {:?}",
                replay.error
            );
            assert_eq!(stream.end(), Some(StreamEnd::Done), "{how}");
        }
        Ending::Cut => {
            match &replay.error {
                Some(Error::StreamCut {
                    received, source, ..
                }) => {
                    assert_eq!(*received, events.len() as u64, "{how}: StreamCut::received");
                    assert!(
                        source.is_none(),
                        "{how}: a clean end of body has no I/O source: {source:?}"
                    );
                }
                other => {
                    panic!("{how}: expected Err(Error::StreamCut) as the last item, got {other:?}")
                }
            }
            assert_eq!(stream.end(), Some(StreamEnd::Failed), "{how}");
        }
    }

    // What README.md says the capture accumulates to (still readable after a cut).
    assert_eq!(stream.content(), capture.content, "{how}: content");
    match capture.reasoning {
        Reasoning::Whole(whole) => {
            assert_eq!(stream.reasoning_content(), whole, "{how}: reasoning");
        }
        Reasoning::StartsWith(start) => assert!(
            stream.reasoning_content().starts_with(start),
            "{how}: reasoning {:?} should start with {start:?}",
            stream.reasoning_content()
        ),
    }
    assert_eq!(
        stream.finish_reason(),
        capture.finish.as_ref(),
        "{how}: finish reason"
    );
    let calls = stream.tool_calls();
    assert_eq!(
        calls.len(),
        capture.tool_calls.len(),
        "{how}: tool calls {calls:#?}"
    );
    for (call, want) in calls.iter().zip(capture.tool_calls) {
        assert_eq!(call.id, want.id, "{how}: tool call id");
        assert_eq!(call.kind, want.kind, "{how}: tool call type");
        assert_eq!(call.function.name, want.name, "{how}: function name");
        assert_eq!(
            call.function.arguments, want.arguments,
            "{how}: function arguments"
        );
    }
    assert_eq!(usage_of(&stream), capture.usage, "{how}: usage");

    // The completion built from the stream says the same.
    let content = stream.content().to_string();
    let reasoning = stream.reasoning_content().to_string();
    let finish = stream.finish_reason().cloned();
    let tool_calls = stream.tool_calls().to_vec();
    let usage = stream.usage().cloned();
    let completion = stream.into_completion();
    assert_eq!(completion.content(), content, "{how}: completion content");
    assert_eq!(
        completion.reasoning_content(),
        reasoning,
        "{how}: completion reasoning"
    );
    assert_eq!(
        completion.finish_reason(),
        finish.as_ref(),
        "{how}: completion finish reason"
    );
    let message = &completion
        .choices
        .first()
        .unwrap_or_else(|| panic!("{how}: the completion has no choice"))
        .message;
    if tool_calls.is_empty() {
        assert!(
            message.tool_calls.as_ref().is_none_or(Vec::is_empty),
            "{how}: completion tool calls {:?}",
            message.tool_calls
        );
    } else {
        assert_eq!(
            message.tool_calls.as_ref(),
            Some(&tool_calls),
            "{how}: completion tool calls"
        );
    }
    assert_eq!(completion.usage, usage, "{how}: completion usage");

    let ending = ending_of(&replay);
    (replay.deltas, ending)
}

/// Replays a capture through `from_reader` at every split; the deltas must be identical at every split.
fn replay_at_every_split(capture: &Capture) {
    let (reference, reference_ending) = check(
        capture,
        "from_reader over &[u8]",
        ChatStream::from_reader(capture.body),
        None,
    );
    for split in SPLITS {
        let pulled = Rc::new(Cell::new(0));
        let reader = SplitReader {
            data: capture.body,
            position: 0,
            pattern: split.pattern,
            turn: 0,
            pulled: Rc::clone(&pulled),
        };
        let capacity = split.capacity.unwrap_or(capture.body.len().max(1));
        let stream = ChatStream::from_reader(BufReader::with_capacity(capacity, reader));
        let (deltas, ending) = check(capture, split.name, stream, Some((&pulled, capacity)));
        assert_eq!(
            deltas, reference,
            "{}: the deltas differ with {}",
            capture.name, split.name
        );
        assert_eq!(
            ending, reference_ending,
            "{}: the ending differs with {}",
            capture.name, split.name
        );
        assert_eq!(
            pulled.get(),
            capture.body.len(),
            "{}: the whole body is read with {}",
            capture.name,
            split.name
        );
    }
}

// ---- Over HTTP -------------------------------------------------------------------------------------------

const MODEL: &str = "wire/replay";

fn client(server: &mockito::Server) -> Client {
    Client::builder()
        .api_key("sk-test")
        .base_url(format!("{}/v1", server.url()))
        .build()
        .expect("a valid client")
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Hello!")])
}

/// A mock of the streaming endpoint that only matches a proper streaming request.
fn streaming_mock(server: &mut mockito::Server) -> mockito::Mock {
    server
        .mock("POST", "/v1/chat/completions")
        .match_header("accept", "text/event-stream")
        .match_header("authorization", "Bearer sk-test")
        .match_body(Matcher::PartialJson(
            json!({"stream": true, "model": MODEL}),
        ))
        .expect(1)
}

/// Writes `body` in irregular pieces, flushing after each.
fn write_in_pieces(writer: &mut dyn Write, body: &[u8]) -> io::Result<()> {
    let mut rest = body;
    for &size in IRREGULAR.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        writer.write_all(piece)?;
        writer.flush()?;
        rest = tail;
    }
    Ok(())
}

/// Serves the capture from mockito and replays it through `Client::chat_stream`.
fn replay_over_http(capture: &Capture, chunked: bool) {
    let mut server = mockito::Server::new();
    let trace = format!("trace-{}", capture.name);
    let mock = streaming_mock(&mut server)
        .with_status(200)
        .with_header("content-type", "text/event-stream")
        .with_header("x-siliconcloud-trace-id", &trace);
    let body = capture.body;
    let mock = if chunked {
        mock.with_chunked_body(move |writer| write_in_pieces(writer, body))
    } else {
        mock.with_body(body)
    };
    let mock = mock.create();

    let how = if chunked {
        "HTTP, chunked body"
    } else {
        "HTTP, fixed-length body"
    };
    let stream = client(&server)
        .chat_stream(&request())
        .unwrap_or_else(|e| panic!("{} ({how}): chat_stream failed: {e:?}", capture.name));
    assert_eq!(
        stream.request_id(),
        Some(trace.as_str()),
        "{} ({how}): request id",
        capture.name
    );
    let (deltas, ending) = check(capture, how, stream, None);
    mock.assert();

    let (reference, reference_ending) = check(
        capture,
        "from_reader over &[u8]",
        ChatStream::from_reader(capture.body),
        None,
    );
    assert_eq!(deltas, reference, "{} ({how}): deltas", capture.name);
    assert_eq!(ending, reference_ending, "{} ({how}): ending", capture.name);
}

// ---- The tests ----------------------------------------------------------------------------------------

macro_rules! capture_tests {
    ($($module:ident => $capture:expr;)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn from_reader_at_every_split() {
                replay_at_every_split(&$capture);
            }

            #[test]
            fn over_http() {
                replay_over_http(&$capture, false);
            }

            #[test]
            fn over_http_chunked() {
                replay_over_http(&$capture, true);
            }
        }
    )*};
}

capture_tests! {
    siliconflow_deepseek_r1_reasoning => SILICONFLOW_R1;
    siliconflow_deepseek_v3_first_chunks => SILICONFLOW_V3_FIRST_CHUNKS;
    siliconflow_qwen_content_filter_results => SILICONFLOW_QWEN_CONTENT_FILTER;
    siliconflow_kimi_tool_call_nulls => SILICONFLOW_KIMI_TOOL_CALL_NULLS;
    siliconflow_qwen3_tool_call_continuation => SILICONFLOW_QWEN3_TOOL_CALL_CONTINUATION;
    siliconflow_empty_finish_reason => SILICONFLOW_EMPTY_FINISH_REASON;
    deepseek_reasoner => DEEPSEEK_REASONER;
    deepseek_chat_tool_call => DEEPSEEK_CHAT_TOOL_CALL;
    openai_gpt4o_tool_call_usage_trailer => OPENAI_TOOL_CALL_USAGE_TRAILER;
    openai_gpt4o_text_usage_trailer => OPENAI_TEXT_USAGE_TRAILER;
    ollama_v1_reasoning_field => OLLAMA_REASONING_FIELD;
}

/// Collects the deltas of a capture read whole; panics on an error.
fn deltas_of(capture: &Capture) -> (Vec<ChatDelta>, ChatStream<&'static [u8]>) {
    let mut stream = ChatStream::from_reader(capture.body);
    let deltas = stream
        .by_ref()
        .take_while(Result::is_ok)
        .map(Result::unwrap)
        .collect();
    (deltas, stream)
}

#[test]
fn kimi_null_id_and_type_in_the_continuation_do_not_overwrite() {
    let (deltas, stream) = deltas_of(&SILICONFLOW_KIMI_TOOL_CALL_NULLS);
    assert_eq!(deltas.len(), 2);
    let first = &deltas[0].tool_calls[0];
    assert_eq!(first.id.as_deref(), Some("functions.files_extract:0"));
    assert_eq!(first.kind.as_deref(), Some("function"));
    let continuation = &deltas[1].tool_calls[0];
    assert_eq!(continuation.index, 0);
    assert_eq!(non_empty(continuation.id.as_deref()), None);
    assert_eq!(non_empty(continuation.kind.as_deref()), None);
    let call = &stream.tool_calls()[0];
    assert_eq!(call.id, "functions.files_extract:0");
    assert_eq!(call.kind, "function");
    assert_eq!(call.function.name, "files_extract");
    assert_eq!(call.function.arguments, "{\"");
    assert_eq!(stream.end(), Some(StreamEnd::Failed));
}

#[test]
fn qwen3_usage_is_replaced_not_merged() {
    // The second chunk's usage has no completion_tokens_details: the latest usage replaces the first.
    let mut stream = ChatStream::from_reader(SILICONFLOW_QWEN3_TOOL_CALL_CONTINUATION.body);
    stream.next().expect("a delta").expect("an ok delta");
    assert_eq!(stream.usage().and_then(|u| u.reasoning_tokens()), Some(24));
    stream.next().expect("a delta").expect("an ok delta");
    let usage = stream.usage().expect("usage");
    assert_eq!(
        [
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ],
        [145, 16, 161]
    );
    assert_eq!(usage.reasoning_tokens(), None);
    assert!(matches!(stream.next(), Some(Err(Error::StreamCut { .. }))));
    assert_eq!(stream.reasoning_content(), "2");
    assert_eq!(stream.tool_calls()[0].id, "");
    assert_eq!(stream.tool_calls()[0].function.arguments, " face");
}

#[test]
fn empty_finish_reason_means_not_finished() {
    let mut stream = ChatStream::from_reader(SILICONFLOW_EMPTY_FINISH_REASON.body);
    let delta = stream.next().expect("a delta").expect("an ok delta");
    assert_eq!(delta.finish_reason, None);
    assert_eq!(delta.content.as_deref(), Some("5."));
    assert_eq!(delta.reasoning_content, None);
    assert!(matches!(stream.next(), Some(Err(Error::StreamCut { .. }))));
    assert!(stream.next().is_none());
    assert_eq!(stream.content(), "5.");
    assert_eq!(stream.finish_reason(), None);
}

#[test]
fn ollama_reasoning_field_is_reasoning() {
    let (deltas, stream) = deltas_of(&OLLAMA_REASONING_FIELD);
    let texts: Vec<_> = deltas
        .iter()
        .map(|d| (d.content.as_deref(), d.reasoning_content.as_deref()))
        .collect();
    assert_eq!(
        texts,
        [
            (None, Some("We")),
            (None, Some(" need")),
            (None, Some(" answer"))
        ]
    );
    assert_eq!(stream.reasoning_content(), "We need answer");
    assert_eq!(stream.content(), "");
    assert_eq!(stream.usage(), None);
}

#[test]
fn deepseek_v3_done_without_finish_is_ok() {
    let mut stream = ChatStream::from_reader(SILICONFLOW_V3_FIRST_CHUNKS.body);
    let items: Vec<_> = stream.by_ref().collect();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(stream.content(), "你好");
    assert_eq!(stream.finish_reason(), None);
    assert_eq!(stream.end(), Some(StreamEnd::Done));
}

#[test]
fn openai_usage_trailer_yields_no_delta_but_sets_usage() {
    for capture in [&OPENAI_TEXT_USAGE_TRAILER, &OPENAI_TOOL_CALL_USAGE_TRAILER] {
        let mut stream = ChatStream::from_reader(capture.body);
        let mut last_delta_usage = Some([0; 3]);
        let mut count = 0;
        while let Some(delta) = stream.next() {
            delta.unwrap_or_else(|e| panic!("{}: {e:?}", capture.name));
            last_delta_usage = usage_of(&stream);
            count += 1;
        }
        // Every chunk but the trailer has one choice; the trailer (`choices: []`) adds no delta.
        let chunks = wire_events(capture.body).len() - 1; // without [DONE]
        assert_eq!(count, chunks - 1, "{}", capture.name);
        assert_eq!(
            last_delta_usage, None,
            "{}: usage before the trailer",
            capture.name
        );
        assert_eq!(usage_of(&stream), capture.usage, "{}", capture.name);
        assert_eq!(stream.end(), Some(StreamEnd::Done));
    }
}

/// Moves the usage-only trailer of an OpenAI capture before its finish chunk, so chunks with
/// `usage: null` follow a known usage.
fn trailer_before_finish(body: &[u8]) -> &'static [u8] {
    let text = std::str::from_utf8(body).expect("UTF-8");
    let mut events: Vec<&str> = text.split_inclusive("\n\n").collect();
    let trailer = events
        .iter()
        .position(|e| e.contains("\"choices\":[]"))
        .expect("a usage trailer");
    let moved = events.remove(trailer);
    let finish = events
        .iter()
        .position(|e| e.contains("\"finish_reason\":\""))
        .expect("a finish chunk");
    events.insert(finish, moved);
    Box::leak(events.concat().into_bytes().into_boxed_slice())
}

#[test]
fn openai_usage_null_after_a_known_usage_erases_nothing() {
    for capture in [&OPENAI_TEXT_USAGE_TRAILER, &OPENAI_TOOL_CALL_USAGE_TRAILER] {
        let reordered = Capture {
            name: capture.name,
            body: trailer_before_finish(capture.body),
            content: capture.content,
            reasoning: capture.reasoning,
            finish: capture.finish.clone(),
            tool_calls: capture.tool_calls,
            usage: capture.usage,
            ending: capture.ending,
        };
        // `check` verifies the usage after every delta, including the finish delta whose chunk says
        // `usage: null` after the trailer's usage arrived.
        replay_at_every_split(&reordered);
        let (deltas, stream) = deltas_of(&reordered);
        assert!(deltas.last().unwrap().finish_reason.is_some());
        assert_eq!(usage_of(&stream), capture.usage, "{}", capture.name);
    }
}

#[test]
fn qwen_content_filter_results_are_ignored() {
    let (deltas, stream) = deltas_of(&SILICONFLOW_QWEN_CONTENT_FILTER);
    assert_eq!(deltas.len(), 7);
    assert_eq!(stream.content(), " 当然！帮助！");
    assert_eq!(stream.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(stream.end(), Some(StreamEnd::Done));
}

#[test]
fn deepseek_error_body_is_an_api_error() {
    let mut server = mockito::Server::new();
    let mock = streaming_mock(&mut server)
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_header("x-request-id", "req-1")
        .with_body(DEEPSEEK_ERROR_BODY)
        .create();
    let error = client(&server)
        .chat_stream(&request())
        .expect_err("a 400 is an error");
    match &error {
        Error::Api(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.message, "Model Not Exist");
            assert_eq!(e.error_type.as_deref(), Some("invalid_request_error"));
            assert_eq!(e.code.as_deref(), Some("invalid_request_error"));
            assert_eq!(e.param, None);
            assert_eq!(e.request_id.as_deref(), Some("req-1"));
        }
        other => panic!("expected Error::Api, got {other:?}"),
    }
    assert_eq!(error.status(), Some(400));
    // A 400 is not retried: exactly one request.
    mock.assert();
}
