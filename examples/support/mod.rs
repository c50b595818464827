//! Shared helpers for the examples: command-line parsing, and an offline demo server that speaks
//! SiliconFlow's chat-completions protocol on `127.0.0.1`, so the examples run without an API key.
//!
//! The demo server is example code, not part of the library: it uses plain `std` networking and a
//! thread per connection (the `siliconflow` crate itself never spawns a thread). It answers
//! `POST /v1/chat/completions` the way SiliconFlow's DeepSeek-R1 does: a streamed answer with
//! `reasoning_content` first, then `content`, cumulative `usage` on every chunk, a `finish_reason`
//! chunk and `data: [DONE]`; or a whole `chat.completion` object when `stream` is not `true`.
//!
//! What it answers depends on the conversation it is sent:
//! - an ordinary turn: a canned reply quoting the last user message and naming the turn number
//!   (`(turn 3)` for the third user message), so a conversation's history is visibly sent along;
//! - a user message with `tools` in the request: a call of the first tool (or the one `tool_choice`
//!   names; none for `"none"`), streamed the way SiliconFlow streams Kimi and Qwen3 tool calls: a
//!   first fragment with the id `functions.<name>:0`, the type and the name, then argument fragments
//!   with `"id":null,"type":null`, then `finish_reason: "tool_calls"`. A tool with a `city` (or
//!   `location`) parameter gets the city named in the prompt (Hangzhou when none is);
//! - a `tool` message last: a final answer quoting what the tool returned.
//!
//! It also reproduces SiliconFlow's error bodies: the model `demo/unknown-model` gets a 400
//! `{"code":20012,…}`, a wrong API key a 401 `"Invalid token"`, any other path a plain-text 404.

// Each example uses its own subset of these helpers.
#![allow(dead_code)]

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
    /// The model to ask (`--model`), or the example's default ([`DEFAULT_MODEL`] for most).
    pub model: String,
    /// The words after the options joined with spaces, or the example's default prompt.
    pub prompt: String,
}

/// Prints an example's error with the causes its message does not already include, and picks the exit
/// code.
pub fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    let Err(err) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    let mut shown = err.to_string();
    eprintln!("\nerror: {shown}");
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Skip a cause whose text the message above already includes.
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
            shown = text;
        }
        source = cause.source();
    }
    std::process::ExitCode::FAILURE
}

/// Parses `[--model MODEL] [PROMPT...]`; prints usage and exits on `--help` or a bad option.
pub fn parse_args(example: &str) -> Args {
    parse_args_with(example, DEFAULT_MODEL, DEFAULT_PROMPT)
}

/// Like [`parse_args`], with the example's own default model and prompt.
pub fn parse_args_with(example: &str, default_model: &str, default_prompt: &str) -> Args {
    let usage = format!(
        "usage: cargo run --example {example} -- [--model MODEL] [PROMPT...]\n\n\
         MODEL defaults to {default_model}; PROMPT defaults to \"{default_prompt}\".\n\
         Without SILICONFLOW_API_KEY the example talks to a built-in offline demo server\n\
         (try --model {UNKNOWN_MODEL} there to see an API error)."
    );
    let mut model = default_model.to_string();
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
        default_prompt.to_string()
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
// The canned DeepSeek-R1-style replies
// ---------------------------------------------------------------------------------------------

/// Cities the demo recognises in a prompt when it makes up a weather tool call.
const CITIES: &[&str] = &[
    "Hangzhou",
    "Beijing",
    "Shanghai",
    "Shenzhen",
    "Guangzhou",
    "Chengdu",
    "Hong Kong",
    "Tokyo",
    "Seoul",
    "Singapore",
    "New York",
    "San Francisco",
    "London",
    "Paris",
    "Berlin",
    "Sydney",
    "杭州",
    "北京",
    "上海",
    "深圳",
    "广州",
    "成都",
];

/// The city a tool call uses when the prompt names none of [`CITIES`].
const DEFAULT_CITY: &str = "Hangzhou";

/// The tool-result text quoted in a final answer is cut to this many characters.
const MAX_TOOL_QUOTE_CHARS: usize = 240;

/// What the demo makes of the conversation it was sent.
enum Scenario {
    /// An ordinary turn: answer the last user message.
    Chat {
        last_user: String,
        /// How many user messages the conversation has (this one included).
        turn: usize,
        /// How many messages were sent in all.
        messages: usize,
        system: Option<String>,
    },
    /// The last message is a user message and tools are offered: call one.
    CallTool {
        last_user: String,
        name: String,
        /// The argument name to fill with a city (`city` or `location`), if the tool has one.
        city_param: Option<String>,
    },
    /// The last messages are tool results: answer with them.
    UseToolResults {
        /// `("the <name> tool", call id, content)` of each trailing tool message, in order.
        results: Vec<(String, String, String)>,
    },
}

impl Scenario {
    fn of(body: &Value, messages: &[Value]) -> Scenario {
        let role = |m: &Value| {
            m.get("role")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let last_role = messages.last().map(role).unwrap_or_default();

        if last_role == "tool" {
            let first_result = messages
                .iter()
                .rposition(|m| role(m) != "tool")
                .map_or(0, |i| i + 1);
            let calls = messages[..first_result]
                .iter()
                .rev()
                .find(|m| role(m) == "assistant")
                .and_then(|m| m.get("tool_calls"))
                .and_then(Value::as_array);
            let results = messages[first_result..]
                .iter()
                .map(|m| {
                    let id = m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let name = calls
                        .and_then(|calls| {
                            calls
                                .iter()
                                .find(|c| c.get("id").and_then(Value::as_str) == Some(id.as_str()))
                        })
                        .and_then(|c| c.pointer("/function/name"))
                        .and_then(Value::as_str)
                        .map_or_else(|| "the tool".to_owned(), |name| format!("the {name} tool"));
                    (name, id, message_text(m.get("content")))
                })
                .collect();
            return Scenario::UseToolResults { results };
        }

        let last_user = messages
            .iter()
            .rev()
            .find(|m| role(m) == "user")
            .map(|m| message_text(m.get("content")))
            .unwrap_or_default();

        if last_role == "user" {
            if let Some(tool) = chosen_tool(body) {
                let name = tool
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_owned();
                let properties = tool.pointer("/function/parameters/properties");
                let city_param = ["city", "location"]
                    .into_iter()
                    .find(|p| properties.and_then(|props| props.get(p)).is_some())
                    .map(str::to_owned);
                return Scenario::CallTool {
                    last_user,
                    name,
                    city_param,
                };
            }
        }

        Scenario::Chat {
            last_user,
            turn: messages.iter().filter(|m| role(m) == "user").count(),
            messages: messages.len(),
            system: messages
                .iter()
                .find(|m| role(m) == "system")
                .map(|m| message_text(m.get("content"))),
        }
    }
}

/// The tool the demo calls: the one `tool_choice` names, else the first; none for
/// `tool_choice: "none"` or without tools.
fn chosen_tool(body: &Value) -> Option<&Value> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    match body.get("tool_choice") {
        Some(Value::String(mode)) if mode == "none" => None,
        Some(choice @ Value::Object(_)) => {
            let wanted = choice.pointer("/function/name").and_then(Value::as_str);
            tools
                .iter()
                .find(|t| t.pointer("/function/name").and_then(Value::as_str) == wanted)
                .or_else(|| tools.first())
        }
        _ => tools.first(),
    }
}

/// The first of [`CITIES`] to appear in the text, else [`DEFAULT_CITY`].
fn city_in(text: &str) -> &'static str {
    let text = text.to_lowercase();
    CITIES
        .iter()
        .filter_map(|city| text.find(&city.to_lowercase()).map(|at| (at, *city)))
        .min_by_key(|&(at, _)| at)
        .map_or(DEFAULT_CITY, |(_, city)| city)
}

/// A tool call the demo streams: the id, the name and the arguments in the fragments they are sent in.
struct CannedCall {
    id: String,
    name: String,
    fragments: Vec<String>,
}

impl CannedCall {
    fn arguments(&self) -> String {
        self.fragments.concat()
    }
}

struct CannedReply {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u64,
    reasoning: Vec<String>,
    answer: Vec<String>,
    tool_call: Option<CannedCall>,
}

impl CannedReply {
    fn new(model: &str, body: &Value, state: &State) -> Self {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);

        let (reasoning, answer, tool_call) = match Scenario::of(body, messages) {
            Scenario::Chat {
                last_user,
                turn,
                messages,
                system,
            } => {
                let quote = quote(&last_user, MAX_QUOTE_CHARS);
                let system_note = match &system {
                    Some(system) => format!(
                        " The system prompt says \"{}\".",
                        quote_text(system, MAX_QUOTE_CHARS)
                    ),
                    None => String::new(),
                };
                let reasoning = format!(
                    "The user said \"{quote}\". This is turn {turn} of the conversation.{system_note} \
                     I am the offline demo server, not a real model, so there is nothing to think \
                     hard about. I will stream a short canned reply, one small token per event, the \
                     way SiliconFlow streams DeepSeek-R1: this reasoning first, then the answer. \
                     再加一点中文。\n"
                );
                let history = if messages > 1 {
                    format!("; the history you sent has {messages} messages")
                } else {
                    String::new()
                };
                let system_answer = match &system {
                    Some(system) => format!(
                        " Your system prompt was \"{}\".",
                        quote_text(system, MAX_QUOTE_CHARS)
                    ),
                    None => String::new(),
                };
                let answer = format!(
                    "\nHello from the offline demo! 👋 (turn {turn}) You said \"{quote}\" and I \
                     heard you{history}, but no real model is running here, so this reply is \
                     canned.{system_answer} 这是离线演示服务器的回答。 Set SILICONFLOW_API_KEY to \
                     talk to a real model on SiliconFlow. 😊"
                );
                (reasoning, answer, None)
            }
            Scenario::CallTool {
                last_user,
                name,
                city_param,
            } => {
                let quote = quote(&last_user, MAX_QUOTE_CHARS);
                // SiliconFlow's Kimi-style ids: `functions.<name>:<n>`.
                let id = format!("functions.{name}:0");
                let (fragments, plan) = match city_param {
                    Some(param) => {
                        let city = city_in(&last_user);
                        let param_json = serde_json::to_string(&param).unwrap_or_default();
                        let city_json = serde_json::to_string(city).unwrap_or_default();
                        let fragments = vec![
                            "{".to_string(),
                            param_json,
                            ": ".to_string(),
                            city_json,
                            "}".to_string(),
                        ];
                        (fragments, format!(" with {param} = \"{city}\""))
                    }
                    None => (vec!["{".to_string(), "}".to_string()], String::new()),
                };
                let reasoning = format!(
                    "The user asks: \"{quote}\". I cannot know that without live data, so I will \
                     call the {name} tool{plan} and answer from its result. 先调用工具。\n"
                );
                let call = CannedCall {
                    id,
                    name,
                    fragments,
                };
                (reasoning, String::new(), Some(call))
            }
            Scenario::UseToolResults { results } => {
                let names = results
                    .iter()
                    .map(|(tool, id, _)| format!("{tool} (call {id})"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                let reasoning = format!(
                    "The tool result arrived from {names}. I will answer with it, quoting what it \
                     returned, since the offline demo cannot phrase it any better. 根据工具结果回答。\n"
                );
                let quoted = results
                    .iter()
                    .map(|(tool, _, content)| {
                        format!("{tool} returned {}", quote(content, MAX_TOOL_QUOTE_CHARS))
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let answer = format!(
                    "\nHere is what I found: {quoted}. That is the whole answer from the offline \
                     demo; a real model would turn it into a friendly sentence. ☀️"
                );
                (reasoning, answer, None)
            }
        };

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
            tool_call,
        }
    }

    fn finish_reason(&self) -> &'static str {
        if self.tool_call.is_some() {
            "tool_calls"
        } else {
            "stop"
        }
    }

    /// Tokens of the whole reply: reasoning, answer and tool-call fragments.
    fn completion_tokens(&self) -> u64 {
        let call = self.tool_call.as_ref().map_or(0, |c| 1 + c.fragments.len());
        (self.reasoning.len() + self.answer.len() + call) as u64
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

    /// Every chunk of the stream, in order, as SiliconFlow sends them for DeepSeek-R1 (and, for a
    /// tool call, as it sends them for Kimi and Qwen3).
    fn chunks(&self) -> Vec<Chunk<'_>> {
        let delta = |content, reasoning_content, role| Delta {
            content,
            reasoning_content,
            role,
            tool_calls: None,
        };
        let mut chunks = Vec::with_capacity(self.completion_tokens() as usize + 2);
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
        if let Some(call) = &self.tool_call {
            // The first fragment names the call; the rest carry `"id":null,"type":null` and a
            // piece of the arguments each.
            let first = ToolCallFragment {
                index: 0,
                id: Some(&call.id),
                kind: Some("function"),
                function: FunctionFragment {
                    name: Some(&call.name),
                    arguments: "",
                },
            };
            let rest = call.fragments.iter().map(|piece| ToolCallFragment {
                index: 0,
                id: None,
                kind: None,
                function: FunctionFragment {
                    name: None,
                    arguments: piece,
                },
            });
            for fragment in std::iter::once(first).chain(rest) {
                completion += 1;
                chunks.push(self.chunk(
                    Delta {
                        tool_calls: Some([fragment]),
                        ..delta(None, None, Some("assistant"))
                    },
                    None,
                    self.usage(completion, Some(reasoning_tokens)),
                ));
            }
        }
        chunks.push(self.chunk(
            delta(Some(""), None, None),
            Some(self.finish_reason()),
            self.usage(completion, Some(reasoning_tokens)),
        ));
        chunks
    }

    /// The same reply as one non-streamed `chat.completion` object.
    fn completion(&self) -> Completion<'_> {
        let reasoning_tokens = self.reasoning.len() as u64;
        let answer = self.answer.concat();
        let tool_calls = self.tool_call.as_ref().map(|call| {
            vec![ToolCall {
                id: &call.id,
                kind: "function",
                function: FunctionCall {
                    name: &call.name,
                    arguments: call.arguments(),
                },
            }]
        });
        Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: (!answer.is_empty() || tool_calls.is_none()).then_some(answer),
                    reasoning_content: self.reasoning.concat(),
                    tool_calls,
                },
                finish_reason: self.finish_reason(),
            }],
            usage: self.usage(self.completion_tokens(), Some(reasoning_tokens)),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallFragment<'a>; 1]>,
}

/// One streamed piece of a tool call: `id` and `type` are `null` after the first.
#[derive(Serialize)]
struct ToolCallFragment<'a> {
    index: u32,
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    function: FunctionFragment<'a>,
}

#[derive(Serialize)]
struct FunctionFragment<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
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
    content: Option<String>,
    reasoning_content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: String,
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

/// The prompt on one line, cut to `max_chars` characters; "(an empty message)" when empty.
fn quote(prompt: &str, max_chars: usize) -> String {
    let one_line = quote_text(prompt, max_chars);
    if one_line.is_empty() {
        return "(an empty message)".to_string();
    }
    one_line
}

/// Text on one line (whitespace runs collapsed), cut to `max_chars` characters with `…`.
fn quote_text(text: &str, max_chars: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max_chars).collect();
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
