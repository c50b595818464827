//! The clients: the SDK, the raw limit, and their runs (bulk and paced).

use std::borrow::Cow;
use std::hint::black_box;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde::{Deserialize, Deserializer};
use siliconflow::{ChatRequest, Client, FinishReason, Message, StreamEnd};

use crate::body::{Body, MODEL};
use crate::measure::{cpu, measure, CpuTimes, Sample};
use crate::server::{Framing, ServerState};

// ---- The clients --------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reader {
    /// `Client::chat_stream`, every delta iterated (the `Iterator` path).
    Sdk,
    /// `Client::chat_stream`, every delta borrowed with `ChatStream::next_ref` (the lending path).
    Lending,
    /// ureq 3's body reader in a 64 KiB `BufReader`, then exactly the limit's consumer.
    Floor,
    /// Raw socket, hand-written HTTP/1.1, the minimal consumer.
    Limit,
}

impl Reader {
    /// Every client, in the order of the report.
    pub(crate) const ALL: [Reader; 4] =
        [Reader::Sdk, Reader::Lending, Reader::Floor, Reader::Limit];

    /// The names `BENCH_ONLY` takes.
    pub(crate) fn keys() -> Vec<&'static str> {
        Reader::ALL.iter().map(|r| r.key()).collect()
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Reader::Sdk => "SDK",
            Reader::Lending => "SDK, next_ref",
            Reader::Floor => "ureq floor",
            Reader::Limit => "limit",
        }
    }

    /// The name `BENCH_ONLY` takes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Reader::Sdk => "sdk",
            Reader::Lending => "lending",
            Reader::Floor => "floor",
            Reader::Limit => "limit",
        }
    }
}

/// What a client read; compared with [`Body`]'s expectations after the measured section.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) deltas: u64,
    /// Sum of the lengths of every text handed out, so nothing is optimized away.
    pub(crate) touched: usize,
    pub(crate) content_bytes: usize,
    pub(crate) reasoning_bytes: usize,
    /// (completion, total, reasoning) tokens of the last usage; the limit does not parse usage.
    pub(crate) usage: Option<(u64, u64, Option<u64>)>,
}

pub(crate) fn sdk_client(addr: SocketAddr, framing: Framing, kind: &str) -> Client {
    Client::builder()
        .api_key("bench")
        .base_url(format!("http://{addr}/{}/{kind}/v1", framing.name()))
        .build()
        .expect("client")
}

pub(crate) fn chat_request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("hi")])
}

/// The SDK end to end: request, every delta, the accumulated texts and usage.
#[inline(never)]
pub(crate) fn sdk_bulk(client: &Client, request: &ChatRequest) -> Totals {
    let mut stream = client.chat_stream(request).expect("chat_stream");
    let mut totals = Totals::default();
    for delta in &mut stream {
        let delta = delta.expect("a delta");
        totals.deltas += 1;
        totals.touched += delta.content.as_ref().map_or(0, String::len);
        totals.touched += delta.reasoning_content.as_ref().map_or(0, String::len);
        black_box(&delta);
    }
    sdk_totals(&stream, totals)
}

/// The SDK's lending path: every delta borrowed from the stream (no allocation per chunk), the same
/// accumulation and checks.
#[inline(never)]
pub(crate) fn lending_bulk(client: &Client, request: &ChatRequest) -> Totals {
    let mut stream = client.chat_stream(request).expect("chat_stream");
    let mut totals = Totals::default();
    while let Some(delta) = stream.next_ref() {
        let delta = delta.expect("a delta");
        totals.deltas += 1;
        totals.touched += delta.content.map_or(0, str::len);
        totals.touched += delta.reasoning_content.map_or(0, str::len);
        black_box(&delta);
    }
    sdk_totals(&stream, totals)
}

/// Checks how an SDK stream ended and adds its accumulated texts and usage to `totals`.
fn sdk_totals(stream: &siliconflow::ChatStream, mut totals: Totals) -> Totals {
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
pub(crate) struct Chunk<'a> {
    #[serde(borrow)]
    pub(crate) choices: Vec<Choice<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct Choice<'a> {
    #[serde(borrow)]
    pub(crate) delta: Delta<'a>,
}

#[derive(Deserialize)]
pub(crate) struct Delta<'a> {
    #[serde(borrow, deserialize_with = "borrowed")]
    pub(crate) content: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "borrowed")]
    pub(crate) reasoning_content: Option<Cow<'a, str>>,
}

/// `Option<Cow<str>>` that really borrows. With plain `#[serde(borrow)]` serde borrows a bare `Cow<'a, str>`
/// field but not one inside an `Option`: that always allocates an owned `String` (checked: it did, one
/// allocation per text). A newtype around the `Cow` gets serde's borrowing path back.
pub(crate) fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(deserializer)?.map(|text| text.0))
}

/// `Transfer-Encoding: chunked` removed by hand, without copying: `fill_buf` hands out the inner buffer.
pub(crate) struct Dechunk<R> {
    pub(crate) inner: R,
    /// Bytes left in the current chunk.
    pub(crate) remaining: usize,
    /// A chunk's data has been consumed and its CRLF not yet.
    pub(crate) crlf_due: bool,
    pub(crate) done: bool,
    pub(crate) scratch: Vec<u8>,
}

impl<R: BufRead> Dechunk<R> {
    pub(crate) fn new(inner: R) -> Self {
        Dechunk {
            inner,
            remaining: 0,
            crlf_due: false,
            done: false,
            scratch: Vec::with_capacity(32),
        }
    }

    pub(crate) fn next_chunk(&mut self) -> io::Result<()> {
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

pub(crate) const REQUEST_BODY: &str = r#"{"model":"deepseek-ai/DeepSeek-R1","messages":[{"role":"user","content":"hi"}],"stream":true}"#;

/// Sends the request by hand and parses the response head; returns the reader and whether it is chunked.
pub(crate) fn limit_connect(
    addr: SocketAddr,
    framing: Framing,
    kind: &str,
) -> (BufReader<TcpStream>, bool) {
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
pub(crate) fn limit_events(
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

/// A plain ureq 3 agent (its defaults: 128 KiB input buffer, pooled connections), as any client on ureq
/// would start.
pub(crate) fn floor_agent() -> ureq::Agent {
    ureq::Agent::new_with_defaults()
}

/// The ureq floor over the bulk stream: ureq's request and response head, `into_body().into_reader()`
/// (ureq's de-chunker for the chunked framing) in a 64 KiB `BufReader`, then exactly the limit's consumer.
/// ureq's request and response head, then `into_body().into_reader()` (ureq's de-chunker for the chunked
/// framing) in a 64 KiB `BufReader`.
fn floor_reader(
    agent: &ureq::Agent,
    addr: SocketAddr,
    framing: Framing,
    kind: &str,
) -> BufReader<ureq::BodyReader<'static>> {
    let response = agent
        .post(format!(
            "http://{addr}/{}/{kind}/v1/chat/completions",
            framing.name()
        ))
        .header("Authorization", "Bearer bench")
        .header("Content-Type", "application/json")
        .header("Accept", "text/event-stream")
        .header("Accept-Encoding", "identity")
        .send(REQUEST_BODY)
        .expect("floor request");
    assert_eq!(response.status(), 200);
    BufReader::with_capacity(64 * 1024, response.into_body().into_reader())
}

/// The ureq floor over the bulk stream: [`floor_reader`], then exactly the limit's consumer.
#[inline(never)]
pub(crate) fn floor_bulk(agent: &ureq::Agent, addr: SocketAddr, framing: Framing) -> Totals {
    let reader = floor_reader(agent, addr, framing, "bulk");
    let mut totals = Totals::default();
    let (content, reasoning) = limit_events(reader, &mut totals, |_| {});
    totals.content_bytes = content.len();
    totals.reasoning_bytes = reasoning.len();
    totals
}

/// The raw limit over the bulk stream.
#[inline(never)]
pub(crate) fn limit_bulk(addr: SocketAddr, framing: Framing) -> Totals {
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

pub(crate) fn check(reader: Reader, framing: Framing, totals: &Totals, body: &Body) {
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
    if matches!(reader, Reader::Sdk | Reader::Lending) {
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
pub(crate) fn bulk_run(reader: Reader, framing: Framing, addr: SocketAddr, body: &Body) -> Sample {
    let (sample, totals) = match reader {
        Reader::Sdk => {
            // Built outside the measured section; a fresh client (and connection) per run.
            let client = sdk_client(addr, framing, "bulk");
            let request = chat_request();
            measure(|| sdk_bulk(&client, &request))
        }
        Reader::Lending => {
            let client = sdk_client(addr, framing, "bulk");
            let request = chat_request();
            measure(|| lending_bulk(&client, &request))
        }
        Reader::Floor => {
            let agent = floor_agent();
            measure(|| floor_bulk(&agent, addr, framing))
        }
        Reader::Limit => measure(|| limit_bulk(addr, framing)),
    };
    check(reader, framing, &totals, body);
    sample
}

/// One paced stream: the send-to-delivery latency (ns) of each text delta, and the reading thread's CPU
/// time from the first text delta to the last (so per event, with cold caches, as in real use).
pub(crate) fn paced_run(
    reader: Reader,
    framing: Framing,
    addr: SocketAddr,
    state: &ServerState,
) -> (Vec<u64>, CpuTimes) {
    let mut latencies = Vec::with_capacity(state.paced.events as usize);
    let base = state.base;
    let mut cpu_first = None;
    let mut cpu_last = CpuTimes::default();
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
        Reader::Lending => {
            let client = sdk_client(addr, framing, "paced");
            let mut stream = client.chat_stream(&chat_request()).expect("chat_stream");
            while let Some(delta) = stream.next_ref() {
                let delta = delta.expect("a delta");
                if let Some(text) = delta.content.or(delta.reasoning_content) {
                    record(text);
                }
            }
            assert_eq!(stream.end(), Some(StreamEnd::Done));
        }
        Reader::Floor => {
            let reader = floor_reader(&floor_agent(), addr, framing, "paced");
            limit_events(reader, &mut Totals::default(), &mut record);
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
    (latencies, cpu_last - first)
}
