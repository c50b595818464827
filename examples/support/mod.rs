//! Shared helpers for the examples: command-line parsing, and an offline demo server that speaks
//! SiliconFlow's chat-completions protocol on `127.0.0.1`, so the examples run without an API key.
//!
//! The demo server is example code, not part of the library: it uses plain `std` networking and a
//! thread per connection (the `siliconflow` crate itself never spawns a thread). It answers
//! `POST /v1/chat/completions` the way SiliconFlow's DeepSeek-R1 does: a streamed answer with
//! `reasoning_content` first, then `content`, cumulative `usage` on every chunk, a `finish_reason`
//! chunk and `data: [DONE]`; or a whole `chat.completion` object when `stream` is not `true`.
//! It also reproduces SiliconFlow's error bodies: the model `demo/unknown-model` gets a 400
//! `{"code":20012,…}`, a wrong API key a 401 `"Invalid token"`, any other path a plain-text 404.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

/// The model the examples use unless `--model` says otherwise.
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-R1";

/// The prompt the examples send unless one is given ("What new opportunities will reasoning models
/// bring to the market?", the question SiliconFlow's own streaming examples ask).
pub const DEFAULT_PROMPT: &str = "推理模型会给市场带来哪些新的机会";

/// The API key the demo server is started with when `SILICONFLOW_API_KEY` is not set.
const DEMO_API_KEY: &str = "sk-offline-demo";

/// The model name for which the demo server answers SiliconFlow's "Model does not exist" error.
const UNKNOWN_MODEL: &str = "demo/unknown-model";

/// Largest request line or header line the demo server reads.
const MAX_LINE: usize = 8 * 1024;
/// Most header lines the demo server accepts in one request.
const MAX_HEADERS: usize = 100;
/// Largest request body the demo server reads.
const MAX_BODY: usize = 1024 * 1024;
/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The quoted prompt in the canned reply is cut to this many characters.
const MAX_QUOTE_CHARS: usize = 48;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/// What the examples take on the command line: `[--model MODEL] [PROMPT...]`.
#[derive(Debug, Clone)]
pub struct Args {
    /// The model to ask (`--model`), `deepseek-ai/DeepSeek-R1` by default.
    pub model: String,
    /// The words after the options joined with spaces, or [`DEFAULT_PROMPT`].
    pub prompt: String,
}

/// Parses `[--model MODEL] [PROMPT...]`; prints usage and exits on `--help` or a bad option.
pub fn parse_args(example: &str) -> Args {
    let usage = format!(
        "usage: cargo run --example {example} -- [--model MODEL] [PROMPT...]\n\n\
         MODEL defaults to {DEFAULT_MODEL}; PROMPT defaults to \"{DEFAULT_PROMPT}\".\n\
         Without SILICONFLOW_API_KEY the example talks to a built-in offline demo server\n\
         (try --model {UNKNOWN_MODEL} there to see an API error)."
    );
    let mut model = DEFAULT_MODEL.to_string();
    let mut words = Vec::new();
    let mut args = std::env::args().skip(1);
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done {
            words.push(arg);
            continue;
        }
        match arg.as_str() {
            "--" => options_done = true,
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            "-m" | "--model" => match args.next() {
                Some(value) if !value.is_empty() => model = value,
                _ => {
                    eprintln!("error: {arg} needs a model name\n\n{usage}");
                    std::process::exit(2);
                }
            },
            _ => {
                if let Some(value) = arg.strip_prefix("--model=") {
                    model = value.to_string();
                } else if arg.starts_with('-') && arg.len() > 1 {
                    eprintln!("error: unknown option {arg}\n\n{usage}");
                    std::process::exit(2);
                } else {
                    words.push(arg);
                }
            }
        }
    }
    let prompt = if words.is_empty() {
        DEFAULT_PROMPT.to_string()
    } else {
        words.join(" ")
    };
    Args { model, prompt }
}

// ---------------------------------------------------------------------------------------------
// Client: the real API when a key is set, otherwise the offline demo
// ---------------------------------------------------------------------------------------------

/// Builds a client for SiliconFlow when `SILICONFLOW_API_KEY` is set and not empty; otherwise
/// starts the offline [`DemoServer`] and returns a client pointed at it, together with the server
/// (keep it alive for as long as the client is used).
pub fn client_from_env_or_demo(
) -> Result<(siliconflow::Client, Option<DemoServer>), siliconflow::Error> {
    let key_is_set = std::env::var_os("SILICONFLOW_API_KEY").is_some_and(|key| !key.is_empty());
    if key_is_set {
        return Ok((siliconflow::Client::from_env()?, None));
    }
    let demo = match DemoServer::start(DEMO_API_KEY) {
        Ok(demo) => demo,
        Err(err) => {
            // Without a key and without a local port there is nothing to talk to: let the
            // library explain what is missing.
            eprintln!("could not start the offline demo server: {err}");
            return Ok((siliconflow::Client::from_env()?, None));
        }
    };
    let url = demo.base_url();
    eprintln!(
        "SILICONFLOW_API_KEY is not set: streaming from the built-in offline demo server at {url} \
         (set the key to talk to SiliconFlow)"
    );
    let client = siliconflow::Client::builder()
        .api_key(DEMO_API_KEY)
        .base_url(url)
        .build()?;
    Ok((client, Some(demo)))
}

// ---------------------------------------------------------------------------------------------
// Demo server
// ---------------------------------------------------------------------------------------------

/// An offline stand-in for `https://api.siliconflow.cn/v1`, listening on `127.0.0.1`.
///
/// The accept loop runs on a detached thread, so the server lives until the process exits.
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
}

/// What every connection handler shares.
struct State {
    api_key: String,
    /// Numbers responses, for `x-siliconcloud-trace-id: demo-<n>` and completion ids.
    responses: AtomicU64,
}

impl DemoServer {
    /// Binds `127.0.0.1:0` and starts answering requests authorised with `Bearer <api_key>`.
    pub fn start(api_key: &str) -> io::Result<DemoServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            api_key: api_key.to_string(),
            responses: AtomicU64::new(0),
        });
        thread::Builder::new()
            .name("demo-server".into())
            .spawn(move || accept_loop(listener, state))?;
        Ok(DemoServer { addr })
    }

    /// The base URL to give a client, like `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let state = Arc::clone(&state);
                // A failed spawn drops the connection; the client sees it closed.
                let _ = thread::Builder::new()
                    .name("demo-connection".into())
                    .spawn(move || {
                        // Any I/O error (the client went away, a timeout) just ends this connection.
                        let _ = serve_connection(stream, &state);
                    });
            }
            // For example out of file descriptors: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Answers requests on one connection until the client closes it or asks to close it.
fn serve_connection(stream: TcpStream, state: &State) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader)? {
            Incoming::Request(request) => request,
            Incoming::Closed => return Ok(()),
            Incoming::Bad(status, reason) => {
                let body = format!("{status} {reason}");
                let trace = state.next_trace_id();
                let head = Head::new(status, reason, "text/plain; charset=utf-8", &trace, false);
                return write_full(&mut writer, &head, body.as_bytes());
            }
        };
        let keep_alive = request.keep_alive();
        respond(&mut writer, &request, state, keep_alive)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

impl State {
    fn next_trace_id(&self) -> String {
        format!(
            "demo-{}",
            self.responses.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 request parsing (just enough for a client like ureq or curl)
// ---------------------------------------------------------------------------------------------

struct Request {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

enum Incoming {
    Request(Request),
    /// The client closed the connection between requests.
    Closed,
    /// A request the server will not read: answer this status and close.
    Bad(u16, &'static str),
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or("");
        let has = |token: &str| {
            connection
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.version == "HTTP/1.0" {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// Reads one line ending in `\n` of at most `MAX_LINE` bytes, without the line ending.
/// `Ok(None)` means the connection closed before any byte of the line.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Result<String, ()>>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        // Too long, or the connection closed mid-line.
        return Ok(Some(Err(())));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8(line).map_err(|_| ())))
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Incoming> {
    // Request line (tolerating stray blank lines before it, as RFC 9112 asks).
    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(Incoming::Closed),
            Some(Err(())) => return Ok(Incoming::Bad(400, "Bad Request")),
            Some(Ok(line)) if line.is_empty() => continue,
            Some(Ok(line)) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Incoming::Bad(400, "Bad Request"));
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(Incoming::Bad(505, "HTTP Version Not Supported"));
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let (method, version) = (method.to_string(), version.to_string());

    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader)? {
            None | Some(Err(())) => return Ok(Incoming::Bad(400, "Bad Request")),
            Some(Ok(line)) => line,
        };
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Ok(Incoming::Bad(431, "Request Header Fields Too Large"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Ok(Incoming::Bad(400, "Bad Request"));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        version,
        headers,
        body: Vec::new(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        match read_chunked_body(reader)? {
            Ok(body) => request.body = body,
            Err(bad) => return Ok(bad),
        }
    } else if let Some(length) = request.header("content-length") {
        let Ok(length) = length.parse::<usize>() else {
            return Ok(Incoming::Bad(400, "Bad Request"));
        };
        if length > MAX_BODY {
            return Ok(Incoming::Bad(413, "Payload Too Large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Incoming::Request(request))
}

fn read_chunked_body(reader: &mut impl BufRead) -> io::Result<Result<Vec<u8>, Incoming>> {
    let bad = || Ok(Err(Incoming::Bad(400, "Bad Request")));
    let mut body = Vec::new();
    loop {
        let Some(Ok(size_line)) = read_line(reader)? else {
            return bad();
        };
        let size = size_line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return bad();
        };
        if size == 0 {
            // Trailer fields, up to the blank line.
            loop {
                match read_line(reader)? {
                    Some(Ok(line)) if line.is_empty() => return Ok(Ok(body)),
                    Some(Ok(_)) => continue,
                    _ => return bad(),
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Ok(Err(Incoming::Bad(413, "Payload Too Large")));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !matches!(read_line(reader)?, Some(Ok(line)) if line.is_empty()) {
            return bad();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A status line and the headers every response carries.
struct Head<'a> {
    status: u16,
    reason: &'a str,
    content_type: &'a str,
    trace_id: &'a str,
    keep_alive: bool,
}

impl<'a> Head<'a> {
    fn new(
        status: u16,
        reason: &'a str,
        content_type: &'a str,
        trace_id: &'a str,
        keep_alive: bool,
    ) -> Self {
        Head {
            status,
            reason,
            content_type,
            trace_id,
            keep_alive,
        }
    }

    fn render(&self, framing: &str) -> String {
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n{framing}\r\n\
             x-siliconcloud-trace-id: {}\r\nConnection: {connection}\r\n\r\n",
            self.status, self.reason, self.content_type, self.trace_id
        )
    }
}

/// Writes a response with a `Content-Length` body.
fn write_full(writer: &mut impl Write, head: &Head, body: &[u8]) -> io::Result<()> {
    let mut out = head
        .render(&format!("Content-Length: {}", body.len()))
        .into_bytes();
    out.extend_from_slice(body);
    writer.write_all(&out)?;
    writer.flush()
}

fn write_json(writer: &mut impl Write, head: &Head, body: &impl Serialize) -> io::Result<()> {
    let body = serde_json::to_vec(body).map_err(io::Error::other)?;
    write_full(writer, head, &body)
}

/// SiliconFlow's error body: `{"code":…,"message":…,"data":null}`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u32,
    message: &'a str,
    data: Option<()>,
}

impl<'a> ErrorBody<'a> {
    fn new(code: u32, message: &'a str) -> Self {
        ErrorBody {
            code,
            message,
            data: None,
        }
    }
}

/// Writes one chunk of a `Transfer-Encoding: chunked` body and flushes it.
fn write_chunk(writer: &mut impl Write, data: &[u8]) -> io::Result<()> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    writer.write_all(&out)?;
    writer.flush()
}

fn respond(
    writer: &mut impl Write,
    request: &Request,
    state: &State,
    keep_alive: bool,
) -> io::Result<()> {
    let trace = state.next_trace_id();
    let json_head = |status, reason| {
        Head::new(
            status,
            reason,
            "application/json; charset=utf-8",
            &trace,
            keep_alive,
        )
    };

    if request.method != "POST" || request.path != "/v1/chat/completions" {
        let head = Head::new(
            404,
            "Not Found",
            "text/plain; charset=utf-8",
            &trace,
            keep_alive,
        );
        return write_full(writer, &head, b"404 page not found");
    }

    let expected = format!("Bearer {}", state.api_key);
    if request.header("authorization") != Some(expected.as_str()) {
        return write_json(writer, &json_head(401, "Unauthorized"), &"Invalid token");
    }

    let bad_request = |writer: &mut _, code, message| {
        write_json(
            writer,
            &json_head(400, "Bad Request"),
            &ErrorBody::new(code, message),
        )
    };
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body @ Value::Object(_)) => body,
        Ok(_) | Err(_) => {
            return bad_request(writer, 20015, "The request body is not a JSON object.")
        }
    };
    let model = match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => model,
        _ => return bad_request(writer, 20015, "Field required: model"),
    };
    if model == UNKNOWN_MODEL {
        return bad_request(
            writer,
            20012,
            "Model does not exist. Please check it carefully.",
        );
    }

    let reply = CannedReply::new(model, &body, state);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        write_stream(writer, &reply, &trace, keep_alive)
    } else {
        write_json(writer, &json_head(200, "OK"), &reply.completion())
    }
}

// ---------------------------------------------------------------------------------------------
// The canned DeepSeek-R1-style reply
// ---------------------------------------------------------------------------------------------

struct CannedReply {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u64,
    reasoning: Vec<String>,
    answer: Vec<String>,
}

impl CannedReply {
    fn new(model: &str, body: &Value, state: &State) -> Self {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(|m| message_text(m.get("content")))
            .unwrap_or_default();
        let quote = quote(&last_user);

        let reasoning = format!(
            "The user said \"{quote}\". I am the offline demo server, not a real model, so there \
             is nothing to think hard about. I will stream a short canned reply, one small token \
             per event, the way SiliconFlow streams DeepSeek-R1: this reasoning first, then the \
             answer. 再加一点中文。\n"
        );
        let answer = format!(
            "\nHello from the offline demo! 👋 You said \"{quote}\" and I heard you, but no real \
             model is running here, so this reply is canned. 这是离线演示服务器的回答。 Set \
             SILICONFLOW_API_KEY to talk to a real model on SiliconFlow. 😊"
        );

        let prompt_tokens = 4 + messages
            .iter()
            .map(|m| 4 + tokenize(&message_text(m.get("content"))).len() as u64)
            .sum::<u64>();

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = state.responses.load(Ordering::Relaxed);
        let seed = now.as_nanos() as u64 ^ n.rotate_left(32);
        Self {
            // 32 hex digits, like SiliconFlow's ids.
            id: format!(
                "{:016x}{:016x}",
                mix(seed),
                mix(seed ^ 0x5851_f42d_4c95_7f2d)
            ),
            created: now.as_secs(),
            model: model.to_string(),
            prompt_tokens,
            reasoning: tokenize(&reasoning),
            answer: tokenize(&answer),
        }
    }

    fn usage(&self, completion_tokens: u64, reasoning_tokens: Option<u64>) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens + completion_tokens,
            completion_tokens_details: reasoning_tokens
                .map(|reasoning_tokens| TokenDetails { reasoning_tokens }),
        }
    }

    fn chunk<'a>(
        &'a self,
        delta: Delta<'a>,
        finish_reason: Option<&'a str>,
        usage: Usage,
    ) -> Chunk<'a> {
        Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: [ChunkChoice {
                index: 0,
                delta,
                finish_reason,
            }],
            system_fingerprint: "",
            usage,
        }
    }

    /// Every chunk of the stream, in order, as SiliconFlow sends them for DeepSeek-R1.
    fn chunks(&self) -> Vec<Chunk<'_>> {
        let delta = |content, reasoning_content, role| Delta {
            content,
            reasoning_content,
            role,
        };
        let mut chunks = Vec::with_capacity(self.reasoning.len() + self.answer.len() + 2);
        chunks.push(self.chunk(
            delta(None, Some(""), Some("assistant")),
            None,
            self.usage(0, None),
        ));
        let mut completion = 0;
        for token in &self.reasoning {
            completion += 1;
            chunks.push(self.chunk(
                delta(None, Some(token), Some("assistant")),
                None,
                self.usage(completion, Some(completion)),
            ));
        }
        let reasoning_tokens = completion;
        for token in &self.answer {
            completion += 1;
            chunks.push(self.chunk(
                delta(Some(token), None, Some("assistant")),
                None,
                self.usage(completion, Some(reasoning_tokens)),
            ));
        }
        chunks.push(self.chunk(
            delta(Some(""), None, None),
            Some("stop"),
            self.usage(completion, Some(reasoning_tokens)),
        ));
        chunks
    }

    /// The same reply as one non-streamed `chat.completion` object.
    fn completion(&self) -> Completion<'_> {
        let reasoning_tokens = self.reasoning.len() as u64;
        let completion_tokens = reasoning_tokens + self.answer.len() as u64;
        Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: self.answer.concat(),
                    reasoning_content: self.reasoning.concat(),
                },
                finish_reason: "stop",
            }],
            usage: self.usage(completion_tokens, Some(reasoning_tokens)),
            system_fingerprint: "",
        }
    }
}

// The wire shapes, with fields in the order SiliconFlow sends them. `None` is sent as `null`
// except where SiliconFlow leaves the key out.

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'a str,
    created: u64,
    model: &'a str,
    choices: [ChunkChoice<'a>; 1],
    system_fingerprint: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    content: Option<&'a str>,
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens_details: Option<TokenDetails>,
}

#[derive(Serialize)]
struct TokenDetails {
    reasoning_tokens: u64,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'a str,
    created: u64,
    model: &'a str,
    choices: [CompletionChoice<'a>; 1],
    usage: Usage,
    system_fingerprint: &'a str,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'a str,
    content: String,
    reasoning_content: String,
}

fn write_stream(
    writer: &mut impl Write,
    reply: &CannedReply,
    trace: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let chunks = reply.chunks();
    // Aim for about two seconds in all, with 15-30 ms between events.
    let per_event = (1900 / chunks.len().max(1) as u64).clamp(15, 30);
    let head = Head::new(
        200,
        "OK",
        "text/event-stream; charset=utf-8",
        trace,
        keep_alive,
    );
    writer.write_all(
        head.render("Transfer-Encoding: chunked\r\nCache-Control: no-cache")
            .as_bytes(),
    )?;
    writer.flush()?;
    // Time to first token.
    thread::sleep(Duration::from_millis(150));
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(per_event));
        }
        let mut event = b"data: ".to_vec();
        serde_json::to_writer(&mut event, chunk).map_err(io::Error::other)?;
        event.extend_from_slice(b"\n\n");
        write_chunk(writer, &event)?;
    }
    write_chunk(writer, b"data: [DONE]\n\n")?;
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}

/// SplitMix64's finaliser: spreads the bits of a seed, for ids that look random.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The text of a message's `content`: a string, or the `text` parts of a content-part array.
fn message_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The prompt on one line, cut to `MAX_QUOTE_CHARS` characters.
fn quote(prompt: &str) -> String {
    let one_line = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(an empty message)".to_string();
    }
    if one_line.chars().count() <= MAX_QUOTE_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_QUOTE_CHARS).collect();
    cut.push('…');
    cut
}

/// Splits text into word-ish tokens the way a model's tokenizer roughly would: an ASCII word with
/// its leading space (`" hello"`), one punctuation mark or emoji (with its leading space), up to
/// two CJK characters, or a newline. Concatenating the tokens gives back the text exactly.
fn tokenize(text: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Word,
        Letter,
    }
    let mut tokens = Vec::new();
    let mut current = String::new();
    // The kind of the non-space text in `current` and how many characters of it there are.
    let mut kind: Option<Kind> = None;
    let mut len = 0;
    let mut flush = |current: &mut String, kind: &mut Option<Kind>, len: &mut usize| {
        if !current.is_empty() {
            tokens.push(std::mem::take(current));
        }
        *kind = None;
        *len = 0;
    };
    for c in text.chars() {
        if c == '\n' {
            flush(&mut current, &mut kind, &mut len);
            current.push(c);
            flush(&mut current, &mut kind, &mut len);
        } else if c.is_whitespace() {
            if kind.is_some() {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '\'' {
            if kind.is_some_and(|k| k != Kind::Word) {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            kind = Some(Kind::Word);
        } else if c.is_alphabetic() {
            // CJK and other non-ASCII letters: up to two per token.
            if kind.is_some() && (kind != Some(Kind::Letter) || len >= 2) {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            kind = Some(Kind::Letter);
            len += 1;
        } else {
            // Punctuation, symbols and emoji stand alone (after any leading space).
            if kind.is_some() {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            flush(&mut current, &mut kind, &mut len);
        }
    }
    flush(&mut current, &mut kind, &mut len);
    tokens
}
