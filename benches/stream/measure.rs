//! Measuring one run: CPU time of the reading thread, allocations counted on it, peak RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::clients::Totals;

// ---- Allocation counting ------------------------------------------------------------------------------

/// Wraps the system allocator: counts the allocations of a thread that asks for it ([`set_counting`]),
/// and tracks the heap of a thread that asks for it ([`track_heap`]).
pub(crate) struct CountingAlloc;

pub(crate) static ALLOCS: AtomicU64 = AtomicU64::new(0);
pub(crate) static REALLOCS: AtomicU64 = AtomicU64::new(0);

/// What this thread's allocations are counted in: allocation counts (bulk runs), and its heap (scale).
#[derive(Clone, Copy)]
struct Counts {
    /// Count allocations into `ALLOCS` and `REALLOCS`.
    counting: bool,
    /// Track the bytes this thread has allocated and not freed, and their peak.
    heap: bool,
    live: i64,
    peak: i64,
}

thread_local! {
    static COUNTS: Cell<Counts> = const {
        Cell::new(Counts {
            counting: false,
            heap: false,
            live: 0,
            peak: 0,
        })
    };
}

/// Notes an allocation (`bytes` < 0: a free) on this thread, in one thread-local access; returns whether
/// allocations are being counted. Never panics, also during thread teardown.
fn note(bytes: i64) -> bool {
    COUNTS
        .try_with(|cell| {
            let mut counts = cell.get();
            if counts.heap {
                counts.live += bytes;
                counts.peak = counts.peak.max(counts.live);
                cell.set(counts);
            }
            counts.counting
        })
        .unwrap_or(false)
}

/// Counts this thread's allocations (or stops).
pub(crate) fn set_counting(on: bool) {
    COUNTS.with(|cell| {
        let mut counts = cell.get();
        counts.counting = on;
        cell.set(counts);
    });
}

/// Starts tracking this thread's heap from zero.
pub(crate) fn track_heap() {
    COUNTS.with(|cell| {
        let mut counts = cell.get();
        (counts.heap, counts.live, counts.peak) = (true, 0, 0);
        cell.set(counts);
    });
}

/// The peak of this thread's heap since [`track_heap`]: what it allocated and had not freed yet.
pub(crate) fn heap_peak() -> i64 {
    COUNTS.with(|cell| cell.get().peak)
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if note(layout.size() as i64) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if note(layout.size() as i64) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if note(new_size as i64 - layout.size() as i64) {
            REALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
pub(crate) static GLOBAL: CountingAlloc = CountingAlloc;

// ---- CPU time of this thread --------------------------------------------------------------------------

/// CPU time of the calling thread: the exact total, and the kernel's user/system split.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpuTimes {
    /// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: the scheduler's runtime of the thread, to the nanosecond.
    pub(crate) total: Duration,
    /// `getrusage(RUSAGE_THREAD)`: the split, apportioned from tick samples (on this VM its sum lags the
    /// exact total by up to a few milliseconds, so it is only used for the share of system time).
    pub(crate) user: Duration,
    pub(crate) sys: Duration,
}

impl std::ops::Sub for CpuTimes {
    type Output = CpuTimes;

    fn sub(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            total: self.total.saturating_sub(earlier.total),
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

impl CpuTimes {
    /// The share of system time, from the kernel's split.
    pub(crate) fn sys_share(&self) -> f64 {
        self.sys.as_secs_f64() / (self.user + self.sys).as_secs_f64().max(1e-9)
    }
}

#[cfg(target_os = "linux")]
pub(crate) mod cpu {
    use std::time::Duration;

    use super::CpuTimes;

    #[repr(C)]
    struct Timeval {
        tv_sec: i64,
        tv_usec: i64,
    }

    #[repr(C)]
    struct Rusage {
        ru_utime: Timeval,
        ru_stime: Timeval,
        rest: [i64; 14],
    }

    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }

    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }

    const RUSAGE_THREAD: i32 = 1;
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

    /// CPU time of the calling thread (the server's threads are not included).
    pub fn thread_cpu() -> CpuTimes {
        let zero = || Timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let mut usage = Rusage {
            ru_utime: zero(),
            ru_stime: zero(),
            rest: [0; 14],
        };
        let mut now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: both are valid, writable `struct rusage` / `struct timespec` for 64-bit Linux.
        let (rc, clock) = unsafe {
            (
                getrusage(RUSAGE_THREAD, &mut usage),
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut now),
            )
        };
        assert_eq!((rc, clock), (0, 0), "getrusage / clock_gettime failed");
        let time = |t: &Timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        CpuTimes {
            total: Duration::new(now.tv_sec as u64, now.tv_nsec as u32),
            user: time(&usage.ru_utime),
            sys: time(&usage.ru_stime),
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) mod cpu {
    use super::CpuTimes;

    /// Not measured off Linux.
    pub fn thread_cpu() -> CpuTimes {
        CpuTimes::default()
    }
}

// ---- Memory -------------------------------------------------------------------------------------------

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
pub(crate) fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+); returns whether it worked.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---- Measurement --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    pub(crate) cpu: CpuTimes,
    pub(crate) allocs: u64,
    pub(crate) reallocs: u64,
    /// VmHWM growth during the run (VmHWM reset to the current RSS just before it), KiB.
    pub(crate) rss_growth_kib: u64,
    /// VmHWM at the end of the run, KiB.
    pub(crate) hwm_kib: u64,
}

/// Runs `f` on this thread with CPU time, allocations and peak RSS measured around it.
pub(crate) fn measure(f: impl FnOnce() -> Totals) -> (Sample, Totals) {
    let reset = reset_peak_rss();
    let hwm_before = if reset {
        status_kib("VmHWM")
    } else {
        status_kib("VmRSS")
    };
    ALLOCS.store(0, Relaxed);
    REALLOCS.store(0, Relaxed);
    let cpu0 = cpu::thread_cpu();
    let start = Instant::now();
    set_counting(true);
    let totals = f();
    set_counting(false);
    let wall = start.elapsed();
    let cpu = cpu::thread_cpu() - cpu0;
    let hwm_after = status_kib("VmHWM");
    let sample = Sample {
        wall,
        cpu,
        allocs: ALLOCS.load(Relaxed),
        reallocs: REALLOCS.load(Relaxed),
        rss_growth_kib: hwm_after.saturating_sub(hwm_before),
        hwm_kib: hwm_after,
    };
    (sample, totals)
}
