//! Streaming benchmark: the SDK end to end against the raw limit of the same machine, in the same run.
//!
//! `cargo bench --bench stream` starts a loopback server (std only, threads on the server side) that
//! streams a pre-generated SiliconFlow-style DeepSeek-R1 response (a role chunk, reasoning chunks with
//! `content: null`, content chunks with `reasoning_content: null`, ASCII, CJK, emoji and JSON escapes,
//! cumulative `usage` on every chunk, a finish chunk, `[DONE]`) in two framings, `Transfer-Encoding:
//! chunked` (one event per HTTP chunk) and close-delimited, and reads it with
//!
//! - the SDK: `Client::chat_stream`, every delta iterated;
//! - the limit: a `TcpStream`, a hand-written request, hand-parsed head and chunked framing, one reused line
//!   buffer, and `serde_json::from_slice` into a minimal borrowed struct.
//!
//! It prints a Markdown table of chunks per second, CPU per chunk (this thread only, `getrusage`),
//! allocations per chunk (counted on this thread only), peak-RSS growth, and the latency each client adds to
//! a paced stream. See `benches/README.md` for the environment variables (`BENCH_CHUNKS`, `BENCH_RUNS`,
//! `BENCH_ONLY`, `BENCH_FRAMING`, `BENCH_PACED_EVENTS`, `BENCH_PACED_ROUNDS`, `BENCH_PACED_MS`) and how
//! to profile.

mod body;
mod clients;
mod measure;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use body::{Body, TOKENS};
use clients::{bulk_run, paced_run, Reader};
use measure::{status_kib, Sample};
use server::{start_server, Framing, Paced, ServerState};

// ---- Reporting ----------------------------------------------------------------------------------------

fn median<T: Copy + Ord>(values: &mut [T]) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (civil-from-days, proleptic Gregorian).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

struct Row {
    reader: Reader,
    framing: Framing,
    wall: Duration,
    cpu: Duration,
    sys: Duration,
    allocs: u64,
    reallocs: u64,
    rss_growth_kib: u64,
    hwm_kib: u64,
}

fn summarize(reader: Reader, framing: Framing, samples: &[Sample]) -> Row {
    let mut wall: Vec<_> = samples.iter().map(|s| s.wall).collect();
    let mut cpu: Vec<_> = samples.iter().map(|s| s.user + s.sys).collect();
    let mut sys: Vec<_> = samples.iter().map(|s| s.sys).collect();
    let mut allocs: Vec<_> = samples.iter().map(|s| s.allocs).collect();
    let mut reallocs: Vec<_> = samples.iter().map(|s| s.reallocs).collect();
    Row {
        reader,
        framing,
        wall: median(&mut wall),
        cpu: median(&mut cpu),
        sys: median(&mut sys),
        allocs: median(&mut allocs),
        reallocs: median(&mut reallocs),
        rss_growth_kib: samples.iter().map(|s| s.rss_growth_kib).max().unwrap_or(0),
        hwm_kib: samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0),
    }
}

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter): nothing to parse.
    let chunks = env_u64("BENCH_CHUNKS", 100_000).max(3);
    let runs = env_u64("BENCH_RUNS", 5).max(1) as usize;
    let only = match std::env::var("BENCH_ONLY").as_deref() {
        Ok("sdk") => Some(Reader::Sdk),
        Ok("limit") => Some(Reader::Limit),
        Ok(other) => panic!("BENCH_ONLY={other}: expected sdk or limit"),
        Err(_) => None,
    };
    let framings = match (only, std::env::var("BENCH_FRAMING").as_deref()) {
        (_, Ok("close")) => vec![Framing::Close],
        (Some(_), _) | (None, Ok("chunked")) => vec![Framing::Chunked],
        _ => vec![Framing::Chunked, Framing::Close],
    };
    let readers = match only {
        Some(reader) => vec![reader],
        None => vec![Reader::Sdk, Reader::Limit],
    };
    // The paced events of each variant are split over a few short streams, the variants taking turns,
    // so that a noisy neighbour on the shared machine lands on every variant alike.
    let paced_total = env_u64("BENCH_PACED_EVENTS", 200);
    let paced_rounds = env_u64("BENCH_PACED_ROUNDS", 5).clamp(1, paced_total.max(1));
    let paced = Paced {
        events: paced_total / paced_rounds,
        interval: Duration::from_millis(env_u64("BENCH_PACED_MS", 50)),
    };
    let run_paced = only.is_none() && paced.events > 0;

    let rss_start_kib = status_kib("VmRSS");
    let generated = Instant::now();
    let state = Arc::new(ServerState {
        body: Body::generate(chunks),
        paced,
        base: Instant::now(),
    });
    let generated = generated.elapsed();
    let body = &state.body;
    let addr = start_server(Arc::clone(&state));
    let rss_with_body_kib = status_kib("VmRSS");

    // Bulk runs, interleaved so drift on a shared machine spreads over every variant.
    let mut samples: Vec<(Reader, Framing, Vec<Sample>)> = Vec::new();
    for &framing in &framings {
        for &reader in &readers {
            samples.push((reader, framing, Vec::with_capacity(runs)));
        }
    }
    for _ in 0..runs {
        for (reader, framing, list) in &mut samples {
            list.push(bulk_run(*reader, *framing, addr, body));
        }
    }
    let rows: Vec<Row> = samples
        .iter()
        .map(|(reader, framing, list)| summarize(*reader, *framing, list))
        .collect();

    // Paced runs.
    let mut latency_rows = Vec::new();
    if run_paced {
        for &framing in &framings {
            for &reader in &readers {
                latency_rows.push((reader, framing, Vec::new(), Duration::ZERO, Duration::ZERO));
            }
        }
        for _ in 0..paced_rounds {
            for (reader, framing, latencies, user, sys) in &mut latency_rows {
                let (more, more_user, more_sys) = paced_run(*reader, *framing, addr, &state);
                latencies.extend(more);
                *user += more_user;
                *sys += more_sys;
            }
        }
        for (_, _, latencies, _, _) in &mut latency_rows {
            latencies.sort_unstable();
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
        "- {runs} runs per variant, interleaved; medians. CPU = user+sys of the reading thread only \
         (getrusage RUSAGE_THREAD; the server threads excluded). Allocations counted on the reading thread \
         only, request to last delta. RSS growth = VmHWM after the run minus RSS before it (VmHWM reset \
         per run), max over runs.\n"
    );
    let _ = writeln!(
        w,
        "| framing | client | chunks/s | wall ms | CPU ns/chunk | of which sys | allocs/chunk | \
         reallocs/chunk | RSS growth KiB | peak RSS MiB | SDK/limit wall | SDK/limit CPU |"
    );
    let _ = writeln!(
        w,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let n = body.chunks as f64;
    for row in &rows {
        let limit = rows
            .iter()
            .find(|r| r.framing == row.framing && r.reader == Reader::Limit);
        let (ratio_wall, ratio_cpu) = match (row.reader, limit) {
            (Reader::Sdk, Some(limit)) => (
                format!("{:.2}×", row.wall.as_secs_f64() / limit.wall.as_secs_f64()),
                format!(
                    "{:.2}×",
                    row.cpu.as_secs_f64() / limit.cpu.as_secs_f64().max(1e-9)
                ),
            ),
            _ => ("".to_string(), "".to_string()),
        };
        let _ = writeln!(
            w,
            "| {} | {} | {:.0} | {:.1} | {:.0} | {:.0} % | {:.3} | {:.3} | {} | {:.1} | {} | {} |",
            row.framing.name(),
            row.reader.name(),
            n / row.wall.as_secs_f64(),
            row.wall.as_secs_f64() * 1e3,
            row.cpu.as_secs_f64() * 1e9 / n,
            100.0 * row.sys.as_secs_f64() / row.cpu.as_secs_f64().max(1e-9),
            row.allocs as f64 / n,
            row.reallocs as f64 / n,
            row.rss_growth_kib,
            row.hwm_kib as f64 / 1024.0,
            ratio_wall,
            ratio_cpu
        );
    }
    if run_paced {
        let _ = writeln!(
            w,
            "\nAdded latency: {} paced text events per variant, {} ms apart, in {} streams of {} (the variants \
             take turns); one write per event, TCP_NODELAY; each carries the server's send time, taken just \
             before the write; latency = time the client holds the parsed delta − send time.\n",
            paced.events * paced_rounds,
            paced.interval.as_millis(),
            paced_rounds,
            paced.events
        );
        let _ = writeln!(
            w,
            "| framing | client | events | median µs | p90 µs | max µs | SDK − limit, median µs | \
             CPU µs/event (cold) | of which sys |"
        );
        let _ = writeln!(
            w,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        // CPU is measured from the first text delta of each stream to its last.
        let intervals = (paced.events.saturating_sub(1) * paced_rounds).max(1) as f64;
        for (reader, framing, latencies, user, sys) in &latency_rows {
            let limit_median = latency_rows
                .iter()
                .find(|(r, f, ..)| *r == Reader::Limit && f == framing)
                .map(|(_, _, l, ..)| percentile(l, 0.5));
            let added = match (reader, limit_median) {
                (Reader::Sdk, Some(limit)) => format!(
                    "{:+.1}",
                    (percentile(latencies, 0.5) as f64 - limit as f64) / 1e3
                ),
                _ => String::new(),
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {:.0} % |",
                framing.name(),
                reader.name(),
                latencies.len(),
                percentile(latencies, 0.5) as f64 / 1e3,
                percentile(latencies, 0.9) as f64 / 1e3,
                latencies.last().copied().unwrap_or(0) as f64 / 1e3,
                added,
                (*user + *sys).as_secs_f64() * 1e6 / intervals,
                100.0 * sys.as_secs_f64() / (*user + *sys).as_secs_f64().max(1e-9)
            );
        }
    }
    print!("{out}");
}
