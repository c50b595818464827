//! A complete tool-calling loop over streamed answers: offer a `get_weather(city)` tool, stream the
//! model's turn (its reasoning, and the tool call as it forms), run the tool locally, send the result
//! back, and repeat until the model answers in words.
//!
//! ```text
//! cargo run --example tools -- [--model MODEL] [PROMPT...]
//! cargo run --example tools -- "Is it raining in Tokyo?"
//! ```
//!
//! MODEL defaults to `Qwen/Qwen3-8B` (a reasoning model with tool support on SiliconFlow); PROMPT to
//! "What's the weather like in Hangzhou today?". With `SILICONFLOW_API_KEY` set it talks to SiliconFlow
//! (or `SILICONFLOW_BASE_URL`); without it, to a built-in offline demo server that streams a tool call
//! the way SiliconFlow does (id `functions.get_weather:0`, arguments in fragments).
//!
//! The history the loop builds is the one SiliconFlow's function-calling guide describes:
//!
//! ```text
//! user:      What's the weather like in Hangzhou today?
//! assistant: tool_calls = [get_weather({"city": "Hangzhou"}), id functions.get_weather:0]
//! tool:      tool_call_id = functions.get_weather:0, content = {"city":"Hangzhou",…}
//! assistant: It is partly cloudy in Hangzhou, 24 °C …
//! ```

mod support;

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::{json, Value};
use siliconflow::{ChatRequest, Message, Tool, ToolCall, ToolChoice};

/// The model this example asks unless `--model` says otherwise.
const DEFAULT_MODEL: &str = "Qwen/Qwen3-8B";
/// The question this example asks unless one is given.
const DEFAULT_PROMPT: &str = "What's the weather like in Hangzhou today?";
/// How many model turns the loop allows before it gives up on a model that keeps calling tools.
const MAX_ROUNDS: usize = 5;

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with("tools", DEFAULT_MODEL, DEFAULT_PROMPT);
    // `_demo` keeps the offline server (if one was started) alive until the end of `run`.
    let (client, _demo) = support::client_from_env_or_demo()?;

    let tools = vec![Tool::function(
        "get_weather",
        "Get the current weather in a city",
        json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        }),
    )];
    let mut messages = vec![Message::user(args.prompt.as_str())];
    let mut out = io::stdout().lock();
    writeln!(out, "[user] {}", args.prompt)?;

    for round in 1..=MAX_ROUNDS {
        let request = ChatRequest::new(args.model.as_str(), messages.clone())
            .tools(tools.clone())
            .tool_choice(ToolChoice::Auto);
        let request = support::ask_for_usage(&client, request);
        let mut stream = client.chat_stream(&request)?;

        let mut printer = Printer::new(&mut out);
        for delta in &mut stream {
            let delta = delta?;
            if let Some(text) = &delta.reasoning_content {
                printer.section(Section::Reasoning, "[reasoning]")?;
                printer.text(text)?;
            }
            if let Some(text) = &delta.content {
                printer.section(Section::Answer, "[answer]")?;
                printer.text(text)?;
            }
            // A call forms over several fragments: the first has its id and name, the rest add
            // pieces of the arguments. Print them on one line as they come.
            for fragment in &delta.tool_calls {
                let section = Section::ToolCall(fragment.index);
                if printer.section != section {
                    let function = fragment.function.as_ref();
                    let label = format!(
                        "[tool call {}] {} ",
                        fragment.id.as_deref().unwrap_or("(no id yet)"),
                        function
                            .and_then(|f| f.name.as_deref())
                            .unwrap_or("(no name yet)"),
                    );
                    printer.section(section, &label)?;
                }
                if let Some(arguments) = fragment
                    .function
                    .as_ref()
                    .and_then(|f| f.arguments.as_deref())
                {
                    printer.text(arguments)?;
                }
            }
        }
        printer.end_line()?;

        let finish = stream
            .finish_reason()
            .map_or_else(|| "none".to_string(), |reason| reason.to_string());
        let usage = stream.usage().map_or_else(
            || "usage not reported".to_string(),
            |u| {
                format!(
                    "{} prompt + {} completion = {} tokens",
                    u.prompt_tokens, u.completion_tokens, u.total_tokens
                )
            },
        );
        writeln!(out, "(round {round}: finish_reason {finish}; {usage})")?;

        let calls = stream.tool_calls().to_vec();
        if calls.is_empty() {
            if stream.content().trim().is_empty() {
                return Err(
                    "the model ended its turn with neither an answer nor a tool call".into(),
                );
            }
            return Ok(());
        }

        // The assistant turn that asked for the tools goes into the history first (without its
        // reasoning), then one `tool` message per call, answering it by id.
        messages.push(stream.message());
        for call in &calls {
            let result = run_tool(call);
            writeln!(out, "[tool result {}] {result}", call.id)?;
            messages.push(Message::tool(&call.id, result));
        }
    }
    Err(format!("gave up after {MAX_ROUNDS} rounds: the model kept calling tools").into())
}

/// Runs one tool call locally and returns its result as JSON text: the tool's answer, or an
/// `{"error": …}` object the model can read (bad JSON arguments, a missing argument, an unknown tool).
fn run_tool(call: &ToolCall) -> String {
    let raw = call.function.arguments.trim();
    // Some servers send "" for a call without arguments.
    let arguments = if raw.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_str::<Value>(raw)
    };
    let result = match (call.function.name.as_str(), arguments) {
        (_, Err(err)) => json!({
            "error": format!("the arguments are not valid JSON ({err}): {raw}"),
        }),
        ("get_weather", Ok(arguments)) => {
            match arguments.get("city").and_then(Value::as_str).map(str::trim) {
                Some(city) if !city.is_empty() => fake_weather(city),
                _ => json!({"error": "get_weather needs a \"city\" string argument"}),
            }
        }
        (name, Ok(_)) => json!({"error": format!("unknown tool {name:?}")}),
    };
    result.to_string()
}

/// A stand-in for a weather service: the same city always gets the same (made-up) weather.
fn fake_weather(city: &str) -> Value {
    const CONDITIONS: [&str; 6] = [
        "sunny",
        "partly cloudy",
        "cloudy",
        "light rain",
        "showers",
        "overcast",
    ];
    let (condition, temperature, humidity) = match city.to_lowercase().as_str() {
        "hangzhou" | "杭州" => ("partly cloudy", 24, 68),
        "beijing" | "北京" => ("sunny", 19, 35),
        "tokyo" => ("light rain", 17, 82),
        other => {
            // FNV-1a: a stable hash, unlike std's randomly seeded one.
            let hash = other.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            (
                CONDITIONS[(hash % 6) as usize],
                5 + (hash >> 8) % 26,
                30 + (hash >> 16) % 60,
            )
        }
    };
    json!({
        "city": city,
        "date": "today",
        "condition": condition,
        "temperature_c": temperature,
        "humidity_pct": humidity,
        "source": "fake_weather() in examples/tools.rs",
    })
}

/// Which part of a turn is being printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Reasoning,
    Answer,
    /// The tool call with this index.
    ToolCall(u32),
}

/// Prints streamed text under a label per section, flushing after every piece.
struct Printer<'a, W: Write> {
    out: &'a mut W,
    section: Section,
    /// Whether the cursor is at the start of a line.
    line_start: bool,
    /// Whether nothing but newlines has been printed in this section yet (skipped, for tidiness).
    section_empty: bool,
}

impl<'a, W: Write> Printer<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Printer {
            out,
            section: Section::None,
            line_start: true,
            section_empty: true,
        }
    }

    /// Starts `section` under `label`, unless it is the current one. A label ending in a space is
    /// followed by the text on the same line (a tool call); any other gets a line of its own.
    fn section(&mut self, section: Section, label: &str) -> io::Result<()> {
        if self.section == section {
            return Ok(());
        }
        self.end_line()?;
        if label.ends_with(' ') {
            write!(self.out, "{label}")?;
            self.line_start = false;
        } else {
            writeln!(self.out, "{label}")?;
            self.line_start = true;
        }
        self.section = section;
        self.section_empty = true;
        self.out.flush()
    }

    fn text(&mut self, text: &str) -> io::Result<()> {
        // Models often open a section with newlines; the label already ended the line.
        let text = if self.section_empty {
            text.trim_start_matches(['\n', '\r'])
        } else {
            text
        };
        if text.is_empty() {
            return Ok(());
        }
        self.section_empty = false;
        write!(self.out, "{text}")?;
        self.line_start = text.ends_with('\n');
        self.out.flush()
    }

    fn end_line(&mut self) -> io::Result<()> {
        if !self.line_start {
            writeln!(self.out)?;
            self.line_start = true;
        }
        self.out.flush()
    }
}
