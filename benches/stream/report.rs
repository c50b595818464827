//! Reporting: medians, paired ratios, and the Markdown tables.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clients::Reader;
use crate::measure::{CpuTimes, Sample};
use crate::server::Framing;

pub(crate) fn median<T: Copy + PartialOrd>(values: &mut [T]) -> T {
    values.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub(crate) fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

pub(crate) fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (civil-from-days, proleptic Gregorian).
pub(crate) fn utc_now() -> String {
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

/// The samples of one variant, in run order (run `i` of every variant ran in the same round, so they pair).
pub(crate) struct Variant {
    pub(crate) reader: Reader,
    pub(crate) framing: Framing,
    pub(crate) samples: Vec<Sample>,
}

impl Variant {
    fn cpu(&self) -> Vec<f64> {
        self.samples
            .iter()
            .map(|s| s.cpu.total.as_secs_f64())
            .collect()
    }
}

/// The paired ratios `a[i] / b[i]` of two variants' CPU times: median, and the 25th and 75th percentiles.
fn paired(a: &Variant, b: &Variant) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = a
        .cpu()
        .iter()
        .zip(b.cpu())
        .map(|(x, y)| x / y.max(1e-9))
        .collect();
    let mid = median(&mut ratios);
    let at = |p: f64| ratios[((ratios.len() as f64 - 1.0) * p).round() as usize];
    (mid, at(0.25), at(0.75))
}

fn ratio_cell(a: &Variant, b: Option<&Variant>) -> String {
    match b {
        Some(b) if a.reader != b.reader => {
            let (mid, low, high) = paired(a, b);
            format!("{mid:.2}× ({low:.2}–{high:.2})")
        }
        _ => String::new(),
    }
}

/// The bulk table: one row per variant, medians, and the paired CPU ratios to the floor and the limit.
pub(crate) fn bulk_table(w: &mut String, variants: &[Variant], chunks: u64) {
    let _ = writeln!(
        w,
        "| framing | client | chunks/s | CPU ns/chunk | of which sys | allocs/chunk | reallocs/chunk | \
         RSS growth KiB | peak RSS MiB | CPU ÷ floor, paired | CPU ÷ limit, paired |"
    );
    let _ = writeln!(
        w,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let n = chunks as f64;
    for v in variants {
        let find = |reader| {
            variants
                .iter()
                .find(|o| o.framing == v.framing && o.reader == reader)
        };
        let s = &v.samples;
        let mut wall: Vec<Duration> = s.iter().map(|s| s.wall).collect();
        let mut cpu: Vec<Duration> = s.iter().map(|s| s.cpu.total).collect();
        let mut sys: Vec<f64> = s.iter().map(|s| s.cpu.sys_share()).collect();
        let mut allocs: Vec<u64> = s.iter().map(|s| s.allocs).collect();
        let mut reallocs: Vec<u64> = s.iter().map(|s| s.reallocs).collect();
        let _ = writeln!(
            w,
            "| {} | {} | {:.0} | {:.0} | {:.0} % | {:.3} | {:.3} | {} | {:.1} | {} | {} |",
            v.framing.name(),
            v.reader.name(),
            n / median(&mut wall).as_secs_f64(),
            median(&mut cpu).as_secs_f64() * 1e9 / n,
            100.0 * median(&mut sys),
            median(&mut allocs) as f64 / n,
            median(&mut reallocs) as f64 / n,
            s.iter().map(|s| s.rss_growth_kib).max().unwrap_or(0),
            s.iter().map(|s| s.hwm_kib).max().unwrap_or(0) as f64 / 1024.0,
            ratio_cell(v, find(Reader::Floor)),
            ratio_cell(v, find(Reader::Limit)),
        );
    }
}

/// The paced latencies of one variant (sorted) and its reading thread's CPU between text deltas.
pub(crate) struct Latency {
    pub(crate) reader: Reader,
    pub(crate) framing: Framing,
    pub(crate) latencies: Vec<u64>,
    pub(crate) cpu: CpuTimes,
}

/// The latency table; `intervals` is the number of gaps between text deltas the CPU time covers.
pub(crate) fn latency_table(w: &mut String, rows: &[Latency], intervals: f64) {
    let _ = writeln!(
        w,
        "| framing | client | events | median µs | p90 µs | max µs | − limit, median µs | \
         CPU µs/event (cold) | of which sys |"
    );
    let _ = writeln!(
        w,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let limit_median = rows
            .iter()
            .find(|o| o.reader == Reader::Limit && o.framing == row.framing)
            .map(|o| percentile(&o.latencies, 0.5));
        let added = match limit_median {
            Some(limit) if row.reader != Reader::Limit => format!(
                "{:+.1}",
                (percentile(&row.latencies, 0.5) as f64 - limit as f64) / 1e3
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {:.0} % |",
            row.framing.name(),
            row.reader.name(),
            row.latencies.len(),
            percentile(&row.latencies, 0.5) as f64 / 1e3,
            percentile(&row.latencies, 0.9) as f64 / 1e3,
            row.latencies.last().copied().unwrap_or(0) as f64 / 1e3,
            added,
            row.cpu.total.as_secs_f64() * 1e6 / intervals,
            100.0 * row.cpu.sys_share()
        );
    }
}
