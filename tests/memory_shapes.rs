//! More hostile answers measured against the README's bound ("one stream, or one non-streamed answer,
//! grows the process by at most about five times `max_event_size` plus `max_accumulated_size`"): unknown
//! roles and finish reasons, huge metadata, JSON answers shaped against serde's buffering. Found by an
//! adversarial review; kept as regressions.
//!
//! Live heap bytes are counted by a counting allocator (same method as `tests/memory.rs`); one test runs
//! the cases one after another so nothing else moves the peak. Run with `--nocapture` for the figures.

mod common;

use std::io::Write;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: common::alloc::Counting = common::alloc::Counting;

use common::*;
use siliconflow::{Client, EmbeddingRequest, Error};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
const ACCUMULATED: usize = 64 * KIB;

fn serve(head: String, body: Arc<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<SeenRequest>>) {
    raw_server(1, move |_, _, stream| {
        let _ = stream.write_all(head.as_bytes());
        for block in body.chunks(64 * 1024) {
            if stream.write_all(block).is_err() {
                return;
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

fn stream_all(client: &Client) -> Option<Error> {
    let mut stream = match client.chat_stream(&request()) {
        Ok(stream) => stream,
        Err(e) => return Some(e),
    };
    let error = stream.by_ref().find_map(Result::err);
    drop(stream);
    error
}

struct Case {
    name: &'static str,
    max_event_size: usize,
    head: String,
    body: Vec<u8>,
    run: fn(&Client) -> Option<Error>,
}

fn cases() -> Vec<Case> {
    let small = 256 * KIB;
    vec![
        Case {
            // `StreamChoice::role` is set from the first delta of each choice and never counted in the
            // accumulation bound (`ChatDelta::held_bytes` counts content, reasoning and tool calls only).
            name: "stream: 200 choices, each opened with a 250 KB `role` (Role::Other)",
            max_event_size: small,
            head: sse_head(),
            body: (0..200)
                .map(|i| {
                    format!(
                        "data: {{\"choices\":[{{\"index\":{i},\"delta\":{{\"role\":\"{}\"}}}}]}}\n\n",
                        "r".repeat(250_000)
                    )
                })
                .collect::<String>()
                .into_bytes(),
            run: stream_all,
        },
        Case {
            // `StreamChoice::finish_reason` (FinishReason::Other) is kept per choice, uncounted too.
            name: "stream: 200 choices, each finished with a 250 KB `finish_reason`",
            max_event_size: small,
            head: sse_head(),
            body: (0..200)
                .map(|i| {
                    format!(
                        "data: {{\"choices\":[{{\"index\":{i},\"delta\":{{}},\"finish_reason\":\"{}\"}}]}}\n\n",
                        "f".repeat(250_000)
                    )
                })
                .collect::<String>()
                .into_bytes(),
            run: stream_all,
        },
        Case {
            // The accumulator keeps the latest id, model, system_fingerprint and raw usage (each up to an
            // event), the decoder keeps the SSE `id:` (persists) and the capacity of the `event:` name,
            // line and data buffers: about nine event sizes, none counted.
            name: "stream: ~1 MiB id, model, system_fingerprint, usage, SSE id: and event: lines, then a 1 MiB event",
            max_event_size: MIB,
            head: sse_head(),
            body: {
                let pad = "p".repeat(MIB - 200);
                let mut body = String::new();
                body += &format!("data: {{\"id\":\"{pad}\",\"choices\":[]}}\n\n");
                body += &format!("data: {{\"model\":\"{pad}\",\"choices\":[]}}\n\n");
                body += &format!("data: {{\"system_fingerprint\":\"{pad}\",\"choices\":[]}}\n\n");
                body += &format!(
                    "data: {{\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2,\"x\":\"{pad}\"}},\"choices\":[]}}\n\n"
                );
                body += &format!("id: {pad}\nevent: {pad}\ndata: {{\"choices\":[],\"y\":\"{pad}\"}}\n\n");
                body += &format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"a\"}},\"finish_reason\":\"stop\"}}],\"z\":\"{pad}\"}}\n\n"
                );
                body += "data: [DONE]\n\n";
                body.into_bytes()
            },
            run: stream_all,
        },
        Case {
            // `Message::content` is an untagged enum: serde buffers the value as `Content` (32 bytes per
            // element) before trying each variant. 2 bytes of text per element.
            name: "chat(): message.content = [0,0,0,…] (2 MiB, untagged enum buffering)",
            max_event_size: 2 * MIB,
            head: String::new(),
            body: format!(
                r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":[{}0]}},"finish_reason":"stop"}}]}}"#,
                "0,".repeat(MIB - 100)
            )
            .into_bytes(),
            run: |c| c.chat(&request()).err(),
        },
        Case {
            // The same through a streaming request answered with JSON.
            name: "chat_stream() answered with JSON: message.content = [0,0,0,…] (2 MiB)",
            max_event_size: 2 * MIB,
            head: String::new(),
            body: format!(
                r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":[{}0]}},"finish_reason":"stop"}}]}}"#,
                "0,".repeat(MIB - 100)
            )
            .into_bytes(),
            run: stream_all,
        },
        Case {
            // `EmbeddingVector` is untagged too: the numbers are buffered as `Content` first.
            name: "embeddings(): one 2 MiB vector of zeros (untagged EmbeddingVector buffering)",
            max_event_size: 2 * MIB,
            head: String::new(),
            body: format!(
                r#"{{"object":"list","model":"m","data":[{{"object":"embedding","index":0,"embedding":[{}0]}}]}}"#,
                "0,".repeat(MIB - 100)
            )
            .into_bytes(),
            run: |c| c.embeddings(&EmbeddingRequest::new("BAAI/bge-m3", "x")).err(),
        },
        Case {
            // `envelope::decode_slice` falls back to `serde_json::from_slice::<Value>(whole body)` when the
            // borrowed envelope fails (a key given twice), with no size cap (json.rs caps its own Value
            // fallback at 1 MiB).
            name: "user_info(): 2 MiB envelope with a duplicated `code` key (Value of the whole body)",
            max_event_size: 2 * MIB,
            head: String::new(),
            body: format!(
                r#"{{"code":20000,"code":20000,"message":"OK","status":true,"data":{{"id":"u","x":[{}0]}}}}"#,
                "0,".repeat(MIB - 100)
            )
            .into_bytes(),
            run: |c| c.user_info().err(),
        },
    ]
}

#[test]
fn more_hostile_answers_stay_within_the_memory_bound() {
    let mut report = Vec::new();
    let mut over = Vec::new();
    for mut case in cases() {
        if case.head.is_empty() {
            case.head = json_head(case.body.len());
        }
        let body = Arc::new(case.body);
        let (base, server) = serve(case.head, Arc::clone(&body));
        let client = builder(&base)
            .max_event_size(case.max_event_size)
            .max_accumulated_size(Some(ACCUMULATED))
            .build()
            .unwrap();
        let heap_before = common::alloc::reset_peak();
        let error = (case.run)(&client);
        let grown = common::alloc::peak_above(heap_before);
        drop(client);
        let _ = server.join();
        drop(body);
        let bound = 5 * case.max_event_size + ACCUMULATED;
        let line = format!(
            "{:>7.1} MiB heap (bound {:>5.1} MiB, {:>5.1}x)  {}  -> {}",
            grown as f64 / MIB as f64,
            bound as f64 / MIB as f64,
            grown as f64 / bound as f64,
            case.name,
            error.map_or("Ok".to_string(), |e| format!("{e}")
                .chars()
                .take(80)
                .collect())
        );
        println!("{line}");
        report.push(line.clone());
        if grown > bound {
            over.push(line);
        }
    }
    assert!(
        over.is_empty(),
        "over the README's memory bound:\n{}",
        over.join("\n")
    );
}
