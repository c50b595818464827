//! Review 3: the accumulation bound counts text by length, while the accumulated `String`s grow by
//! amortized doubling (`push_str`), so the texts can take nearly twice `max_accumulated_size`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; the counters are arithmetic only.
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

use siliconflow::{ChatStream, StreamLimits};

const MIB: usize = 1024 * 1024;

/// The counters are process-wide: one measurement at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// 15 texts (content and reasoning of 8 choices, less one), each pushed 17 times 60,000 bytes: 1.02 MB of
/// text each (15.3 MB in all, under a 16 MiB bound), in `String`s that double to 32 x 60,000 = 1.92 MB.
#[test]
fn accumulated_text_grows_past_the_bound_by_string_doubling() {
    let _serial = serial();
    const PIECE: usize = 60_000;
    const MAX_EVENT: usize = 64 * 1024;
    const MAX_ACC: usize = 16 * MIB;
    let piece = "a".repeat(PIECE);
    let mut body = String::new();
    let mut texts = 0;
    'outer: for choice in 0..8 {
        for field in ["content", "reasoning_content"] {
            if texts == 15 {
                break 'outer;
            }
            texts += 1;
            for _ in 0..17 {
                body += &format!(
                    "data: {{\"choices\":[{{\"index\":{choice},\"delta\":{{\"{field}\":\"{piece}\"}}}}]}}\n\n"
                );
            }
        }
    }
    for choice in 0..8 {
        body += &format!(
            "data: {{\"choices\":[{{\"index\":{choice},\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
        );
    }
    body += "data: [DONE]\n\n";
    let limits = StreamLimits::default()
        .max_event_size(MAX_EVENT)
        .max_accumulated_size(Some(MAX_ACC));

    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let mut stream = ChatStream::from_reader(body.as_bytes()).with_limits(limits);
    let mut error = None;
    while let Some(delta) = stream.next_ref() {
        if let Err(e) = delta {
            error = Some(e);
            break;
        }
    }
    let peak = PEAK.load(Ordering::SeqCst) - base;
    let held: usize = stream
        .choices()
        .iter()
        .map(|c| c.content().len() + c.reasoning_content().len())
        .sum();
    drop(stream);
    let bound = 5 * MAX_EVENT + MAX_ACC;
    println!(
        "error {error:?}; text held {} KiB; peak heap growth {} KiB; README bound {} KiB",
        held / 1024,
        peak / 1024,
        bound / 1024
    );
    // A stream the bound accepts (the text is under it)...
    assert!(error.is_none(), "{error:?}");
    // ...must stay within "about five times max_event_size plus max_accumulated_size".
    assert!(
        peak <= bound,
        "peak heap growth {} KiB over the README bound {} KiB for {} KiB of accepted text",
        peak / 1024,
        bound / 1024,
        held / 1024
    );
}

/// The kept metadata (id, model, system_fingerprint, usage) is counted against the accumulation bound at
/// its *current length* (`ChunkMeta::held_after`), but each is replaced in place (`set_text`,
/// `UsageSlot::set_raw`: `clear` + `push_str`), which keeps the largest capacity ever used. A server that
/// sends each once at nearly `max_event_size` and then small ones leaves ~4 x `max_event_size` allocated
/// and uncounted, so the whole accumulation bound is still available for text.
#[test]
fn replaced_metadata_keeps_its_capacity_uncounted() {
    let _serial = serial();
    const MAX_EVENT: usize = MIB;
    const MAX_ACC: usize = 4 * MIB;
    let pad = "p".repeat(MAX_EVENT - 300);
    let small_usage = r#"{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}"#;
    let mut body = String::new();
    body += &format!("data: {{\"id\":\"{pad}\",\"choices\":[]}}\n\n");
    body += &format!("data: {{\"id\":\"x\",\"model\":\"{pad}\",\"choices\":[]}}\n\n");
    body += &format!("data: {{\"model\":\"m\",\"system_fingerprint\":\"{pad}\",\"choices\":[]}}\n\n");
    body += &format!(
        "data: {{\"system_fingerprint\":\"f\",\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2,\"x\":\"{pad}\"}},\"choices\":[]}}\n\n"
    );
    body += &format!("data: {{\"usage\":{small_usage},\"choices\":[]}}\n\n");
    // Text up to the bound: 4 pieces that fill the content's capacity exactly (c, 2c, 4c).
    for _ in 0..4 {
        body += &format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{pad}\"}}}}]}}\n\n"
        );
    }
    body += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    body += "data: [DONE]\n\n";
    let limits = StreamLimits::default()
        .max_event_size(MAX_EVENT)
        .max_accumulated_size(Some(MAX_ACC));

    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let reader = std::io::BufReader::with_capacity(64 * 1024, body.as_bytes());
    let mut stream = ChatStream::from_reader(reader).with_limits(limits);
    let mut error = None;
    while let Some(delta) = stream.next_ref() {
        if let Err(e) = delta {
            error = Some(e);
            break;
        }
    }
    let peak = PEAK.load(Ordering::SeqCst) - base;
    let retained = LIVE.load(Ordering::SeqCst).saturating_sub(base);
    let content = stream.content().len();
    drop(stream);
    let bound = 5 * MAX_EVENT + MAX_ACC;
    println!(
        "error {error:?}; content {} KiB; peak heap growth {} KiB; held at the end {} KiB; README bound {} KiB",
        content / 1024,
        peak / 1024,
        retained / 1024,
        bound / 1024
    );
    assert!(error.is_none(), "{error:?}");
    assert!(
        peak <= bound,
        "peak heap growth {} KiB over the README bound {} KiB (5 x max_event_size + max_accumulated_size)",
        peak / 1024,
        bound / 1024
    );
}
