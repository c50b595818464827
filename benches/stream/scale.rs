//! The scale benchmark: one `Client` shared by 1, 4, 16 and 64 threads, each running streams back to
//! back against the loopback server (many short streams and a few long ones).
//!
//! For each thread count it reports the aggregate chunks per second, the connections the client opened
//! (its pool should reuse one per thread), the CPU per chunk of the streaming threads, and the memory one
//! open stream costs: the peak heap of a streaming thread (what it allocated and had not freed: the
//! connection's buffers, the body reader, the accumulated text) and the process's peak RSS growth divided
//! by the thread count.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use siliconflow::{ChatRequest, Client, Message, StreamEnd};

use crate::measure::{cpu, heap_peak, reset_peak_rss, status_kib, track_heap};
use crate::report::median;

/// The workload: per thread, rounds of `shorts` short streams then one long one.
pub(crate) struct Workload {
    pub(crate) threads: Vec<usize>,
    /// Chunks streamed per thread count, shared among its threads.
    pub(crate) chunks: u64,
    pub(crate) short: u64,
    pub(crate) long: u64,
    pub(crate) shorts: u64,
}

/// One thread count's results.
pub(crate) struct ScaleRow {
    threads: usize,
    streams: u64,
    chunks: u64,
    wall: Duration,
    /// CPU of the streaming threads, summed.
    cpu: Duration,
    connections: u64,
    /// Median and largest per-thread heap peak, bytes.
    heap_median: i64,
    heap_max: i64,
    /// Peak RSS growth over the run, KiB.
    rss_growth_kib: u64,
}

/// What one streaming thread did.
struct ThreadRun {
    streams: u64,
    chunks: u64,
    cpu: Duration,
    heap: i64,
}

/// A client with the default settings (ureq's pool: at most 3 idle connections per host).
fn client(addr: SocketAddr) -> Client {
    Client::builder()
        .api_key("bench")
        .base_url(format!("http://{addr}/chunked/scale/v1"))
        .build()
        .expect("client")
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hi")])
}

/// One stream to its end; returns its chunks.
fn stream(client: &Client, request: &ChatRequest) -> u64 {
    let mut stream = client.chat_stream(request).expect("chat_stream");
    let mut chunks = 0;
    for delta in &mut stream {
        delta.expect("a delta");
        chunks += 1;
    }
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    chunks
}

fn run_threads(addr: SocketAddr, workload: &Workload, threads: usize) -> ScaleRow {
    let client = client(addr);
    let round = workload.shorts * workload.short + workload.long;
    let rounds = (workload.chunks / (threads as u64 * round)).max(1);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let rss_before = if reset_peak_rss() {
        status_kib("VmHWM")
    } else {
        status_kib("VmRSS")
    };
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (client, barrier) = (client.clone(), Arc::clone(&barrier));
            let expected = (workload.short, workload.long, workload.shorts);
            thread::spawn(move || {
                // The model name tells the server which stream to send.
                let (short, long) = (request("scale-short"), request("scale-long"));
                barrier.wait();
                track_heap();
                let start = cpu::thread_cpu();
                let (mut streams, mut chunks) = (0, 0);
                for _ in 0..rounds {
                    for _ in 0..expected.2 {
                        assert_eq!(stream(&client, &short), expected.0);
                        streams += 1;
                        chunks += expected.0;
                    }
                    assert_eq!(stream(&client, &long), expected.1);
                    streams += 1;
                    chunks += expected.1;
                }
                ThreadRun {
                    streams,
                    chunks,
                    cpu: (cpu::thread_cpu() - start).total,
                    heap: heap_peak(),
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let runs: Vec<ThreadRun> = handles
        .into_iter()
        .map(|h| h.join().expect("a streaming thread"))
        .collect();
    let wall = started.elapsed();
    let rss_growth_kib = status_kib("VmHWM").saturating_sub(rss_before);
    let mut heaps: Vec<i64> = runs.iter().map(|r| r.heap).collect();
    ScaleRow {
        threads,
        streams: runs.iter().map(|r| r.streams).sum(),
        chunks: runs.iter().map(|r| r.chunks).sum(),
        wall,
        cpu: runs.iter().map(|r| r.cpu).sum(),
        connections: client.connections_opened(),
        heap_max: heaps.iter().copied().max().unwrap_or(0),
        heap_median: median(&mut heaps),
        rss_growth_kib,
    }
}

/// Runs every thread count.
pub(crate) fn run(addr: SocketAddr, workload: &Workload) -> Vec<ScaleRow> {
    workload
        .threads
        .iter()
        .map(|&threads| run_threads(addr, workload, threads))
        .collect()
}

/// The scale table.
pub(crate) fn table(w: &mut String, workload: &Workload, rows: &[ScaleRow]) {
    let _ = writeln!(
        w,
        "\nScale: one `Client` (default settings) shared by N threads, each streaming back to back \
         rounds of {} short streams ({} chunks) and one long stream ({} chunks), chunked framing, \
         Iterator path, about {} chunks per thread count. CPU = the streaming threads' own CPU time, \
         summed. Heap per stream = a streaming thread's peak of allocated-and-not-freed bytes (median, \
         max). RSS per stream = the process's peak RSS growth ÷ N (the server's thread per connection \
         included).\n",
        workload.shorts, workload.short, workload.long, workload.chunks
    );
    let _ = writeln!(
        w,
        "| threads | streams | chunks | wall ms | chunks/s | CPU ns/chunk | CPU vs 1 thread | \
         connections opened | heap per stream KiB (median, max) | RSS per stream KiB |"
    );
    let _ = writeln!(
        w,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let base = rows
        .first()
        .map(|r| r.cpu.as_secs_f64() / r.chunks.max(1) as f64);
    for row in rows {
        let per_chunk = row.cpu.as_secs_f64() / row.chunks.max(1) as f64;
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {:.0}, {:.0} | {:.0} |",
            row.threads,
            row.streams,
            row.chunks,
            row.wall.as_secs_f64() * 1e3,
            row.chunks as f64 / row.wall.as_secs_f64(),
            per_chunk * 1e9,
            base.map_or(String::new(), |b| format!("{:.2}×", per_chunk / b)),
            row.connections,
            row.heap_median as f64 / 1024.0,
            row.heap_max as f64 / 1024.0,
            row.rss_growth_kib as f64 / row.threads as f64,
        );
    }
}
