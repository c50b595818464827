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

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts the live heap bytes of the process and their peak: exact, whatever the allocator keeps resident.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are only arithmetic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

/// Serves `body` once (with `head` before it) from a buffer built before the measurement starts.
fn serve(head: String, body: Arc<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<SeenRequest>>) {
    raw_server(1, move |_, _, stream| {
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
    head: String,
    body: Vec<u8>,
    /// Consumes the answer with the client; returns the error it ended with, if any.
    run: fn(&Client) -> Option<Error>,
    /// What the error must be.
    expect: fn(&Option<Error>) -> bool,
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
            name: "one 8 MiB event of 2.7 million empty choices",
            head: sse_head(),
            body: event(&format!("{{\"choices\":[{}{{}}]}}", "{},".repeat(2_700_000))).into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::TooManyChoices { .. } | Error::EventTooLarge { .. })),
        },
        Case {
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
            name: "a 64 MiB line",
            head: sse_head(),
            body: format!("data: {}\n\n", "x".repeat(64 * MIB)).into_bytes(),
            run: stream_all,
            expect: |e| matches!(e, Some(Error::EventTooLarge { limit: MAX_EVENT })),
        },
        Case {
            name: "chat(): an 8 MiB completion of 100,000 choices",
            head: String::new(),
            body: {
                let choice = r#"{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}"#;
                format!(r#"{{"choices":[{}{choice}]}}"#, format!("{choice},").repeat(99_999)).into_bytes()
            },
            run: |c| c.chat(&request()).err(),
            expect: |e| e.is_none(),
        },
        Case {
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
            name: "list_files(): an 8 MiB list of tiny entries",
            head: String::new(),
            body: format!(r#"{{"object":"list","data":[{}{{}}]}}"#, "{},".repeat(2_700_000)).into_bytes(),
            run: |c| c.list_files(&siliconflow::FileListQuery::new()).err(),
            expect: |_| true,
        },
        Case {
            name: "list_voices(): an 8 MiB list of tiny entries",
            head: String::new(),
            body: format!(r#"{{"results":[{}{{}}]}}"#, "{},".repeat(2_700_000)).into_bytes(),
            run: |c| c.list_voices().err(),
            expect: |_| true,
        },
        Case {
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
            name: "get_batch(): an 8 MiB errors list",
            head: String::new(),
            body: format!(
                r#"{{"id":"b","status":"failed","errors":[{}"e"]}}"#,
                "\"e\",".repeat(2_000_000)
            )
            .into_bytes(),
            run: |c| c.get_batch("b").err(),
            expect: |_| true,
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
        let (base, server) = serve(case.head, Arc::clone(&body));
        // A small accumulation bound, as a user worried about memory would set.
        let client = builder(&base)
            .max_accumulated_size(Some(64 * 1024))
            .build()
            .unwrap();
        reset_peak();
        let before = rss_kib();
        let heap_before = LIVE.load(Ordering::SeqCst);
        PEAK.store(heap_before, Ordering::SeqCst);
        let error = (case.run)(&client);
        let heap = PEAK.load(Ordering::SeqCst).saturating_sub(heap_before) / MIB;
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
