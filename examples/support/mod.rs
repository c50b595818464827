//! Shared helpers for the examples: command-line parsing, the error reporter, and an offline demo of
//! SiliconFlow's API on `127.0.0.1`, so the examples run without an API key.
//!
//! The demo is a handler over the crate's own test server, [`siliconflow::mock::MockServer`] (feature
//! `mock-server`, which this crate's dev-dependency on itself turns on for the examples). The server
//! runs on threads of its own; the `siliconflow` client never spawns one. This module and the files
//! next to it hold only what is particular to the demo: what it answers.
//!
//! Chat (`POST /v1/chat/completions`) answers the way SiliconFlow's DeepSeek-R1 does: a streamed answer
//! with `reasoning_content` first, then `content`, cumulative `usage` on every chunk, a `finish_reason`
//! chunk and `data: [DONE]`; or a whole `chat.completion` object when `stream` is not `true`. What it
//! answers depends on the conversation it is sent:
//! - an ordinary turn: a canned reply quoting the last user message and naming the turn number
//!   (`(turn 3)` for the third user message), so a conversation's history is visibly sent along;
//! - a user message with `tools` in the request: a call of the first tool (or the one `tool_choice`
//!   names; none for `"none"`), streamed the way SiliconFlow streams Kimi and Qwen3 tool calls: a
//!   first fragment with the id `functions.<name>:0`, the type and the name, then argument fragments
//!   with `"id":null,"type":null`, then `finish_reason: "tool_calls"`. A tool with a `city` (or
//!   `location`) parameter gets the city named in the prompt (Hangzhou when none is);
//! - a `tool` message last: a final answer quoting what the tool returned.
//!
//! The rest of the API answers from the shapes SiliconFlow documents (see `demo.rs` for the list):
//! images, speech and transcriptions, voices, video jobs, fill-in-the-middle completions, files and
//! batches, models, user info, embeddings and rerank.
//!
//! It also reproduces SiliconFlow's error bodies: the model `demo/unknown-model` gets a 400
//! `{"code":20012,…}` on every endpoint that takes a model, a wrong API key a 401 `"Invalid token"`,
//! any other path a plain-text 404.

// Each example uses its own subset of these helpers.
#![allow(dead_code)]

mod audio;
mod batches;
mod catalog;
mod chat;
mod completions;
mod demo;
mod files;
mod images;
mod media;
mod text;
mod video;
mod voices;
mod wire;

pub use demo::DemoServer;

/// The model the examples use unless `--model` says otherwise.
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-R1";

/// The prompt the examples send unless one is given ("What new opportunities will reasoning models
/// bring to the market?", the question SiliconFlow's own streaming examples ask).
pub const DEFAULT_PROMPT: &str = "推理模型会给市场带来哪些新的机会";

/// The API key the demo server is started with when `SILICONFLOW_API_KEY` is not set.
pub const DEMO_API_KEY: &str = "sk-offline-demo";

/// The model name for which the demo server answers SiliconFlow's "Model does not exist" error.
pub const UNKNOWN_MODEL: &str = "demo/unknown-model";

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
    /// Where an example that writes a file writes it (`--out`), if given.
    pub out: Option<std::path::PathBuf>,
}

impl Args {
    /// The output file: `--out`, else `name` in the system's temporary directory (never the current
    /// directory, so a run leaves nothing behind in a checkout).
    pub fn out_or(&self, name: &str) -> std::path::PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(name))
    }
}

/// Asks for token usage in the stream (`stream_options.include_usage`) unless the client talks to
/// SiliconFlow itself. OpenAI-style servers and gateways (LiteLLM, OpenRouter, a company proxy) report usage
/// only when asked; SiliconFlow sends a running total on every chunk anyway and does not document the
/// field, so it is not sent there. The offline demo accepts it.
pub fn ask_for_usage(
    client: &siliconflow::Client,
    request: siliconflow::ChatRequest,
) -> siliconflow::ChatRequest {
    let host = client
        .base_url()
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("");
    if host.ends_with("siliconflow.cn") || host.ends_with("siliconflow.com") {
        request
    } else {
        request.stream_options(siliconflow::StreamOptions::include_usage())
    }
}

/// Prints an example's error on a line of its own, with its request id when the server sent one and the
/// causes its message does not already include, and picks the exit code.
pub fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    let Err(err) = result else {
        return std::process::ExitCode::SUCCESS;
    };
    let mut shown = err.to_string();
    // The text printed so far may not have ended its line: the error starts a new one.
    eprintln!("\nerror: {shown}");
    let request_id = err
        .downcast_ref::<siliconflow::Error>()
        .and_then(siliconflow::Error::api_error)
        .and_then(|e| e.request_id.as_deref());
    if let Some(id) = request_id {
        eprintln!("  request id: {id} (quote it when asking for support)");
    }
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
        "usage: cargo run --example {example} -- [--model MODEL] [--out FILE] [PROMPT...]\n\n\
         MODEL defaults to {default_model}; PROMPT defaults to \"{default_prompt}\".\n\
         Examples that write a file take --out FILE (default: the system's temporary directory).\n\
         Without SILICONFLOW_API_KEY the example talks to a built-in offline demo server\n\
         (try --model {UNKNOWN_MODEL} there to see an API error)."
    );
    let mut model = default_model.to_string();
    let mut out = None;
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
            "-o" | "--out" => match args.next() {
                Some(value) if !value.is_empty() => out = Some(value.into()),
                _ => {
                    eprintln!("error: {arg} needs a file name\n\n{usage}");
                    std::process::exit(2);
                }
            },
            _ => {
                if let Some(value) = arg.strip_prefix("--model=") {
                    model = value.to_string();
                } else if let Some(value) = arg.strip_prefix("--out=") {
                    out = Some(value.into());
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
    Args { model, prompt, out }
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
        "SILICONFLOW_API_KEY is not set: talking to the built-in offline demo server at {url} \
         (set the key to talk to SiliconFlow)"
    );
    let client = siliconflow::Client::builder()
        .api_key(DEMO_API_KEY)
        .base_url(url)
        .build()?;
    Ok((client, Some(demo)))
}
