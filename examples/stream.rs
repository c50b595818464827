//! Stream a chat completion and print the reasoning and the answer as they arrive.
//!
//! This is the Rust version of SiliconFlow's streaming example for the `openai` Python library:
//!
//! ```python
//! response = client.chat.completions.create(model="deepseek-ai/DeepSeek-R1", messages=[...], stream=True)
//! for chunk in response:
//!     print(chunk.choices[0].delta.reasoning_content or "", end="", flush=True)
//!     print(chunk.choices[0].delta.content or "", end="", flush=True)
//! ```
//!
//! ```text
//! cargo run --example stream -- [--model MODEL] [PROMPT...]
//! ```
//!
//! With `SILICONFLOW_API_KEY` set it talks to SiliconFlow (or `SILICONFLOW_BASE_URL`); without it,
//! to a built-in offline demo server, so the example runs anywhere.

mod support;

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use siliconflow::{ChatRequest, Message};

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args("stream");
    // `_demo` keeps the offline server (if one was started) alive until the end of `run`.
    let (client, _demo) = support::client_from_env_or_demo()?;

    let request = ChatRequest::new(
        args.model.as_str(),
        vec![Message::user(args.prompt.as_str())],
    );
    // Gateways report usage only when asked; SiliconFlow reports it anyway.
    let request = support::ask_for_usage(&client, request);
    let mut stream = client.chat_stream(&request)?;

    let mut out = io::stdout().lock();
    let mut in_reasoning = false;
    let mut in_answer = false;
    // Whether the cursor is at the start of a line, so headers never share a line with text.
    let mut line_start = true;
    for delta in &mut stream {
        let delta = delta?;
        if let Some(text) = &delta.reasoning_content {
            if !in_reasoning {
                header(&mut out, &mut line_start, "--- reasoning ---")?;
                in_reasoning = true;
            }
            write_text(&mut out, &mut line_start, text)?;
        }
        if let Some(text) = &delta.content {
            if !in_answer {
                header(&mut out, &mut line_start, "--- answer ---")?;
                in_answer = true;
            }
            write_text(&mut out, &mut line_start, text)?;
        }
    }

    let finish = stream
        .finish_reason()
        .map_or_else(|| "none".to_string(), |reason| reason.to_string());
    let usage = match stream.usage() {
        Some(usage) => {
            let reasoning = match usage.reasoning_tokens() {
                Some(n) => format!(" ({n} of them reasoning)"),
                None => String::new(),
            };
            format!(
                "{} prompt + {} completion{reasoning} = {} tokens",
                usage.prompt_tokens, usage.completion_tokens, usage.total_tokens,
            )
        }
        None => "not reported".to_string(),
    };
    let request_id = match stream.request_id() {
        Some(id) => format!("; request id {id}"),
        None => String::new(),
    };
    let summary = format!("--- finish_reason: {finish}; usage: {usage}{request_id} ---");
    header(&mut out, &mut line_start, &summary)?;
    Ok(())
}

/// Prints text as it arrives: flushed at once, not when a line or a buffer is full.
fn write_text(out: &mut impl Write, line_start: &mut bool, text: &str) -> io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    write!(out, "{text}")?;
    out.flush()?;
    *line_start = text.ends_with('\n');
    Ok(())
}

/// Prints a separator line, starting a new line first if the text so far did not end one.
fn header(out: &mut impl Write, line_start: &mut bool, line: &str) -> io::Result<()> {
    if !*line_start {
        writeln!(out)?;
    }
    writeln!(out, "{line}")?;
    out.flush()?;
    *line_start = true;
    Ok(())
}
