//! An interactive multi-turn chat in the terminal, streaming every answer on the main thread.
//!
//! ```text
//! cargo run --example chat -- [--model MODEL] [--system TEXT] [--no-reasoning]
//! printf 'hello\nhow are you?\n' | cargo run --example chat     # also works through pipes
//! ```
//!
//! Type a message and press Enter. `/reset` forgets the conversation (keeping the system prompt),
//! `/exit` or Ctrl-D quits. The model's reasoning is shown dimmed before its answer (or under a
//! `[reasoning]` label when stdout is not a terminal; `--no-reasoning` hides it), and a stats line
//! follows each answer: time to first token, speed, and token usage.
//!
//! MODEL defaults to `deepseek-ai/DeepSeek-R1`. With `SILICONFLOW_API_KEY` set it talks to SiliconFlow
//! (or `SILICONFLOW_BASE_URL`); without it, to a built-in offline demo server.
//!
//! The history sent with each request is the conversation so far: the user's messages and the
//! assistant's answers, without the reasoning (as SiliconFlow's multi-turn guide does it). A turn that
//! fails half-way is dropped from the history, so the next request never carries a partial answer.

mod support;

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use siliconflow::{ChatRequest, ChatStream, Client, Error, FinishReason, Message};

const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-R1";

/// ANSI: dim (faint) text, and back to normal.
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";
/// ANSI: back to the start of the line and erase it.
const ERASE_LINE: &str = "\r\x1b[K";

struct Options {
    model: String,
    system: Option<String>,
    show_reasoning: bool,
}

fn usage() -> String {
    format!(
        "usage: cargo run --example chat -- [--model MODEL] [--system TEXT] [--no-reasoning]\n\n\
         An interactive chat: type a message and press Enter; /reset forgets the conversation,\n\
         /exit or Ctrl-D quits. MODEL defaults to {DEFAULT_MODEL}. --system sets a system prompt;\n\
         --no-reasoning hides the model's reasoning. Without SILICONFLOW_API_KEY the chat talks to\n\
         a built-in offline demo server."
    )
}

fn parse_options() -> Options {
    let mut options = Options {
        model: DEFAULT_MODEL.to_string(),
        system: None,
        show_reasoning: true,
    };
    let fail = |message: String| -> ! {
        eprintln!("error: {message}\n\n{}", usage());
        std::process::exit(2);
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| match inline.clone().or_else(|| args.next()) {
            Some(value) if !value.is_empty() => value,
            _ => fail(format!("{name} needs {what}")),
        };
        match name.as_str() {
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            "-m" | "--model" => options.model = value("a model name"),
            "-s" | "--system" => options.system = Some(value("a system prompt")),
            "--no-reasoning" if inline.is_none() => options.show_reasoning = false,
            _ if arg.starts_with('-') => fail(format!("unknown option {arg}")),
            _ => fail(format!(
                "unexpected argument {arg:?}: the chat reads its messages from stdin"
            )),
        }
    }
    options
}

fn main() -> ExitCode {
    let options = parse_options();
    let (client, _demo) = match support::client_from_env_or_demo() {
        Ok(pair) => pair,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match chat(&client, &options) {
        Ok(()) => ExitCode::SUCCESS,
        // Reading stdin or writing stdout failed (for example a closed pipe).
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The read–answer loop. Returns at end of input or `/exit`; only I/O errors on stdin/stdout end
/// it early (a failed request is reported and the chat goes on).
fn chat(client: &Client, options: &Options) -> io::Result<()> {
    let interactive = io::stdin().is_terminal();
    let mut ui = Ui {
        out: io::stdout().lock(),
        tty: io::stdout().is_terminal(),
        show_reasoning: options.show_reasoning,
        state: Shown::Nothing,
        line_start: true,
        trim_newlines: true,
    };
    let base: Vec<Message> = options
        .system
        .iter()
        .map(|text| Message::system(text.as_str()))
        .collect();
    let mut history = base.clone();
    if interactive {
        eprintln!(
            "chatting with {} — /reset forgets the conversation, /exit or Ctrl-D quits",
            options.model
        );
    }

    let mut stdin = io::stdin().lock();
    let mut raw = Vec::new();
    loop {
        if interactive {
            ui.prompt()?;
        }
        raw.clear();
        if stdin.read_until(b'\n', &mut raw)? == 0 {
            // End of input (Ctrl-D): leave the terminal on a fresh line.
            if interactive {
                ui.newline()?;
            }
            return Ok(());
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                history.clone_from(&base);
                ui.note("(conversation cleared)")?;
                continue;
            }
            "/help" => {
                ui.note(
                    "/reset forgets the conversation (keeping the system prompt); \
                     /exit or Ctrl-D quits",
                )?;
                continue;
            }
            _ => {}
        }

        history.push(Message::user(line));
        let request = ChatRequest::new(options.model.as_str(), history.clone());
        let request = support::ask_for_usage(client, request);
        match ui.answer(client, &request)? {
            Some(reply) => history.push(reply),
            // Failed, or nothing to keep: the question goes too, so the history stays a clean
            // alternation of questions and complete answers.
            None => {
                history.pop();
            }
        }
    }
}

/// What the current answer has printed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Nothing,
    /// The waiting indicator (`…`, or `thinking…` while hidden reasoning streams).
    Waiting,
    Thinking,
    Reasoning,
    Answer,
}

/// The terminal (or pipe) side: what is printed, and how.
struct Ui {
    out: io::StdoutLock<'static>,
    /// Whether stdout is a terminal: dim text and a waiting indicator instead of labels.
    tty: bool,
    show_reasoning: bool,
    state: Shown,
    /// Whether the cursor is at the start of a line.
    line_start: bool,
    /// Whether the section just started, so its leading newlines are skipped.
    trim_newlines: bool,
}

impl Ui {
    fn prompt(&mut self) -> io::Result<()> {
        if self.tty {
            write!(self.out, "> ")?;
            self.out.flush()
        } else {
            // stdout is a pipe or a file but the user types at a terminal: prompt there.
            eprint!("> ");
            Ok(())
        }
    }

    fn newline(&mut self) -> io::Result<()> {
        if self.tty {
            writeln!(self.out)?;
            self.out.flush()?;
        } else {
            eprintln!();
        }
        Ok(())
    }

    /// A line of the chat's own (not the model's), dimmed on a terminal.
    fn note(&mut self, text: &str) -> io::Result<()> {
        self.end_line()?;
        if self.tty {
            writeln!(self.out, "{DIM}{text}{RESET}")?;
        } else {
            writeln!(self.out, "{text}")?;
        }
        self.line_start = true;
        self.out.flush()
    }

    /// Streams one answer. Returns the assistant message to keep in the history, or `None` when the
    /// turn failed (the error has been printed) or produced nothing worth keeping.
    fn answer(&mut self, client: &Client, request: &ChatRequest) -> io::Result<Option<Message>> {
        self.state = Shown::Nothing;
        if self.tty {
            self.waiting("…")?;
        }
        let mut stream = match client.chat_stream(request) {
            Ok(stream) => stream.split_think_tags(true),
            Err(err) => {
                self.failed(&err)?;
                return Ok(None);
            }
        };
        let mut deltas = 0u64;
        let mut failure = None;
        for delta in &mut stream {
            let delta = match delta {
                Ok(delta) => delta,
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            };
            if let Some(text) = &delta.reasoning_content {
                deltas += 1;
                self.reasoning(text)?;
            }
            if let Some(text) = &delta.content {
                deltas += 1;
                self.content(text)?;
            }
        }
        if let Some(err) = failure {
            // The partial answer stays on the screen, but not in the history.
            self.failed(&err)?;
            return Ok(None);
        }
        self.clear_waiting()?;
        self.end_line()?;
        let stats = stats_line(&stream, deltas);
        self.note(&stats)?;
        if self.tty {
            // Air between one exchange and the next prompt.
            writeln!(self.out)?;
        }

        if stream.spent_budget_thinking() {
            self.note(
                "(the model spent its whole token budget thinking and gave no answer: ask again, \
                 or raise max_tokens / thinking_budget; this turn is not kept in the history)",
            )?;
            return Ok(None);
        }
        if stream.finish_reason() == Some(&FinishReason::Length) {
            self.note("(the answer was cut off at the token limit)")?;
        }
        if stream.content().trim().is_empty() && stream.tool_calls().is_empty() {
            self.note("(the model sent no answer; this turn is not kept in the history)")?;
            return Ok(None);
        }
        Ok(Some(stream.message()))
    }

    fn reasoning(&mut self, text: &str) -> io::Result<()> {
        if !self.show_reasoning {
            // Hidden, but the model is clearly working: say so while waiting for the answer.
            if self.tty && self.state == Shown::Waiting {
                self.waiting("thinking…")?;
                self.state = Shown::Thinking;
            }
            return Ok(());
        }
        if self.state != Shown::Reasoning {
            self.clear_waiting()?;
            self.start_section("[reasoning]")?;
            self.state = Shown::Reasoning;
        }
        self.write_text(text, true)
    }

    fn content(&mut self, text: &str) -> io::Result<()> {
        if self.state != Shown::Answer {
            self.clear_waiting()?;
            if self.state == Shown::Reasoning {
                self.end_line()?;
                if self.tty {
                    // A blank line between the dimmed reasoning and the answer.
                    writeln!(self.out)?;
                }
            }
            self.start_section("[answer]")?;
            self.state = Shown::Answer;
        }
        self.write_text(text, false)
    }

    /// On a pipe, a label line; on a terminal, nothing (dimming tells reasoning from answer).
    fn start_section(&mut self, label: &str) -> io::Result<()> {
        self.end_line()?;
        if !self.tty {
            writeln!(self.out, "{label}")?;
        }
        self.trim_newlines = true;
        Ok(())
    }

    /// Prints a piece of the model's text at once, dimmed if it is reasoning on a terminal. Each piece
    /// is dimmed on its own, so an interrupted answer never leaves the terminal dim.
    fn write_text(&mut self, text: &str, dim: bool) -> io::Result<()> {
        let text = if self.trim_newlines {
            text.trim_start_matches(['\r', '\n'])
        } else {
            text
        };
        if text.is_empty() {
            return Ok(());
        }
        self.trim_newlines = false;
        if dim && self.tty {
            write!(self.out, "{DIM}{text}{RESET}")?;
        } else {
            write!(self.out, "{text}")?;
        }
        self.line_start = text.ends_with('\n');
        self.out.flush()
    }

    /// Shows the waiting indicator (terminal only), replacing any earlier one.
    fn waiting(&mut self, text: &str) -> io::Result<()> {
        if self.state == Shown::Waiting || self.state == Shown::Thinking {
            write!(self.out, "{ERASE_LINE}")?;
        }
        write!(self.out, "{DIM}{text}{RESET}")?;
        self.state = Shown::Waiting;
        self.line_start = false;
        self.out.flush()
    }

    fn clear_waiting(&mut self) -> io::Result<()> {
        if matches!(self.state, Shown::Waiting | Shown::Thinking) {
            write!(self.out, "{ERASE_LINE}")?;
            self.state = Shown::Nothing;
            self.line_start = true;
            self.out.flush()?;
        }
        Ok(())
    }

    fn end_line(&mut self) -> io::Result<()> {
        if !self.line_start {
            writeln!(self.out)?;
            self.line_start = true;
        }
        self.out.flush()
    }

    /// Reports a failed turn on stderr, after what was shown of it.
    fn failed(&mut self, err: &Error) -> io::Result<()> {
        self.clear_waiting()?;
        self.end_line()?;
        eprintln!("{}", describe(err));
        Ok(())
    }
}

/// One line for a failed request: the HTTP status and the server's message for an API error.
fn describe(err: &Error) -> String {
    let mut text = match err {
        Error::Api(api) => format!("error: HTTP {}: {}", api.status, api.message),
        other => format!("error: {other}"),
    };
    if let Some(request_id) = err.api_error().and_then(|api| api.request_id.as_deref()) {
        text.push_str(&format!(" (request id {request_id})"));
    }
    // Causes the message does not already include (an I/O error under a cut stream, …).
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!("\n  caused by: {cause_text}"));
        }
        source = cause.source();
    }
    text
}

/// `first token 0.41 s · 38.2 tokens/s · 12 prompt + 130 completion (70 reasoning) = 142 tokens`
fn stats_line<R>(stream: &ChatStream<R>, deltas: u64) -> String {
    let timings = stream.timings();
    let mut parts = Vec::new();
    match (timings.first_token(), timings.first_content) {
        // A reasoning model: when the thinking began, and when the answer did.
        (Some(first), Some(answer)) if answer > first => parts.push(format!(
            "first token {} (answer from {})",
            seconds(first),
            seconds(answer)
        )),
        (Some(first), _) => parts.push(format!("first token {}", seconds(first))),
        (None, _) => parts.push("no text".to_string()),
    }
    // Speed over the time the text was streaming: from the first token to the end.
    let streaming = timings
        .first_token()
        .zip(timings.total)
        .map(|(first, total)| total.saturating_sub(first).as_secs_f64())
        .filter(|secs| *secs > 0.0);
    let usage = stream.usage();
    if let Some(secs) = streaming {
        match usage {
            Some(usage) => parts.push(format!(
                "{:.1} tokens/s",
                usage.completion_tokens as f64 / secs
            )),
            None => parts.push(format!("{:.1} chunks/s", deltas as f64 / secs)),
        }
    }
    match usage {
        Some(usage) => {
            let reasoning = usage
                .reasoning_tokens()
                .map_or_else(String::new, |n| format!(" ({n} reasoning)"));
            parts.push(format!(
                "{} prompt + {} completion{reasoning} = {} tokens",
                usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
            ));
        }
        None => parts.push(format!("usage not reported; {deltas} chunks")),
    }
    let stats = parts.join(" · ");
    format!("[stats] {stats}")
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}
