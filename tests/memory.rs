//! Memory stays bounded by the configured limits, whatever the server sends: the process's peak resident
//! memory is measured around each hostile answer.
//!
//! The bound the README states: one stream or one JSON answer grows the process by at most five times
//! `max_event_size` plus `max_accumulated_size`. Each case's peak is measured on its own (Linux resets the
//! peak when "5" is written to `/proc/self/clear_refs`), with the hostile body built before the baseline so
//! only the client's memory counts.
//!
//! A file of its own so no other test's allocations move the peak. Run with `--nocapture` for the figures.

mod common;

use std::io::Write;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: common::alloc::Counting = common::alloc::Counting;

use common::*;
use siliconflow::{Client, Error};

const MIB: usize = 1024 * 1024;
const MAX_EVENT: usize = 8 * MIB;

/// Resets the process's peak resident memory to its current value.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
}

/// The current resident memory, in KiB.
fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Serves the `before` responses, then `body` once (with `head` before it) from a buffer built before the
/// measurement starts.
fn serve(
    before: Vec<String>,
    head: String,
    body: Arc<Vec<u8>>,
) -> (String, std::thread::JoinHandle<Vec<SeenRequest>>) {
    raw_server(before.len() + 1, move |n, _, stream| {
        if let Some(response) = before.get(n) {
            let _ = stream.write_all(response.as_bytes());
            return;
        }
        let _ = stream.write_all(head.as_bytes());
        for block in body.chunks(64 * 1024) {
            if stream.write_all(block).is_err() {
                return; // the client hung up, as it may
            }
        }
    })
}

fn sse_head() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_string()
}

fn json_head(len: usize) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
}

/// One event carrying the JSON `chunk`, padded to stay under the event bound.
fn event(chunk: &str) -> String {
    format!("data: {chunk}\n\n")
}

/// `n` choices with distinct indices starting at `from`.
fn distinct_choices(from: usize, n: usize) -> String {
    let items: Vec<String> = (from..from + n)
        .map(|i| format!("{{\"index\":{i}}}"))
        .collect();
    format!("{{\"choices\":[{}]}}", items.join(","))
}

struct Case {
    name: &'static str,
    /// Whole responses served first, one per connection (a batch before its result file).
    before: Vec<String>,
    head: String,
    body: Vec<u8>,
    /// Consumes the answer with the client; returns the error it ended with, if any.
    run: fn(&Client) -> Option<Error>,
    /// What the error must be.
    expect: fn(&Option<Error>) -> bool,
}

/// A JSON response, whole.
fn json_response(body: &str) -> String {
    format!("{}{body}", json_head(body.len()))
}

/// Whether the answer failed with one of the list bounds (`MalformedChunk`, "too many …").
fn too_many(error: &Option<Error>) -> bool {
    matches!(error, Some(Error::MalformedChunk { source, .. }) if source.message().starts_with("too many"))
}

/// `n` copies of `item`, comma-separated, in brackets.
fn list(item: &str, n: usize) -> String {
    let mut out = String::with_capacity((item.len() + 1) * n + 2);
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

/// A completion of `n` choices, each with `text` as its answer.
fn choices_with_text(n: usize, text: &str) -> String {
    let choice = format!(
        r#"{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}"#
    );
    format!(r#"{{"choices":{}}}"#, list(&choice, n))
}

/// The first error of a batch job's results (the batch `b` is served first).
fn batch_results(client: &Client) -> Option<Error> {
    let job = match client.resume_batch_job("b") {
        Ok(job) => job,
        Err(e) => return Some(e),
    };
    job.results().find_map(|r| r.err())
}

/// The batch whose output file holds the hostile results.
fn completed_batch() -> Vec<String> {
    vec![json_response(
        r#"{"id":"b","status":"completed","output_file_id":"file-out"}"#,
    )]
}

fn stream_all(client: &Client) -> Option<Error> {
    let mut stream = match client.chat_stream(&request()) {
        Ok(stream) => stream,
        Err(e) => return Some(e),
    };
    let error = stream.by_ref().find_map(Result::err);
    drop(stream);
    error
}

#[test]
fn hostile_answers_do_not_grow_memory_past_the_bound() {
    let mut cases = vec![
        Case {
            before: Vec::new(),
            name: "12 events of 450,000 distinct choices each",
            head: sse_head(),
            body: (0..12)
                .map(|e| event(&distinct_choices(e * 450_000, 450_000)))
                .collect::<String>()
                .into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::TooManyChoices { limit: 1024 })),
        },
        Case {
            before: Vec::new(),
            name: "one 8 MiB event of 2.7 million empty choices",
            head: sse_head(),
            body: event(&format!("{{\"choices\":[{}{{}}]}}", "{},".repeat(2_700_000))).into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::TooManyChoices { .. } | Error::EventTooLarge { .. })),
        },
        Case {
            before: Vec::new(),
            name: "one delta of 700,000 tool-call fragments",
            head: sse_head(),
            body: event(&format!(
                "{{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{}{{\"index\":0}}]}}}}]}}",
                (1..700_000).map(|i| format!("{{\"index\":{i}}},")).collect::<String>()
            ))
            .into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::TooManyToolCalls { limit: 1024 } | Error::EventTooLarge { .. })),
        },
        Case {
            before: Vec::new(),
            name: "1,000 events of 1,000 distinct tool calls in 1,000 choices (bookkeeping only)",
            head: sse_head(),
            body: (0..1000)
                .map(|c| {
                    let calls: Vec<String> = (0..1000).map(|t| format!("{{\"index\":{t},\"id\":\"\"}}")).collect();
                    event(&format!(
                        "{{\"choices\":[{{\"index\":{c},\"delta\":{{\"tool_calls\":[{}]}}}}]}}",
                        calls.join(",")
                    ))
                })
                .collect::<String>()
                .into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::AccumulatedTooLarge { .. })),
        },
        Case {
            before: Vec::new(),
            name: "8 MiB of logprobs numbers in one event",
            head: sse_head(),
            body: event(&format!(
                "{{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"a\"}},\"logprobs\":[{}0]}}]}}",
                "0,".repeat(4_000_000)
            ))
            .into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::StreamCut { .. })),
        },
        Case {
            before: Vec::new(),
            name: "a 64 MiB line",
            head: sse_head(),
            body: format!("data: {}\n\n", "x".repeat(64 * MIB)).into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::EventTooLarge { limit: MAX_EVENT })),
        },
        Case {
            before: Vec::new(),
            name: "chat(): an 8 MiB completion of 100,000 choices (MalformedChunk: too many choices)",
            head: String::new(),
            body: choices_with_text(100_000, "x").into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "chat(): 550,000 choices {\"message\":{}} (too many choices)",
            head: String::new(),
            body: format!(r#"{{"choices":{}}}"#, list(r#"{"message":{}}"#, 550_000)).into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "chat(): 1,024 choices sharing 8 MiB of text (read)",
            head: String::new(),
            body: choices_with_text(1024, &"x".repeat(8000)).into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "chat(): one message of 2.7 million tool calls {} (too many tool calls)",
            head: String::new(),
            body: format!(r#"{{"choices":[{{"message":{{"tool_calls":{}}}}}]}}"#, list("{}", 2_700_000)).into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "chat(): 1,024 choices of 1,024 tool calls each (too many entries)",
            head: String::new(),
            body: {
                let choice = format!(r#"{{"message":{{"tool_calls":{}}}}}"#, list("{}", 1024));
                format!(r#"{{"choices":{}}}"#, list(&choice, 1024)).into_bytes()
            },
            run: |c| c.chat(&request()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "chat(): one message of 300,000 text parts (too many content parts)",
            head: String::new(),
            body: format!(
                r#"{{"choices":[{{"message":{{"content":{}}}}}]}}"#,
                list(r#"{"type":"text","text":""}"#, 300_000)
            )
            .into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "chat(): 8 MiB of unknown numbers in a content part and a message (skipped)",
            head: String::new(),
            body: format!(
                r#"{{"choices":[{{"message":{{"x":[{n}0],"content":[{{"y":[{n}0],"type":"text","text":"hi"}}]}}}}]}}"#,
                n = "0,".repeat(2_000_000)
            )
            .into_bytes(),
            run: |c| c.chat(&request()).err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "list_models(): an 8 MiB list of {} (too many models)",
            head: String::new(),
            body: format!(r#"{{"object":"list","data":{}}}"#, list("{}", 2_700_000)).into_bytes(),
            run: |c| c.list_models().err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "embeddings(): one vector of 4 million numbers (read)",
            head: String::new(),
            body: format!(r#"{{"data":[{{"embedding":{}}}]}}"#, list("0", 4_000_000)).into_bytes(),
            run: |c| c.embeddings(&siliconflow::EmbeddingRequest::new("m", "x")).err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "embeddings(): an 8 MiB list of {} (too many embeddings)",
            head: String::new(),
            body: format!(r#"{{"data":{}}}"#, list("{}", 2_700_000)).into_bytes(),
            run: |c| c.embeddings(&siliconflow::EmbeddingRequest::new("m", "x")).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "rerank(): an 8 MiB list of {} (too many rerank results)",
            head: String::new(),
            body: format!(r#"{{"results":{}}}"#, list("{}", 2_700_000)).into_bytes(),
            run: |c| c.rerank(&siliconflow::RerankRequest::new("m", "q", ["a"])).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "rerank(): a document with 8 MiB of unknown numbers (skipped)",
            head: String::new(),
            body: format!(
                r#"{{"results":[{{"index":0,"document":{{"x":[{}0],"text":"a"}}}}]}}"#,
                "0,".repeat(4_000_000)
            )
            .into_bytes(),
            run: |c| c.rerank(&siliconflow::RerankRequest::new("m", "q", ["a"])).err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "generate_images(): 900,000 images {\"a\":0} (too many generated images)",
            head: String::new(),
            body: format!(r#"{{"images":{}}}"#, list(r#"{"a":0}"#, 900_000)).into_bytes(),
            run: |c| c.generate_images(&siliconflow::ImageRequest::new("m", "p")).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "video_status(): results as 1 million objects {\"x\":0} (merged)",
            head: String::new(),
            body: format!(r#"{{"status":"Succeed","results":{}}}"#, list(r#"{"x":0}"#, 1_000_000)).into_bytes(),
            run: |c| c.video_status("r").err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "video_status(): results as 2 million URLs (too many generated videos)",
            head: String::new(),
            body: format!(r#"{{"status":"Succeed","results":{}}}"#, list(r#""u""#, 2_000_000)).into_bytes(),
            run: |c| c.video_status("r").err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "list_batches(): an 8 MiB list of {} (too many batches)",
            head: String::new(),
            body: format!(r#"{{"object":"list","data":{}}}"#, list("{}", 2_700_000)).into_bytes(),
            run: |c| c.list_batches(&siliconflow::BatchListQuery::new()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "list_batches(): 2 batches of 6,000 errors each (too many entries)",
            head: String::new(),
            body: {
                let batch = format!(r#"{{"id":"b","errors":{}}}"#, list(r#""e""#, 6_000));
                format!(r#"{{"data":[{batch},{batch}]}}"#).into_bytes()
            },
            run: |c| c.list_batches(&siliconflow::BatchListQuery::new()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "transcribe(): an 8 MiB unknown field of numbers (kept as text)",
            head: String::new(),
            body: format!(r#"{{"text":"hi","x":[{}0]}}"#, "0,".repeat(4_000_000)).into_bytes(),
            run: |c| {
                let audio = siliconflow::FilePart::bytes(b"RIFF".to_vec()).file_name("a.wav");
                c.transcribe(siliconflow::TranscriptionRequest::new("m", audio)).err()
            },
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "upload_file(): an 8 MiB envelope of numbers (kept as text)",
            head: String::new(),
            body: format!(
                r#"{{"code":20000,"message":"OK","status":true,"data":{{"id":"f","x":[{}0]}}}}"#,
                "0,".repeat(4_000_000)
            )
            .into_bytes(),
            run: |c| {
                let file = siliconflow::FilePart::bytes(b"{}\n".to_vec()).file_name("in.jsonl");
                c.upload_file(siliconflow::FileUploadRequest::batch(file)).err()
            },
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "delete_voice(): an 8 MiB answer of numbers (kept as text)",
            head: String::new(),
            body: list("0", 4_000_000).into_bytes(),
            run: |c| c.delete_voice("speech:v:a:b").err(),
            expect: |e| e.is_none(),
        },
        {
            let body = format!(r#"{{"error":[{}0]}}"#, "0,".repeat(4_000_000));
            Case {
                before: Vec::new(),
                name: "speech_bytes(): a 400 with an 8 MiB error body of numbers (ApiError)",
                head: format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                ),
                body: body.into_bytes(),
                run: |c| c.speech_bytes(&siliconflow::SpeechRequest::new("m", "hi")).err(),
                expect: |e| matches!(e, Some(Error::Api(api)) if api.status == 400),
            }
        },
        Case {
            before: completed_batch(),
            name: "batch results: an 8 MiB output line of 550,000 choices (too many choices)",
            head: String::new(),
            body: format!(
                r#"{{"custom_id":"a","response":{{"status_code":200,"body":{{"choices":{}}}}}}}"#,
                list(r#"{"message":{}}"#, 550_000)
            )
            .into_bytes(),
            run: batch_results,
            expect: too_many,
        },
        Case {
            before: completed_batch(),
            name: "batch results: an 8 MiB output line whose body is JSON text (read)",
            head: String::new(),
            body: {
                let completion = choices_with_text(1000, &"x".repeat(7000));
                let line = serde_json::json!({"custom_id": "a", "response": {"status_code": 200, "body": completion}});
                format!("{line}\n").into_bytes()
            },
            run: batch_results,
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "user_info(): an 8 MiB envelope of numbers",
            head: String::new(),
            body: format!(
                r#"{{"code":20000,"message":"OK","status":true,"data":{{"id":"u","x":[{}0]}}}}"#,
                "0,".repeat(4_000_000)
            )
            .into_bytes(),
            run: |c| c.user_info().err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "generate_images(): an 8 MiB unknown field of numbers",
            head: String::new(),
            body: format!(r#"{{"images":[],"x":[{}0]}}"#, "0,".repeat(4_000_000)).into_bytes(),
            run: |c| {
                c.generate_images(&siliconflow::ImageRequest::new("m", "p"))
                    .err()
            },
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "list_files(): an 8 MiB list of tiny entries",
            head: String::new(),
            body: format!(r#"{{"object":"list","data":[{}{{}}]}}"#, "{},".repeat(2_700_000)).into_bytes(),
            run: |c| c.list_files(&siliconflow::FileListQuery::new()).err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "list_voices(): an 8 MiB list of tiny entries",
            head: String::new(),
            body: format!(r#"{{"results":[{}{{}}]}}"#, "{},".repeat(2_700_000)).into_bytes(),
            run: |c| c.list_voices().err(),
            expect: too_many,
        },
        Case {
            before: Vec::new(),
            name: "completion(): 8 MiB of logprobs numbers",
            head: String::new(),
            body: format!(
                r#"{{"choices":[{{"index":0,"text":"x","logprobs":[{}0]}}]}}"#,
                "0,".repeat(4_000_000)
            )
            .into_bytes(),
            run: |c| c.completion(&siliconflow::CompletionRequest::new("m", "p")).err(),
            expect: |e| e.is_none(),
        },
        Case {
            before: Vec::new(),
            name: "get_batch(): an 8 MiB errors list",
            head: String::new(),
            body: format!(
                r#"{{"id":"b","status":"failed","errors":[{}"e"]}}"#,
                "\"e\",".repeat(2_000_000)
            )
            .into_bytes(),
            run: |c| c.get_batch("b").err(),
            expect: too_many,
        },
    ];
    for case in &mut cases {
        if case.head.is_empty() {
            case.head = json_head(case.body.len());
        }
    }
    let mut report = Vec::new();
    let mut over = Vec::new();
    for case in cases {
        let body = Arc::new(case.body);
        let (base, server) = serve(case.before, case.head, Arc::clone(&body));
        // A small accumulation bound, as a user worried about memory would set.
        let client = builder(&base)
            .max_accumulated_size(Some(64 * 1024))
            .build()
            .unwrap();
        reset_peak();
        let before = rss_kib();
        let heap_before = common::alloc::reset_peak();
        let error = (case.run)(&client);
        let heap = common::alloc::peak_above(heap_before) / MIB;
        let rss = peak_rss_kib().saturating_sub(before) / 1024;
        let grown = heap.max(rss);
        server.join().unwrap();
        drop(body);
        assert!((case.expect)(&error), "{}: ended with {error:?}", case.name);
        report.push(format!(
            "{heap:>4} MiB heap, {rss:>4} MiB RSS  {}",
            case.name
        ));
        // The bound the README states: five times the event bound (the line and event buffers as they
        // double, the deltas of one event, the latest usage; or a whole JSON body and what it parses into),
        // plus the accumulation bound (64 KiB here).
        if grown > 5 * MAX_EVENT / MIB {
            over.push(format!("{}: grew by {grown} MiB", case.name));
        }
    }
    println!("peak growth per hostile answer (max_event_size 8 MiB, max_accumulated_size 64 KiB),");
    println!("live heap bytes counted by the allocator and resident memory (VmHWM):");
    for line in &report {
        println!("{line}");
    }
    assert!(over.is_empty(), "{over:#?}");
}
