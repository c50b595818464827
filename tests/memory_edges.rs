//! Memory at the edges of the README bound ("One stream, or one non-streamed answer, grows the process by
//! at most about five times `max_event_size` [...] plus `max_accumulated_size`"), measured with a
//! counting allocator as `tests/memory.rs` does. One measurement at a time (`serial`). Regression tests
//! for review 2's findings, each over the bound before its fix:
//!
//! - one event of 1,024 choices of 1,024 `{}` tool-call fragments (3 MiB): every fragment became a
//!   ~100-byte `ToolCallDelta` before a bound was checked, and the failed stream kept them in its delta
//!   slots (131 MiB peak, 104 MiB retained). Now `max_tool_calls` bounds the fragments of one event, all
//!   choices together, and a failed stream releases its parse buffers;
//! - tool-call bookkeeping counted at a fixed size while the `Vec`s it lives in double (112 MiB for a
//!   64 MiB bound). Now the accumulation bound counts capacity as allocated;
//! - `speech_bytes` past its 64 MiB limit, both framings (the read buffer doubled to 128 MiB);
//! - one batch result line (copies of an 8 MiB line alive together: 62 MiB, now 38);
//! - held before and after: a streaming request answered with a whole 8 MiB JSON completion.
//!
//! And review 3's:
//!
//! - accumulated texts that `push_str` doubled past the bound, which counted them by length (28 MB of
//!   heap for a 16.7 MB bound). Now they grow by an eighth, and each byte is counted with an eighth more;
//! - large metadata sent once, kept allocated (uncounted) behind small values.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::alloc::{peak_above, reset_peak, LIVE};

#[global_allocator]
static ALLOCATOR: common::alloc::Counting = common::alloc::Counting;

use siliconflow::{ChatStream, Error, StreamLimits};

/// The counters are process-wide: one measurement at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MIB: usize = 1024 * 1024;
const MAX_EVENT: usize = 8 * MIB;
const MAX_ACC: usize = 64 * 1024;

/// One event: `choices` choices, each a delta of `calls` empty tool-call fragments.
fn wide_event(choices: usize, calls: usize) -> Vec<u8> {
    let fragments = vec!["{}"; calls].join(",");
    let choice = format!(r#"{{"index":I,"delta":{{"tool_calls":[{fragments}]}}}}"#);
    let list: Vec<String> = (0..choices)
        .map(|i| choice.replace('I', &i.to_string()))
        .collect();
    format!("data: {{\"choices\":[{}]}}\n\n", list.join(",")).into_bytes()
}

fn limits() -> StreamLimits {
    StreamLimits::default()
        .max_event_size(MAX_EVENT)
        .max_accumulated_size(Some(MAX_ACC))
}

/// Both measurements in one test (the counters are process-wide).
#[test]
fn one_event_of_a_million_empty_tool_call_fragments_stays_within_the_memory_bound() {
    let _serial = serial();
    let body = wide_event(1024, 1024);
    assert!(body.len() < MAX_EVENT, "{} bytes", body.len());

    // 1. Peak growth while the event is read.
    let base = reset_peak();
    let mut stream = ChatStream::from_reader(&body[..]).with_limits(limits());
    let error = stream.by_ref().find_map(Result::err);
    let peak = peak_above(base);
    // 2. What the failed stream still holds while the caller reads what it received (as the README
    //    invites: "what was accumulated stays readable").
    let retained = LIVE.load(Ordering::SeqCst).saturating_sub(base);
    let _ = stream.content();
    drop(stream);
    eprintln!(
        "event {} KiB: peak growth {} MiB, retained by the failed stream {} MiB, error {error:?}",
        body.len() / 1024,
        peak / MIB,
        retained / MIB
    );
    assert!(
        matches!(
            error,
            Some(
                Error::AccumulatedTooLarge { .. }
                    | Error::TooManyToolCalls { .. }
                    | Error::EventTooLarge { .. }
            )
        ),
        "{error:?}"
    );
    let bound = 5 * MAX_EVENT + MAX_ACC;
    assert!(
        peak <= bound,
        "peak heap growth {} MiB over the README bound {} MiB (5 x max_event_size + max_accumulated_size) for a {} KiB event",
        peak / MIB,
        bound / MIB,
        body.len() / 1024
    );
    assert!(
        retained <= bound,
        "a failed stream retains {} MiB of parsed deltas (bound {} MiB)",
        retained / MIB,
        bound / MIB
    );
}

/// The accumulation bound counts a fixed `size_of::<ToolCall>() + 32` bytes per tool call, but a
/// choice's tool calls live in a `Vec` that doubles (up to twice that), beside a `Vec<u32>` and, for
/// indices that are not positions, a `BTreeMap` of positions. 1,022 choices of 513 tool calls each
/// (indices from 1,000,000, one small event per choice) stay under the default 64 MiB accumulation
/// bound as counted, and hold far more.
#[test]
fn tool_call_bookkeeping_is_counted_at_its_real_size() {
    const CHOICES: usize = 1022;
    let _serial = serial();
    let mut body = Vec::new();
    for choice in 0..CHOICES {
        let calls: Vec<String> = (0..513)
            .map(|t| format!("{{\"index\":{}}}", 1_000_000 + t))
            .collect();
        body.extend_from_slice(
            format!(
                "data: {{\"choices\":[{{\"index\":{choice},\"delta\":{{\"tool_calls\":[{}]}}}}]}}\n\n",
                calls.join(",")
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"data: [DONE]\n\n");
    let base = reset_peak();
    // Default limits: 8 MiB events, 64 MiB accumulated.
    let mut stream = ChatStream::from_reader(&body[..]);
    let error = stream.by_ref().find_map(Result::err);
    let held = stream.held_bytes();
    let live = LIVE.load(Ordering::SeqCst).saturating_sub(base);
    let peak = peak_above(base);
    drop(stream);
    eprintln!(
        "{} KiB of events: error {error:?}; held_bytes() {} MiB, live heap {} MiB, peak {} MiB",
        body.len() / 1024,
        held / MIB,
        live / MIB,
        peak / MIB
    );
    let bound = 5 * MAX_EVENT + 64 * MIB;
    assert!(
        peak <= bound,
        "peak heap growth {} MiB over the README bound {} MiB (held_bytes() says {} MiB)",
        peak / MIB,
        bound / MIB,
        held / MIB
    );
}

/// `speech_bytes` past its 64 MiB limit (`MAX_SPEECH_BYTES`), with both framings: an announced
/// `Content-Length` over the limit fails before anything is read, and a chunked body is read into a buffer
/// whose growth is capped at the limit and a byte (before the fix, `take(limit + 1).read_to_end` doubled
/// the `Vec` to 128 MiB to take the byte that proves the body too large; README: one non-streamed answer
/// grows the process by at most about 5 x `max_event_size` + `max_accumulated_size`, 104 MiB by default).
#[test]
fn speech_bytes_past_its_limit_stays_within_the_memory_bound() {
    let _serial = serial();
    let audio = Arc::new(vec![7u8; 64 * MIB + 1]);
    for chunked in [false, true] {
        let (result, peak) = speech_peak(Arc::clone(&audio), chunked);
        eprintln!(
            "speech_bytes of 64 MiB + 1 (chunked: {chunked}): {:?}; peak heap growth {} MiB",
            result.as_ref().map(|b| b.data.len()),
            peak / MIB
        );
        assert!(
            matches!(result, Err(Error::BodyTooLarge { .. })),
            "chunked {chunked}: {:?}",
            result.map(|b| b.data.len())
        );
        let bound = 5 * MAX_EVENT + 64 * MIB;
        assert!(
            peak <= bound,
            "chunked {chunked}: peak heap growth {} MiB over the README bound {} MiB",
            peak / MIB,
            bound / MIB
        );
    }
}

/// Serves `audio` once to a `speech_bytes` call, with a `Content-Length` or chunked; returns the call's
/// result and the heap's peak growth during it.
fn speech_peak(
    audio: Arc<Vec<u8>>,
    chunked: bool,
) -> (Result<siliconflow::DownloadedBytes, Error>, usize) {
    let (base, server) = serve(vec![("audio/mpeg", audio)], chunked);
    let client = common::client(&base);
    let base_heap = reset_peak();
    let result = client.speech_bytes(&siliconflow::SpeechRequest::new("m", "hi"));
    let peak = peak_above(base_heap);
    server.join().unwrap();
    (result, peak)
}

/// One batch result line under `max_event_size` (8 MiB) whose `response.body` is a completion sent as
/// JSON text, with a lone surrogate escape in its content and an invalid UTF-8 byte in the line: the line
/// buffer, its lossy copy, the body's text unescaped (and serde_json's scratch for it), that text
/// trimmed into a second string, the copy with the surrogate replaced, and the completion (and the
/// scratch its content is read through) are alive together.
#[test]
fn a_batch_result_line_stays_within_the_memory_bound() {
    let _serial = serial();
    let content = "x".repeat(7 * MIB + 700 * 1024);
    let completion = format!(
        r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}\ud800"}},"finish_reason":"stop"}}]}}"#
    );
    let mut line = serde_json::json!({"custom_id": "a-CUT", "response": {"status_code": 200, "body": completion}})
        .to_string()
        .into_bytes();
    // An invalid UTF-8 byte in the custom id (the line is then read through a lossy copy).
    let at = line.windows(3).position(|w| w == b"CUT").unwrap();
    line[at] = 0xFF;
    line.push(b'\n');
    assert!(line.len() < MAX_EVENT, "{}", line.len());
    let file = Arc::new(line);
    let status = br#"{"id":"b","status":"completed","output_file_id":"file-out"}"#.to_vec();
    let (base, server) = serve(
        vec![
            ("application/json", Arc::new(status)),
            ("application/json", Arc::clone(&file)),
        ],
        false,
    );
    let client = common::builder(&base)
        .max_accumulated_size(Some(64 * 1024))
        .build()
        .unwrap();
    let base_heap = reset_peak();
    let job = client.resume_batch_job("b").unwrap();
    let results: Vec<_> = job.results().collect();
    let peak = peak_above(base_heap);
    server.join().unwrap();
    let read = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|(id, a)| (id.len(), a.as_ref().map(|c| c.content().len()).ok()))
                .map_err(|e| e.to_string())
        })
        .collect::<Vec<_>>();
    drop(results);
    eprintln!(
        "batch result line of {} KiB: {read:?}; peak heap growth {} MiB",
        file.len() / 1024,
        peak / MIB
    );
    let bound = 5 * MAX_EVENT + 64 * 1024;
    assert!(
        peak <= bound,
        "peak heap growth {} MiB over the README bound {} MiB",
        peak / MIB,
        bound / MIB
    );
}

/// `chat_stream` answered with a whole JSON completion (7.7 MiB of content with a lone surrogate escape,
/// so the first parse fails): the body, its copy with the surrogate replaced, the completion, the delta
/// made of it and the accumulated text.
#[test]
fn a_streaming_request_answered_with_json_stays_within_the_memory_bound() {
    let _serial = serial();
    let content = "x".repeat(7 * MIB + 700 * 1024);
    let body = Arc::new(
        format!(
            r#"{{"id":"c","choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}\ud800"}},"finish_reason":"stop"}}]}}"#
        )
        .into_bytes(),
    );
    drop(content);
    let (base, server) = serve(vec![("application/json", Arc::clone(&body))], false);
    let client = common::client(&base);
    let request = siliconflow::ChatRequest::new("m", vec![siliconflow::Message::user("hi")]);
    let base_heap = reset_peak();
    let mut stream = client.chat_stream(&request).unwrap();
    let deltas: Vec<_> = stream.by_ref().collect();
    let peak = peak_above(base_heap);
    let content = stream.content().len();
    drop((stream, deltas));
    server.join().unwrap();
    eprintln!(
        "JSON answer of {} KiB to a streaming request: content {content}; peak heap growth {} MiB",
        body.len() / 1024,
        peak / MIB
    );
    let bound = 5 * MAX_EVENT + 64 * MIB;
    assert!(
        peak <= bound,
        "peak heap growth {} MiB over the README bound {} MiB",
        peak / MIB,
        bound / MIB
    );
}

/// 15 texts (content and reasoning of 8 choices, less one), each pushed 17 times 60,000 bytes: 1.02 MB of
/// text each (15.3 MB in all, under a 16 MiB bound). Before the fix the bound counted text by length while
/// `push_str` doubled each `String` to 32 x 60,000 = 1.92 MB: 28 MB of heap for a 16.7 MB bound (review 3).
#[test]
fn accumulated_text_grows_past_the_bound_by_string_doubling() {
    let _serial = serial();
    const PIECE: usize = 60_000;
    const MAX_EVENT: usize = 64 * 1024;
    const MAX_ACC: usize = 16 * MIB;
    let piece = "a".repeat(PIECE);
    let mut body = String::new();
    let mut texts = 0;
    'outer: for choice in 0..8 {
        for field in ["content", "reasoning_content"] {
            if texts == 15 {
                break 'outer;
            }
            texts += 1;
            for _ in 0..17 {
                body += &format!(
                    "data: {{\"choices\":[{{\"index\":{choice},\"delta\":{{\"{field}\":\"{piece}\"}}}}]}}\n\n"
                );
            }
        }
    }
    for choice in 0..8 {
        body += &format!(
            "data: {{\"choices\":[{{\"index\":{choice},\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
        );
    }
    body += "data: [DONE]\n\n";
    let limits = StreamLimits::default()
        .max_event_size(MAX_EVENT)
        .max_accumulated_size(Some(MAX_ACC));

    let base = reset_peak();
    let mut stream = ChatStream::from_reader(body.as_bytes()).with_limits(limits);
    let mut error = None;
    while let Some(delta) = stream.next_ref() {
        if let Err(e) = delta {
            error = Some(e);
            break;
        }
    }
    let peak = peak_above(base);
    let held: usize = stream
        .choices()
        .iter()
        .map(|c| c.content().len() + c.reasoning_content().len())
        .sum();
    drop(stream);
    let bound = 5 * MAX_EVENT + MAX_ACC;
    println!(
        "error {error:?}; text held {} KiB; peak heap growth {} KiB; README bound {} KiB",
        held / 1024,
        peak / 1024,
        bound / 1024
    );
    // The stream is read whole, or refused by the accumulation bound (which counts text with the eighth
    // its strings may allocate ahead: 15.3 MB of text costs 17.2 MB)...
    assert!(
        matches!(error, None | Some(Error::AccumulatedTooLarge { .. })),
        "{error:?}"
    );
    // ...and either way stays within "about five times max_event_size plus max_accumulated_size".
    assert!(
        peak <= bound,
        "peak heap growth {} KiB over the README bound {} KiB for {} KiB of accepted text",
        peak / 1024,
        bound / 1024,
        held / 1024
    );
}

/// The kept metadata (id, model, system_fingerprint, usage), each sent once at nearly `max_event_size`
/// and then small. Before the fix each was counted at its current length but replaced in place
/// (`clear` + `push_str`), keeping the largest capacity ever used: ~4 x `max_event_size` allocated and
/// uncounted beside a full accumulation bound of text (11.3 MB for a 9.2 MB bound, review 3). Now a
/// slot far larger than its new value is allocated anew, and the metadata is counted at its capacity.
#[test]
fn replaced_metadata_keeps_its_capacity_uncounted() {
    let _serial = serial();
    const MAX_EVENT: usize = MIB;
    const MAX_ACC: usize = 4 * MIB;
    let pad = "p".repeat(MAX_EVENT - 300);
    let small_usage = r#"{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}"#;
    let mut body = String::new();
    body += &format!("data: {{\"id\":\"{pad}\",\"choices\":[]}}\n\n");
    body += &format!("data: {{\"id\":\"x\",\"model\":\"{pad}\",\"choices\":[]}}\n\n");
    body +=
        &format!("data: {{\"model\":\"m\",\"system_fingerprint\":\"{pad}\",\"choices\":[]}}\n\n");
    body += &format!(
        "data: {{\"system_fingerprint\":\"f\",\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2,\"x\":\"{pad}\"}},\"choices\":[]}}\n\n"
    );
    body += &format!("data: {{\"usage\":{small_usage},\"choices\":[]}}\n\n");
    // Text up to the bound: 4 pieces that fill the content's capacity exactly (c, 2c, 4c).
    for _ in 0..4 {
        body += &format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{pad}\"}}}}]}}\n\n"
        );
    }
    body += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    body += "data: [DONE]\n\n";
    let limits = StreamLimits::default()
        .max_event_size(MAX_EVENT)
        .max_accumulated_size(Some(MAX_ACC));

    let base = reset_peak();
    let reader = std::io::BufReader::with_capacity(64 * 1024, body.as_bytes());
    let mut stream = ChatStream::from_reader(reader).with_limits(limits);
    let mut error = None;
    while let Some(delta) = stream.next_ref() {
        if let Err(e) = delta {
            error = Some(e);
            break;
        }
    }
    let peak = peak_above(base);
    let retained = LIVE.load(Ordering::SeqCst).saturating_sub(base);
    let content = stream.content().len();
    drop(stream);
    let bound = 5 * MAX_EVENT + MAX_ACC;
    println!(
        "error {error:?}; content {} KiB; peak heap growth {} KiB; held at the end {} KiB; README bound {} KiB",
        content / 1024,
        peak / 1024,
        retained / 1024,
        bound / 1024
    );
    // The large metadata sent once does not stay counted (or allocated) behind the small values: the
    // content gets at least three of its four pieces before the bound refuses the rest.
    assert!(
        matches!(error, None | Some(Error::AccumulatedTooLarge { .. })),
        "{error:?}"
    );
    assert!(content >= 3 * (MAX_EVENT - 300), "content {content}");
    assert!(
        peak <= bound,
        "peak heap growth {} KiB over the README bound {} KiB (5 x max_event_size + max_accumulated_size)",
        peak / 1024,
        bound / 1024
    );
}

/// A server on 127.0.0.1 answering one request per connection, the `n`th with `answers[n]` (its content
/// type and body) in blocks of 64 KiB, with a `Content-Length` or chunked.
fn serve(
    answers: Vec<(&'static str, Arc<Vec<u8>>)>,
    chunked: bool,
) -> (String, std::thread::JoinHandle<Vec<common::SeenRequest>>) {
    common::raw_server(answers.len(), move |n, _, out| {
        let (content_type, body) = &answers[n];
        let _ = write_body(out, content_type, body, chunked);
    })
}

fn write_body(
    out: &mut TcpStream,
    content_type: &str,
    body: &[u8],
    chunked: bool,
) -> std::io::Result<()> {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {}", body.len())
    };
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{framing}\r\nConnection: close\r\n\r\n"
    )?;
    for block in body.chunks(64 * 1024) {
        if chunked {
            write!(out, "{:x}\r\n", block.len())?;
            out.write_all(block)?;
            out.write_all(b"\r\n")?;
        } else {
            out.write_all(block)?;
        }
    }
    if chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}
