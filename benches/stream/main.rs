//! Streaming benchmark: the SDK end to end against the floor ureq allows and the raw limit of the same
//! machine, in the same run; then one client shared by many threads.
//!
//! `cargo bench --bench stream` starts a loopback server (std only, threads on the server side) that
//! streams a pre-generated SiliconFlow-style DeepSeek-R1 response (a role chunk, reasoning chunks with
//! `content: null`, content chunks with `reasoning_content: null`, ASCII, CJK, emoji and JSON escapes,
//! cumulative `usage` on every chunk, a finish chunk, `[DONE]`) in two framings, `Transfer-Encoding:
//! chunked` (one event per HTTP chunk) and close-delimited, and reads it, in paired alternating rounds, with
//!
//! - the SDK: `Client::chat_stream`, every delta iterated, and every delta borrowed (`next_ref`);
//! - the ureq floor: ureq 3's `into_body().into_reader()` in a 64 KiB `BufReader`, then exactly the limit's
//!   consumer: what any client on ureq costs at least;
//! - the limit: a `TcpStream`, a hand-written request, hand-parsed head and chunked framing, one reused line
//!   buffer, and `serde_json::from_slice` into a minimal borrowed struct.
//!
//! It prints Markdown tables: chunks per second, CPU per chunk (this thread only) with paired ratios to the
//! floor and the limit, allocations per chunk (counted on this thread only), peak-RSS growth; the latency
//! each client adds to a paced stream; and the scale benchmark (`scale`). See `benches/README.md` for the
//! environment variables (`BENCH_CHUNKS`, `BENCH_RUNS`, `BENCH_ONLY`, `BENCH_FRAMING`, `BENCH_PACED_*`,
//! `BENCH_SCALE_*`) and how to profile.

mod body;
mod clients;
mod measure;
mod report;
mod scale;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use body::{Body, TOKENS};
use clients::{bulk_run, paced_run, Reader};
use measure::{status_kib, CpuTimes};
use report::{bulk_table, env_u64, latency_table, mib, utc_now, Latency, Variant};
use server::{start_server, Framing, Paced, ServerState};

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter): nothing to parse.
    let chunks = env_u64("BENCH_CHUNKS", 100_000).max(3);
    let runs = env_u64("BENCH_RUNS", 15).max(1) as usize;
    // `BENCH_ONLY=sdk` (one client, one framing, no paced stream: for profiling) or a list such as
    // `BENCH_ONLY=sdk,floor` (those clients, both framings unless `BENCH_FRAMING` says otherwise).
    let only: Option<Vec<Reader>> = std::env::var("BENCH_ONLY").ok().map(|names| {
        names
            .split(',')
            .map(|name| {
                Reader::ALL
                    .into_iter()
                    .find(|r| r.key() == name.trim())
                    .unwrap_or_else(|| {
                        panic!("BENCH_ONLY={name}: expected one of {:?}", Reader::keys())
                    })
            })
            .collect()
    });
    let single = only.as_ref().is_some_and(|o| o.len() == 1);
    let framings = match (single, std::env::var("BENCH_FRAMING").as_deref()) {
        (_, Ok("close")) => vec![Framing::Close],
        (true, _) | (false, Ok("chunked")) => vec![Framing::Chunked],
        _ => vec![Framing::Chunked, Framing::Close],
    };
    let readers = only.clone().unwrap_or_else(|| Reader::ALL.to_vec());
    // The paced events of each variant are split over a few short streams, the variants taking turns,
    // so that a noisy neighbour on the shared machine lands on every variant alike.
    let paced_total = env_u64("BENCH_PACED_EVENTS", 200);
    let paced_rounds = env_u64("BENCH_PACED_ROUNDS", 20).clamp(1, paced_total.max(1));
    let paced = Paced {
        events: paced_total / paced_rounds,
        interval: Duration::from_millis(env_u64("BENCH_PACED_MS", 50)),
    };
    let run_paced = !single && paced.events > 0;
    // The scale benchmark: `BENCH_SCALE_THREADS=` (empty) skips it.
    let scale_threads: Vec<usize> = std::env::var("BENCH_SCALE_THREADS")
        .unwrap_or_else(|_| "1,4,16,64".to_string())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    let workload = scale::Workload {
        threads: if single { Vec::new() } else { scale_threads },
        chunks: env_u64("BENCH_SCALE_CHUNKS", 1_000_000),
        short: env_u64("BENCH_SCALE_SHORT", 50).max(3),
        long: env_u64("BENCH_SCALE_LONG", 2_000).max(3),
        shorts: env_u64("BENCH_SCALE_SHORTS", 9),
        rounds: env_u64("BENCH_SCALE_ROUNDS", 3).max(1),
    };

    let rss_start_kib = status_kib("VmRSS");
    let generated = Instant::now();
    let state = Arc::new(ServerState {
        body: Body::generate(chunks),
        scale_short: Body::generate(workload.short),
        scale_long: Body::generate(workload.long),
        paced,
        base: Instant::now(),
    });
    let generated = generated.elapsed();
    let body = &state.body;
    let addr = start_server(Arc::clone(&state));
    let rss_with_body_kib = status_kib("VmRSS");

    // Bulk runs: in every round each variant runs once, the order reversed every other round, so drift on
    // a shared machine lands on every variant alike and run `i` of one variant pairs with run `i` of
    // another.
    let mut variants: Vec<Variant> = Vec::new();
    for &framing in &framings {
        for &reader in &readers {
            variants.push(Variant {
                reader,
                framing,
                samples: Vec::with_capacity(runs),
            });
        }
    }
    for round in 0..runs {
        let count = variants.len();
        for k in 0..count {
            let v = &mut variants[if round % 2 == 0 { k } else { count - 1 - k }];
            v.samples.push(bulk_run(v.reader, v.framing, addr, body));
        }
    }

    // Paced runs (the floor is left out: its latency is the limit's plus ureq's, not the question).
    let mut latency_rows = Vec::new();
    if run_paced {
        for &framing in &framings {
            for &reader in readers.iter().filter(|r| **r != Reader::Floor) {
                latency_rows.push(Latency {
                    reader,
                    framing,
                    latencies: Vec::new(),
                    cpu: CpuTimes::default(),
                });
            }
        }
        for _ in 0..paced_rounds {
            for row in &mut latency_rows {
                let (more, cpu) = paced_run(row.reader, row.framing, addr, &state);
                row.latencies.extend(more);
                row.cpu.total += cpu.total;
                row.cpu.user += cpu.user;
                row.cpu.sys += cpu.sys;
            }
        }
        for row in &mut latency_rows {
            row.latencies.sort_unstable();
        }
    }

    // The report.
    let threads = thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "## siliconflow streaming benchmark\n");
    let _ = writeln!(
        w,
        "- date: {}; nproc: {threads}; machine: 2 cores, shared",
        utc_now()
    );
    let _ = writeln!(
        w,
        "- stream: {} chunks per run (1 role, {} reasoning with `content: null`, {} content with \
         `reasoning_content: null`, 1 finish) + `[DONE]`; cumulative usage on every chunk; {} of {} \
         token texts carry JSON escapes",
        body.chunks,
        body.reasoning_chunks,
        body.content_chunks,
        TOKENS.iter().filter(|(json, _)| json.contains('\\')).count(),
        TOKENS.len()
    );
    let _ = writeln!(
        w,
        "- body: {:.1} MiB close-delimited, {:.1} MiB chunked (one event per HTTP chunk), {:.0} bytes per \
         event; generated in {:.2} s and held in memory by the server (RSS {:.1} MiB before it, {:.1} MiB \
         after: subtract this from the peak RSS below)",
        mib(body.plain.len()),
        mib(body.chunked.len()),
        body.plain.len() as f64 / body.chunks as f64,
        generated.as_secs_f64(),
        rss_start_kib as f64 / 1024.0,
        rss_with_body_kib as f64 / 1024.0
    );
    let _ = writeln!(
        w,
        "- accumulated text per run: {} bytes content + {} bytes reasoning = {:.2} MiB (checked equal for \
         every client, with the SDK's final usage {} / {} tokens, {} reasoning)",
        body.content_bytes,
        body.reasoning_bytes,
        mib(body.content_bytes + body.reasoning_bytes),
        body.completion_tokens,
        body.total_tokens(),
        body.reasoning_chunks
    );
    let _ = writeln!(
        w,
        "- {runs} runs per variant in alternating rounds; medians. CPU = the reading thread's own CPU time \
         (clock_gettime CLOCK_THREAD_CPUTIME_ID; the server threads excluded; the system share from \
         getrusage RUSAGE_THREAD). The ratios are paired: the median \
         (and quartiles) over the rounds of one variant's CPU time ÷ the other's in the same round. \
         Allocations counted on the reading thread only, request to last delta. RSS growth = VmHWM after \
         the run minus RSS before it (VmHWM reset per run), max over runs.\n"
    );
    bulk_table(w, &variants, body.chunks);
    if run_paced {
        let _ = writeln!(
            w,
            "\nAdded latency: {} paced text events per variant, {} ms apart, in {} streams of {} (the \
             variants take turns); one write per event, TCP_NODELAY; each carries the server's send time, \
             taken just before the write; latency = time the client holds the parsed delta − send time.\n",
            paced.events * paced_rounds,
            paced.interval.as_millis(),
            paced_rounds,
            paced.events
        );
        // CPU is measured from the first text delta of each stream to its last.
        let intervals = (paced.events.saturating_sub(1) * paced_rounds).max(1) as f64;
        latency_table(w, &latency_rows, intervals);
    }
    if !workload.threads.is_empty() {
        let rows = scale::run(addr, &workload);
        scale::table(w, &workload, &rows);
    }
    print!("{out}");
}
