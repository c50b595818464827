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

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};
use siliconflow::{ChatRequest, Client, FinishReason, Message, StreamEnd};

// ---- Allocation counting ------------------------------------------------------------------------------

/// Wraps the system allocator and counts allocations made while the calling thread has `COUNTING` set.
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// Never panics, also during thread teardown.
fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            REALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

// ---- CPU time of this thread --------------------------------------------------------------------------

#[cfg(target_os = "linux")]
mod cpu {
    use std::time::Duration;

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

    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }

    const RUSAGE_THREAD: i32 = 1;

    /// User and system CPU time of the calling thread (the server's threads are not included).
    pub fn thread_cpu() -> (Duration, Duration) {
        let mut usage = Rusage {
            ru_utime: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            ru_stime: Timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            rest: [0; 14],
        };
        // SAFETY: `usage` is a valid, writable `struct rusage` for 64-bit Linux.
        let rc = unsafe { getrusage(RUSAGE_THREAD, &mut usage) };
        assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD) failed");
        let time = |t: &Timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        (time(&usage.ru_utime), time(&usage.ru_stime))
    }
}

#[cfg(not(target_os = "linux"))]
mod cpu {
    use std::time::Duration;

    /// Not measured off Linux.
    pub fn thread_cpu() -> (Duration, Duration) {
        (Duration::ZERO, Duration::ZERO)
    }
}

// ---- Memory -------------------------------------------------------------------------------------------

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+); returns whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---- The recorded-style response ----------------------------------------------------------------------

const ID: &str = "019adf32d7eba732fab10a923ab85c0b";
const CREATED: u64 = 1764681242;
const MODEL: &str = "deepseek-ai/DeepSeek-R1";
const PROMPT_TOKENS: u64 = 294;

/// Token texts: (as written inside a JSON string, decoded). About one in five carries a JSON escape.
const TOKENS: &[(&str, &str)] = &[
    ("We", "We"),
    (" can", " can"),
    (" simply", " simply"),
    (" respond", " respond"),
    (" with", " with"),
    (" a", " a"),
    (" greeting", " greeting"),
    (".\\n", ".\n"),
    ("你好", "你好"),
    ("，", "，"),
    (" the", " the"),
    (" user", " user"),
    ("我们", "我们"),
    ("思考", "思考"),
    (" is", " is"),
    (" asking", " asking"),
    (" about", " about"),
    ("一下", "一下"),
    ("。", "。"),
    (" Rust", " Rust"),
    ("'s", "'s"),
    (" ownership", " ownership"),
    (" 😊", " 😊"),
    (" \\\"quoted\\\"", " \"quoted\""),
    (" C:\\\\path", " C:\\path"),
    (" caf\\u00e9", " café"),
    ("\\t{\\\"k\\\": [1, 2]}", "\t{\"k\": [1, 2]}"),
    (" \\ud83d\\ude00", " 😀"),
    (" model", " model"),
    ("?", "?"),
];

/// Appends one `data:` event in the shape of `tests/wire/siliconflow-deepseek-r1-reasoning.sse`.
fn push_event(
    out: &mut Vec<u8>,
    delta: &str,
    finish_reason: &str,
    completion: u64,
    reasoning: Option<u64>,
) {
    let total = PROMPT_TOKENS + completion;
    write!(
        out,
        "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
         \"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"delta\":{delta},\
         \"finish_reason\":{finish_reason}}}],\"system_fingerprint\":\"\",\
         \"usage\":{{\"prompt_tokens\":{PROMPT_TOKENS},\"completion_tokens\":{completion},\
         \"total_tokens\":{total}"
    )
    .expect("writing to a Vec");
    if let Some(reasoning) = reasoning {
        write!(
            out,
            ",\"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning}}}"
        )
        .expect("writing to a Vec");
    }
    out.extend_from_slice(b"}}\n\n");
}

const ROLE_DELTA: &str = r#"{"content":null,"reasoning_content":"","role":"assistant"}"#;
const FINISH_DELTA: &str = r#"{"content":"","reasoning_content":null}"#;
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

fn reasoning_delta(text: &str) -> String {
    format!(r#"{{"content":null,"reasoning_content":"{text}","role":"assistant"}}"#)
}

fn content_delta(text: &str) -> String {
    format!(r#"{{"content":"{text}","reasoning_content":null,"role":"assistant"}}"#)
}

/// Wraps one event in one HTTP/1.1 chunk.
fn push_http_chunk(out: &mut Vec<u8>, data: &[u8]) {
    write!(out, "{:x}\r\n", data.len()).expect("writing to a Vec");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The whole response body, generated once, in both framings, with the totals a reader must arrive at.
struct Body {
    /// The event stream as sent close-delimited.
    plain: Vec<u8>,
    /// The same events, one per HTTP chunk, then the last chunk.
    chunked: Vec<u8>,
    chunks: u64,
    reasoning_chunks: u64,
    content_chunks: u64,
    content_bytes: usize,
    reasoning_bytes: usize,
    completion_tokens: u64,
}

impl Body {
    /// `chunks` events: a role chunk, 60 % reasoning, 40 % content, a finish chunk; then `[DONE]`.
    fn generate(chunks: u64) -> Body {
        let text_chunks = chunks - 2;
        let reasoning_chunks = text_chunks * 3 / 5;
        let estimate = chunks as usize * 420;
        let mut body = Body {
            plain: Vec::with_capacity(estimate),
            chunked: Vec::with_capacity(estimate + chunks as usize * 8),
            chunks,
            reasoning_chunks,
            content_chunks: text_chunks - reasoning_chunks,
            content_bytes: 0,
            reasoning_bytes: 0,
            completion_tokens: text_chunks,
        };
        let mut event = Vec::with_capacity(1024);
        let emit = |body: &mut Body, event: &mut Vec<u8>| {
            body.plain.extend_from_slice(event);
            push_http_chunk(&mut body.chunked, event);
            event.clear();
        };
        push_event(&mut event, ROLE_DELTA, "null", 0, None);
        emit(&mut body, &mut event);
        for i in 0..text_chunks {
            let (json, text) = TOKENS[i as usize % TOKENS.len()];
            let completion = i + 1;
            if i < reasoning_chunks {
                body.reasoning_bytes += text.len();
                let delta = reasoning_delta(json);
                push_event(&mut event, &delta, "null", completion, Some(completion));
            } else {
                body.content_bytes += text.len();
                let delta = content_delta(json);
                push_event(
                    &mut event,
                    &delta,
                    "null",
                    completion,
                    Some(reasoning_chunks),
                );
            }
            emit(&mut body, &mut event);
        }
        push_event(
            &mut event,
            FINISH_DELTA,
            "\"stop\"",
            text_chunks,
            Some(reasoning_chunks),
        );
        emit(&mut body, &mut event);
        body.plain.extend_from_slice(DONE_EVENT);
        push_http_chunk(&mut body.chunked, DONE_EVENT);
        body.chunked.extend_from_slice(b"0\r\n\r\n");
        body
    }

    fn total_tokens(&self) -> u64 {
        PROMPT_TOKENS + self.completion_tokens
    }
}

// ---- The loopback server ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Framing {
    Chunked,
    Close,
}

impl Framing {
    fn name(self) -> &'static str {
        match self {
            Framing::Chunked => "chunked",
            Framing::Close => "close",
        }
    }
}

#[derive(Clone, Copy)]
struct Paced {
    events: u64,
    interval: Duration,
}

struct ServerState {
    body: Body,
    paced: Paced,
    /// The clock both sides measure latency against.
    base: Instant,
}

/// Starts the server; every connection gets a thread. Paths: `/{chunked|close}/{bulk|paced}/v1/...`.
fn start_server(state: Arc<ServerState>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(connection) = connection else { continue };
            let state = Arc::clone(&state);
            thread::spawn(move || {
                // A client that stops reading after `[DONE]` may reset the connection: not an error here.
                let _ = serve(connection, &state);
            });
        }
    });
    addr
}

/// Answers requests on one connection until the client closes it (chunked responses keep it alive).
fn serve(connection: TcpStream, state: &ServerState) -> io::Result<()> {
    connection.set_nodelay(true)?;
    let mut reader = BufReader::new(connection.try_clone()?);
    let mut writer = connection;
    let mut line = Vec::new();
    loop {
        // The request line, the headers, then exactly Content-Length bytes of body.
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let request_line = String::from_utf8_lossy(&line).into_owned();
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut content_length = 0usize;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let header = String::from_utf8_lossy(&line);
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut request_body = vec![0; content_length];
        reader.read_exact(&mut request_body)?;

        let framing = if path.starts_with("/chunked/") {
            Framing::Chunked
        } else {
            Framing::Close
        };
        let head: &[u8] = match framing {
            Framing::Chunked => {
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                  Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
            }
            Framing::Close => {
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                  Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
            }
        };
        writer.write_all(head)?;
        if path.contains("/paced/") {
            serve_paced(&mut writer, framing, state)?;
        } else {
            let bytes = match framing {
                Framing::Chunked => &state.body.chunked,
                Framing::Close => &state.body.plain,
            };
            for piece in bytes.chunks(64 * 1024) {
                writer.write_all(piece)?;
            }
        }
        if framing == Framing::Close {
            writer.flush()?;
            return writer.shutdown(Shutdown::Both);
        }
    }
}

/// A short stream whose text deltas are the server's send time (ns since `base`), one event per write.
fn serve_paced(writer: &mut TcpStream, framing: Framing, state: &ServerState) -> io::Result<()> {
    let mut event = Vec::with_capacity(1024);
    let mut frame = Vec::with_capacity(1024);
    let mut send = |event: &mut Vec<u8>, writer: &mut TcpStream| -> io::Result<()> {
        let bytes = match framing {
            Framing::Chunked => {
                frame.clear();
                push_http_chunk(&mut frame, event);
                &frame[..]
            }
            Framing::Close => &event[..],
        };
        writer.write_all(bytes)?;
        event.clear();
        Ok(())
    };
    let Paced { events, interval } = state.paced;
    let reasoning = events / 2;
    push_event(&mut event, ROLE_DELTA, "null", 0, None);
    send(&mut event, writer)?;
    let start = Instant::now();
    for i in 0..events {
        let due = start + interval * (i as u32 + 1);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let sent = state.base.elapsed().as_nanos().to_string();
        let completion = i + 1;
        if i < reasoning {
            let delta = reasoning_delta(&sent);
            push_event(&mut event, &delta, "null", completion, Some(completion));
        } else {
            let delta = content_delta(&sent);
            push_event(&mut event, &delta, "null", completion, Some(reasoning));
        }
        send(&mut event, writer)?;
    }
    push_event(
        &mut event,
        FINISH_DELTA,
        "\"stop\"",
        events,
        Some(reasoning),
    );
    send(&mut event, writer)?;
    event.extend_from_slice(DONE_EVENT);
    send(&mut event, writer)?;
    if framing == Framing::Chunked {
        writer.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}

// ---- The clients --------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reader {
    Sdk,
    Limit,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Sdk => "SDK",
            Reader::Limit => "limit",
        }
    }
}

/// What a client read; compared with [`Body`]'s expectations after the measured section.
#[derive(Debug, Default)]
struct Totals {
    deltas: u64,
    /// Sum of the lengths of every text handed out, so nothing is optimized away.
    touched: usize,
    content_bytes: usize,
    reasoning_bytes: usize,
    /// (completion, total, reasoning) tokens of the last usage; the limit does not parse usage.
    usage: Option<(u64, u64, Option<u64>)>,
}

fn sdk_client(addr: SocketAddr, framing: Framing, kind: &str) -> Client {
    Client::builder()
        .api_key("bench")
        .base_url(format!("http://{addr}/{}/{kind}/v1", framing.name()))
        .build()
        .expect("client")
}

fn chat_request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("hi")])
}

/// The SDK end to end: request, every delta, the accumulated texts and usage.
#[inline(never)]
fn sdk_bulk(client: &Client, request: &ChatRequest) -> Totals {
    let mut stream = client.chat_stream(request).expect("chat_stream");
    let mut totals = Totals::default();
    for delta in &mut stream {
        let delta = delta.expect("a delta");
        totals.deltas += 1;
        totals.touched += delta.content.as_ref().map_or(0, String::len);
        totals.touched += delta.reasoning_content.as_ref().map_or(0, String::len);
        black_box(&delta);
    }
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    assert_eq!(stream.finish_reason(), Some(&FinishReason::Stop));
    totals.content_bytes = stream.content().len();
    totals.reasoning_bytes = stream.reasoning_content().len();
    totals.usage = stream
        .usage()
        .map(|u| (u.completion_tokens, u.total_tokens, u.reasoning_tokens()));
    totals
}

/// The minimal borrowed chunk the limit parses.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow)]
    choices: Vec<Choice<'a>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    delta: Delta<'a>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    reasoning_content: Option<Cow<'a, str>>,
}

/// `Option<Cow<str>>` that really borrows. With plain `#[serde(borrow)]` serde borrows a bare `Cow<'a, str>`
/// field but not one inside an `Option`: that always allocates an owned `String` (checked: it did, one
/// allocation per text). A newtype around the `Cow` gets serde's borrowing path back.
fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(deserializer)?.map(|text| text.0))
}

/// `Transfer-Encoding: chunked` removed by hand, without copying: `fill_buf` hands out the inner buffer.
struct Dechunk<R> {
    inner: R,
    /// Bytes left in the current chunk.
    remaining: usize,
    /// A chunk's data has been consumed and its CRLF not yet.
    crlf_due: bool,
    done: bool,
    scratch: Vec<u8>,
}

impl<R: BufRead> Dechunk<R> {
    fn new(inner: R) -> Self {
        Dechunk {
            inner,
            remaining: 0,
            crlf_due: false,
            done: false,
            scratch: Vec::with_capacity(32),
        }
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        if self.crlf_due {
            self.scratch.clear();
            self.inner.read_until(b'\n', &mut self.scratch)?;
            if self.scratch != b"\r\n" {
                return Err(bad("chunk data not followed by CRLF"));
            }
            self.crlf_due = false;
        }
        self.scratch.clear();
        if self.inner.read_until(b'\n', &mut self.scratch)? == 0 {
            return Err(bad("eof before the last chunk"));
        }
        let digits = self
            .scratch
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let size = std::str::from_utf8(&self.scratch[..digits])
            .ok()
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .ok_or_else(|| bad("bad chunk size"))?;
        if size == 0 {
            self.done = true;
        }
        self.remaining = size;
        Ok(())
    }
}

impl<R: BufRead> Read for Dechunk<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Dechunk<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.remaining == 0 && !self.done {
            self.next_chunk()?;
        }
        if self.done {
            return Ok(&[]);
        }
        let remaining = self.remaining;
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(&buf[..buf.len().min(remaining)])
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.remaining -= amount;
        if self.remaining == 0 {
            self.crlf_due = true;
        }
    }
}

const REQUEST_BODY: &str = r#"{"model":"deepseek-ai/DeepSeek-R1","messages":[{"role":"user","content":"hi"}],"stream":true}"#;

/// Sends the request by hand and parses the response head; returns the reader and whether it is chunked.
fn limit_connect(addr: SocketAddr, framing: Framing, kind: &str) -> (BufReader<TcpStream>, bool) {
    let mut socket = TcpStream::connect(addr).expect("connect");
    let request = format!(
        "POST /{}/{kind}/v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer bench\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream\r\nAccept-Encoding: identity\r\nContent-Length: {}\r\n\r\n{}",
        framing.name(),
        REQUEST_BODY.len(),
        REQUEST_BODY
    );
    socket.write_all(request.as_bytes()).expect("send request");
    // ureq reads through a 128 KiB input buffer: the same read size keeps the syscall counts comparable.
    let mut reader = BufReader::with_capacity(128 * 1024, socket);
    let mut line = Vec::with_capacity(256);
    reader.read_until(b'\n', &mut line).expect("status line");
    assert!(
        line.starts_with(b"HTTP/1.1 200"),
        "status line {:?}",
        String::from_utf8_lossy(&line)
    );
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_until(b'\n', &mut line).expect("header line");
        let header = line.trim_ascii();
        if header.is_empty() {
            break;
        }
        if let Some(colon) = header.iter().position(|&b| b == b':') {
            let (name, value) = (&header[..colon], &header[colon + 1..]);
            if name.eq_ignore_ascii_case(b"transfer-encoding")
                && value.trim_ascii().eq_ignore_ascii_case(b"chunked")
            {
                chunked = true;
            }
        }
    }
    (reader, chunked)
}

/// Reads events up to `[DONE]`: a reused line buffer, `data: ` stripped, borrowed parse, two accumulators.
/// `on_text` sees every text as it arrives (the paced run timestamps it).
fn limit_events(
    mut reader: impl BufRead,
    totals: &mut Totals,
    mut on_text: impl FnMut(&str),
) -> (String, String) {
    let mut line = Vec::with_capacity(4096);
    let (mut content, mut reasoning) = (String::new(), String::new());
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).expect("read") == 0 {
            panic!("the body ended before [DONE]");
        }
        let Some(data) = line.trim_ascii_end().strip_prefix(b"data: ") else {
            continue;
        };
        if data == b"[DONE]" {
            break;
        }
        let chunk: Chunk<'_> = serde_json::from_slice(data).expect("a chunk");
        for choice in chunk.choices {
            totals.deltas += 1;
            if let Some(text) = choice.delta.content {
                totals.touched += text.len();
                content.push_str(&text);
                on_text(&text);
            }
            if let Some(text) = choice.delta.reasoning_content {
                totals.touched += text.len();
                reasoning.push_str(&text);
                on_text(&text);
            }
        }
    }
    (content, reasoning)
}

/// The raw limit over the bulk stream.
#[inline(never)]
fn limit_bulk(addr: SocketAddr, framing: Framing) -> Totals {
    let (reader, chunked) = limit_connect(addr, framing, "bulk");
    assert_eq!(chunked, framing == Framing::Chunked);
    let mut totals = Totals::default();
    let (content, reasoning) = if chunked {
        limit_events(Dechunk::new(reader), &mut totals, |_| {})
    } else {
        limit_events(reader, &mut totals, |_| {})
    };
    totals.content_bytes = content.len();
    totals.reasoning_bytes = reasoning.len();
    totals
}

// ---- Measurement --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    user: Duration,
    sys: Duration,
    allocs: u64,
    reallocs: u64,
    /// VmHWM growth during the run (VmHWM reset to the current RSS just before it), KiB.
    rss_growth_kib: u64,
    /// VmHWM at the end of the run, KiB.
    hwm_kib: u64,
}

/// Runs `f` on this thread with CPU time, allocations and peak RSS measured around it.
fn measure(f: impl FnOnce() -> Totals) -> (Sample, Totals) {
    let reset = reset_peak_rss();
    let hwm_before = if reset {
        status_kib("VmHWM")
    } else {
        status_kib("VmRSS")
    };
    ALLOCS.store(0, Relaxed);
    REALLOCS.store(0, Relaxed);
    let (user0, sys0) = cpu::thread_cpu();
    let start = Instant::now();
    COUNTING.with(|c| c.set(true));
    let totals = f();
    COUNTING.with(|c| c.set(false));
    let wall = start.elapsed();
    let (user1, sys1) = cpu::thread_cpu();
    let hwm_after = status_kib("VmHWM");
    let sample = Sample {
        wall,
        user: user1 - user0,
        sys: sys1 - sys0,
        allocs: ALLOCS.load(Relaxed),
        reallocs: REALLOCS.load(Relaxed),
        rss_growth_kib: hwm_after.saturating_sub(hwm_before),
        hwm_kib: hwm_after,
    };
    (sample, totals)
}

fn check(reader: Reader, framing: Framing, totals: &Totals, body: &Body) {
    let what = format!("{} over {}", reader.name(), framing.name());
    assert_eq!(totals.deltas, body.chunks, "{what}: deltas");
    assert_eq!(totals.content_bytes, body.content_bytes, "{what}: content");
    assert_eq!(
        totals.reasoning_bytes, body.reasoning_bytes,
        "{what}: reasoning"
    );
    assert_eq!(
        totals.touched,
        body.content_bytes + body.reasoning_bytes,
        "{what}: texts handed out"
    );
    if reader == Reader::Sdk {
        assert_eq!(
            totals.usage,
            Some((
                body.completion_tokens,
                body.total_tokens(),
                Some(body.reasoning_chunks)
            )),
            "{what}: usage"
        );
    }
}

/// One measured bulk run.
fn bulk_run(reader: Reader, framing: Framing, addr: SocketAddr, body: &Body) -> Sample {
    let (sample, totals) = match reader {
        Reader::Sdk => {
            // Built outside the measured section; a fresh client (and connection) per run.
            let client = sdk_client(addr, framing, "bulk");
            let request = chat_request();
            measure(|| sdk_bulk(&client, &request))
        }
        Reader::Limit => measure(|| limit_bulk(addr, framing)),
    };
    check(reader, framing, &totals, body);
    sample
}

/// One paced stream: the send-to-delivery latency (ns) of each text delta, and the reading thread's CPU
/// time from the first text delta to the last (so per event, with cold caches, as in real use).
fn paced_run(
    reader: Reader,
    framing: Framing,
    addr: SocketAddr,
    state: &ServerState,
) -> (Vec<u64>, Duration, Duration) {
    let mut latencies = Vec::with_capacity(state.paced.events as usize);
    let base = state.base;
    let mut cpu_first = None;
    let mut cpu_last = (Duration::ZERO, Duration::ZERO);
    let mut record = |text: &str| {
        let now = base.elapsed().as_nanos() as u64;
        if text.is_empty() {
            return; // the role chunk's `reasoning_content: ""`, the finish chunk's `content: ""`
        }
        let sent: u64 = text.parse().expect("a send time");
        latencies.push(now.saturating_sub(sent));
        cpu_last = cpu::thread_cpu();
        cpu_first.get_or_insert(cpu_last);
    };
    match reader {
        Reader::Sdk => {
            let client = sdk_client(addr, framing, "paced");
            let mut stream = client.chat_stream(&chat_request()).expect("chat_stream");
            for delta in &mut stream {
                let delta = delta.expect("a delta");
                if let Some(text) = delta
                    .content
                    .as_deref()
                    .or(delta.reasoning_content.as_deref())
                {
                    record(text);
                }
            }
            assert_eq!(stream.end(), Some(StreamEnd::Done));
        }
        Reader::Limit => {
            let (socket, chunked) = limit_connect(addr, framing, "paced");
            let mut totals = Totals::default();
            if chunked {
                limit_events(Dechunk::new(socket), &mut totals, &mut record);
            } else {
                limit_events(socket, &mut totals, &mut record);
            }
        }
    }
    assert_eq!(latencies.len() as u64, state.paced.events);
    let first = cpu_first.unwrap_or(cpu_last);
    (latencies, cpu_last.0 - first.0, cpu_last.1 - first.1)
}

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
