//! Stream a chat completion, collecting the full answer and the full reasoning yourself.
//!
//! This is the Rust version of SiliconFlow's streaming example for the `requests` Python library,
//! which reads the SSE lines by hand and concatenates the deltas:
//!
//! ```python
//! response = requests.post(url, json=payload, headers=headers, stream=True)
//! if response.status_code == 200:
//!     full_content = ""
//!     full_reasoning_content = ""
//!     for chunk in response.iter_lines():
//!         ...  # strip "data: ", stop at [DONE], json.loads, append delta.content / reasoning_content
//! else:
//!     print(f"Error: {response.status_code} - {response.text}")
//! ```
//!
//! Here the crate does the SSE and JSON work, and also keeps the same totals itself
//! (`stream.content()` and `stream.reasoning_content()`); the example checks they agree.
//!
//! ```text
//! cargo run --example stream_lines -- [--model MODEL] [PROMPT...]
//! cargo run --example stream_lines -- --model demo/unknown-model hi   # offline: an API error
//! ```

mod support;

use std::io::{self, Write};
use std::process::ExitCode;

use siliconflow::{ChatRequest, Error, Message};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // An HTTP error status: print it the way the Python example does.
        // On a line of its own: a stream that failed mid-way printed part of its text.
        Err(Error::Api(e)) => {
            eprintln!("\nError: {} - {}", e.status, e.message);
            if let Some(request_id) = &e.request_id {
                eprintln!("(request id {request_id}; quote it when asking SiliconFlow support)");
            }
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("\nError: {err}");
            if let Some(request_id) = err.api_error().and_then(|e| e.request_id.as_deref()) {
                eprintln!("(request id {request_id}; quote it when asking SiliconFlow support)");
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let args = support::parse_args("stream_lines");
    // `_demo` keeps the offline server (if one was started) alive until the end of `run`.
    let (client, _demo) = support::client_from_env_or_demo()?;

    let request = ChatRequest::new(
        args.model.as_str(),
        vec![Message::user(args.prompt.as_str())],
    );
    // Gateways report usage only when asked; SiliconFlow reports it anyway.
    let request = support::ask_for_usage(&client, request);
    let mut stream = client.chat_stream(&request)?;

    let mut full_content = String::new();
    let mut full_reasoning_content = String::new();
    for delta in &mut stream {
        let delta = delta?;
        if let Some(content) = &delta.content {
            print!("{content}");
            let _ = io::stdout().flush();
            full_content.push_str(content);
        }
        if let Some(reasoning_content) = &delta.reasoning_content {
            print!("{reasoning_content}");
            let _ = io::stdout().flush();
            full_reasoning_content.push_str(reasoning_content);
        }
    }

    println!("\n\n=== full_reasoning_content ===");
    print_block(&full_reasoning_content);
    println!("=== full_content ===");
    print_block(&full_content);

    if let Some(request_id) = stream.request_id() {
        println!("(request id {request_id})");
    }
    if full_content == stream.content() && full_reasoning_content == stream.reasoning_content() {
        println!(
            "(matches stream.content() and stream.reasoning_content(): {} + {} characters)",
            full_content.chars().count(),
            full_reasoning_content.chars().count(),
        );
    } else {
        eprintln!("\nwarning: the text collected here differs from what the stream accumulated");
        eprintln!("  stream.content():           {:?}", stream.content());
        eprintln!(
            "  stream.reasoning_content(): {:?}",
            stream.reasoning_content()
        );
    }
    Ok(())
}

/// Prints text as one block that ends with a newline.
fn print_block(text: &str) {
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}
