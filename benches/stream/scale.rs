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
    /// Alternating rounds over the thread counts.
    pub(crate) rounds: u64,
}

/// One thread count's results.
pub(crate) struct ScaleRow {
    threads: usize,
    streams: u64,
    chunks: u64,
    /// Wall time, all rounds.
    wall: Duration,
    /// Chunks per second (the median over the rounds).
    rate: f64,
    /// CPU of the streaming threads, summed, over `cpu_chunks` chunks (the round with the median CPU per
    /// chunk).
    cpu: Duration,
    cpu_chunks: u64,
    /// The system share of the streaming threads' CPU (getrusage's split, summed over the threads).
    sys_share: f64,
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
    /// getrusage's user/system split of it (tick samples: summed over the threads, not per thread).
    user: Duration,
    sys: Duration,
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
                let used = cpu::thread_cpu() - start;
                ThreadRun {
                    streams,
                    chunks,
                    cpu: used.total,
                    user: used.user,
                    sys: used.sys,
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
        rate: runs.iter().map(|r| r.chunks).sum::<u64>() as f64 / wall.as_secs_f64(),
        cpu: runs.iter().map(|r| r.cpu).sum(),
        cpu_chunks: runs.iter().map(|r| r.chunks).sum(),
        sys_share: {
            let sys: Duration = runs.iter().map(|r| r.sys).sum();
            let user: Duration = runs.iter().map(|r| r.user).sum();
            sys.as_secs_f64() / (sys + user).as_secs_f64().max(1e-9)
        },
        connections: client.connections_opened(),
        heap_max: heaps.iter().copied().max().unwrap_or(0),
        heap_median: median(&mut heaps),
        rss_growth_kib,
    }
}

/// Runs every thread count, in `rounds` alternating rounds (the order reversed every other round), each
/// with its share of the chunks; returns one row per thread count, per-round values combined (medians of
/// rates, the largest counts and peaks).
pub(crate) fn run(addr: SocketAddr, workload: &Workload) -> Vec<ScaleRow> {
    let count = workload.threads.len();
    let share = Workload {
        threads: workload.threads.clone(),
        chunks: (workload.chunks / workload.rounds.max(1)).max(1),
        ..*workload
    };
    let mut per_count: Vec<Vec<ScaleRow>> = (0..count).map(|_| Vec::new()).collect();
    for round in 0..workload.rounds.max(1) {
        for k in 0..count {
            let k = if round % 2 == 0 { k } else { count - 1 - k };
            per_count[k].push(run_threads(addr, &share, workload.threads[k]));
        }
    }
    per_count.into_iter().filter_map(combine).collect()
}

/// One row from the rounds of one thread count.
fn combine(rows: Vec<ScaleRow>) -> Option<ScaleRow> {
    let first = rows.first()?;
    let threads = first.threads;
    // The round with the median CPU per chunk stands for the rates; counts and peaks are the largest.
    let mut by_cpu: Vec<(f64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.cpu.as_secs_f64() / r.chunks.max(1) as f64, i))
        .collect();
    let (_, middle) = median(&mut by_cpu);
    let mut rates: Vec<f64> = rows.iter().map(|r| r.rate).collect();
    let chosen = &rows[middle];
    Some(ScaleRow {
        threads,
        streams: rows.iter().map(|r| r.streams).sum(),
        chunks: rows.iter().map(|r| r.chunks).sum(),
        wall: rows.iter().map(|r| r.wall).sum(),
        rate: median(&mut rates),
        cpu: chosen.cpu,
        cpu_chunks: chosen.cpu_chunks,
        sys_share: chosen.sys_share,
        connections: rows.iter().map(|r| r.connections).max().unwrap_or(0),
        heap_median: rows.iter().map(|r| r.heap_median).max().unwrap_or(0),
        heap_max: rows.iter().map(|r| r.heap_max).max().unwrap_or(0),
        rss_growth_kib: rows.iter().map(|r| r.rss_growth_kib).max().unwrap_or(0),
    })
}

/// The scale table.
pub(crate) fn table(w: &mut String, workload: &Workload, rows: &[ScaleRow]) {
    let _ = writeln!(
        w,
        "\nScale: one `Client` (default settings) shared by N threads, each streaming back to back \
         rounds of {} short streams ({} chunks) and one long stream ({} chunks), chunked framing, \
         Iterator path, about {} chunks per thread count in {} alternating rounds (medians: the round \
         with the median CPU per chunk, the median rate; the largest counts and peaks). CPU = the \
         streaming threads' own CPU time, summed. Heap per stream = a streaming thread's peak of allocated-and-not-freed bytes (median, \
         max). RSS per stream = the process's peak RSS growth ÷ N (the server's thread per connection \
         included).\n",
        workload.shorts, workload.short, workload.long, workload.chunks, workload.rounds
    );
    let _ = writeln!(
        w,
        "| threads | streams | chunks | wall ms (all rounds) | chunks/s | CPU ns/chunk | CPU vs 1 thread | \
         of which sys | connections opened | heap per stream KiB (median, max) | RSS per stream KiB |"
    );
    let _ = writeln!(
        w,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let base = rows
        .first()
        .map(|r| r.cpu.as_secs_f64() / r.cpu_chunks.max(1) as f64);
    for row in rows {
        let per_chunk = row.cpu.as_secs_f64() / row.cpu_chunks.max(1) as f64;
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {:.0} % | {} | {:.0}, {:.0} | {:.0} |",
            row.threads,
            row.streams,
            row.chunks,
            row.wall.as_secs_f64() * 1e3,
            row.rate,
            per_chunk * 1e9,
            base.map_or(String::new(), |b| format!("{:.2}×", per_chunk / b)),
            100.0 * row.sys_share,
            row.connections,
            row.heap_median as f64 / 1024.0,
            row.heap_max as f64 / 1024.0,
            row.rss_growth_kib as f64 / row.threads as f64,
        );
    }
}
