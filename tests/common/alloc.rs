//! A counting global allocator for the memory tests: the live heap bytes of the process and their peak,
//! exact whatever the allocator keeps resident. A test binary installs it with
//! `#[global_allocator] static ALLOCATOR: common::alloc::Counting = common::alloc::Counting;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts into [`LIVE`] and [`PEAK`], forwarding every call to the system allocator.
pub struct Counting;

/// The live heap bytes.
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most live heap bytes since the last [`reset_peak`].
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Starts a new peak from the current live bytes, and returns them.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::SeqCst);
    PEAK.store(live, Ordering::SeqCst);
    live
}

/// The peak since the last [`reset_peak`] above `base`, in bytes.
pub fn peak_above(base: usize) -> usize {
    PEAK.load(Ordering::SeqCst).saturating_sub(base)
}

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
