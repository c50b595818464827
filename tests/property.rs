//! Deterministic property tests of the stream decoder (SSE decoder + chunk parser + accumulator).
//!
//! A seeded generator (SplitMix64, below) builds thousands of bodies from a grammar of realistic and hostile
//! pieces: chunk events of every shape servers send, comments, `event:`/`id:`/`retry:` lines, LF / CRLF /
//! CR line ends, empty events, a BOM, `[DONE]` anywhere, error events, malformed JSON, truncation at any
//! byte, and garbage including invalid UTF-8. Every body is streamed at a set of read splits (whole, 1, 2
//! and 3 bytes per read, an irregular schedule, and for small bodies every cut point with two reads), and:
//!
//! - nothing panics, and every split yields the same items (deltas equal, errors of the same kind);
//! - `content()` / `reasoning_content()` equal the concatenation of the deltas handed out for choice 0;
//! - the SSE events equal those of a literal reference implementation of the WHATWG algorithm, and the
//!   stream consumed the body exactly up to the event it stopped at (no read-ahead, nothing skipped);
//! - for bodies built without mutation, the deltas and the outcome are those the grammar predicts.
//!
//! Nothing is printed on success. A failure prints the case's seed and its body as an escaped byte string;
//! `PROPERTY_SEED=0x… PROPERTY_CASES=1 cargo test --test property NAME` replays just that case.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use siliconflow::sse::{SseDecoder, SseError};
use siliconflow::{ChatDelta, ChatStream, Error, StreamEnd, StreamLimits};

// ---- A small seeded generator ----------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and good enough to drive a grammar.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with the given probability in percent.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of case `i` of a family: distinct per family and per case, and printed on failure.
fn case_seed(family: u64, i: u64) -> u64 {
    let mut rng = Rng(family.wrapping_mul(0x1000_0000_01B3) ^ i);
    rng.next()
}

/// Runs `cases` cases of a family (or the one case `PROPERTY_SEED` names), printing the seed and the body of
/// a failing case before failing.
fn for_each_case<T>(
    family: u64,
    cases: u64,
    case: impl Fn(&mut Rng) -> (Vec<u8>, T),
    check: impl Fn(&[u8], &T, &mut Rng),
) {
    let seeds: Vec<u64> = match std::env::var("PROPERTY_SEED") {
        Ok(seed) => {
            let seed = seed.trim_start_matches("0x");
            vec![u64::from_str_radix(seed, 16).expect("PROPERTY_SEED is hex")]
        }
        Err(_) => (0..cases).map(|i| case_seed(family, i)).collect(),
    };
    for seed in seeds {
        let mut rng = Rng(seed);
        let (body, extra) = case(&mut rng);
        let result = panic::catch_unwind(AssertUnwindSafe(|| check(&body, &extra, &mut rng)));
        if let Err(payload) = result {
            eprintln!(
                "\nproperty failed for seed {seed:#018x} ({} bytes); replay with PROPERTY_SEED={seed:#x} PROPERTY_CASES=1\nbody: b\"{}\"\n",
                body.len(),
                body.escape_ascii()
            );
            panic::resume_unwind(payload);
        }
    }
}

// ---- The grammar ----------------------------------------------------------------------------------------

/// Text pieces as they appear inside a JSON string, and what they decode to.
const TEXTS: &[(&str, &str)] = &[
    ("Hello", "Hello"),
    (" world", " world"),
    ("a", "a"),
    ("你好", "你好"),
    ("世界", "世界"),
    ("思考", "思考"),
    ("😀", "😀"),
    ("🎉", "🎉"),
    ("é", "é"),
    ("\\n", "\n"),
    ("\\r\\n", "\r\n"),
    ("\\\"", "\""),
    ("\\\\", "\\"),
    ("\\t", "\t"),
    ("\\/", "/"),
    ("\\u00e9", "é"),
    ("\\u4f60", "你"),
    ("\\ud83d\\ude00", "😀"),
    ("\\u2028", "\u{2028}"),
    ("\\u0000", "\0"),
    ("data: x", "data: x"),
    ("[DONE]", "[DONE]"),
    (": ", ": "),
    ("{\\\"a\\\":1}", "{\"a\":1}"),
];

const FINISH_REASONS: &[&str] = &[
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "eos",
    "",
    "abort_unknown",
];

/// Chunks the parser must refuse as `MalformedChunk`.
const MALFORMED: &[&str] = &[
    "{bad",
    "42",
    "[1,2]",
    "\"text\"",
    "nul",
    "{\"choices\": 3}",
    "{\"choices\":[{\"delta\":{\"content\":5}}]}",
    "{} trailing",
    "{\"choices\":[{\"index\":-1,\"delta\":{}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]",
    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":5}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":\"0\"}]}}]}",
    "{\"choices\":[1]}",
];

/// Events that are stream errors: `(lines)`.
const ERRORS: &[&[&str]] = &[
    &[
        "event: error",
        "data: {\"message\":\"upstream timeout\",\"code\":504}",
    ],
    &["event: error", "data: plain words"],
    &["event:error", "data: [DONE]"],
    &["data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":null}}"],
    &["data: {\"code\":50505,\"message\":\"Model service overloaded\",\"data\":null}"],
    &["data: {\"error\":\"just a string\"}"],
];

/// Events and lines that dispatch nothing the chat layer counts.
const NOTHING: &[&[&str]] = &[
    &[": keep-alive"],
    &[":"],
    &["data:"],
    &["data"],
    &["data:   "],
    &["event: ping"],
    &["id: 7"],
    &["retry: 10"],
    &["data:", "data:"],
];

/// Lines that may precede the data of a chunk event without changing its meaning.
const PREFIXES: &[&str] = &[
    "event: message",
    "event:message",
    "id: 12",
    "id",
    "retry: 3000",
    "retry: x1",
    ": inline comment",
    "unknown: field",
    "DATA: field names are case-sensitive",
    "event: error",
];

/// What a choice of a chunk must become.
#[derive(Debug, Clone, PartialEq)]
struct ExpDelta {
    index: u32,
    content: Option<String>,
    reasoning: Option<String>,
    finish: Option<String>,
    tool_calls: Vec<ExpTool>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct ExpTool {
    index: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

/// What one dispatched event does to the stream.
#[derive(Debug, Clone)]
enum Effect {
    Chunk {
        deltas: Vec<ExpDelta>,
        /// `Some(total)` when the chunk carries a usage object.
        usage: Option<u64>,
    },
    Done,
    StreamError,
    Malformed {
        data: String,
    },
}

/// One counted event of a generated body and where its dispatching blank line starts to end.
#[derive(Debug, Clone)]
struct Piece {
    end: usize,
    effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Eol {
    Lf,
    CrLf,
    Cr,
    Mixed,
}

/// Builds a body line by line and records what each event must do.
struct Body<'r> {
    rng: &'r mut Rng,
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    eol: Eol,
    last_cr: bool,
}

impl<'r> Body<'r> {
    fn new(rng: &'r mut Rng) -> Self {
        let eol = *rng.pick(&[Eol::Lf, Eol::Lf, Eol::CrLf, Eol::Cr, Eol::Mixed]);
        let mut bytes = Vec::new();
        if rng.chance(10) {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        Body {
            rng,
            bytes,
            pieces: Vec::new(),
            eol,
            last_cr: false,
        }
    }

    /// Appends a line and its terminator; returns the offset just past the terminator's first byte.
    fn line(&mut self, text: &[u8]) -> usize {
        self.bytes.extend_from_slice(text);
        let mut eol: &[u8] = match self.eol {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
            Eol::Cr => b"\r",
            Eol::Mixed => {
                const EOLS: &[&[u8]] = &[b"\n", b"\r\n", b"\r"];
                EOLS[self.rng.below(EOLS.len())]
            }
        };
        // A CR ending the previous line and a LF ending this empty one would read as one CRLF.
        if self.last_cr && text.is_empty() && eol == b"\n" {
            eol = b"\r\n";
        }
        self.bytes.extend_from_slice(eol);
        self.last_cr = eol == b"\r";
        self.bytes.len() - eol.len() + 1
    }

    /// Appends an event (its lines and the blank line); a counted one is recorded with its effect.
    fn event(&mut self, lines: &[String], effect: Option<Effect>) {
        for line in lines {
            self.line(line.as_bytes());
        }
        let end = self.line(b"");
        if let Some(effect) = effect {
            self.pieces.push(Piece { end, effect });
        }
    }

    fn text(&mut self) -> (String, String) {
        let (mut json, mut text) = (String::new(), String::new());
        for _ in 0..self.rng.range(1, 4) {
            let (j, t) = self.rng.pick(TEXTS);
            json.push_str(j);
            text.push_str(t);
        }
        (json, text)
    }

    /// A JSON string field holding text, `null`, `""`, or nothing; returns the text it carries (if any).
    fn text_field(&mut self, out: &mut Vec<String>, name: &str, percent: usize) -> Option<String> {
        if self.rng.chance(percent) {
            let (json, text) = self.text();
            out.push(format!("\"{name}\":\"{json}\""));
            return Some(text);
        }
        match self.rng.below(4) {
            0 => out.push(format!("\"{name}\":null")),
            1 => out.push(format!("\"{name}\":\"\"")),
            _ => {}
        }
        None
    }

    fn choice(&mut self, index: u32) -> (String, ExpDelta) {
        let mut delta = Vec::new();
        match self.rng.below(4) {
            0 => delta.push("\"role\":\"assistant\"".to_string()),
            1 => delta.push("\"role\":null".to_string()),
            _ => {}
        }
        let content = self.text_field(&mut delta, "content", 50);
        let reasoning = match self.rng.below(10) {
            0..=2 => self.text_field(&mut delta, "reasoning_content", 80),
            3 => self.text_field(&mut delta, "reasoning", 80),
            4 => {
                // Both names with the same text: counted once.
                let (json, text) = self.text();
                delta.push(format!("\"reasoning_content\":\"{json}\""));
                delta.push(format!("\"reasoning\":\"{json}\""));
                Some(text)
            }
            5 => {
                let (json, text) = self.text();
                delta.push("\"reasoning_content\":\"\"".to_string());
                delta.push(format!("\"reasoning\":\"{json}\""));
                Some(text)
            }
            _ => None,
        };
        let mut tool_calls = Vec::new();
        if self.rng.chance(15) {
            let mut calls = Vec::new();
            for _ in 0..self.rng.range(1, 2) {
                let tool = ExpTool {
                    index: self.rng.below(2) as u32,
                    id: self
                        .rng
                        .chance(40)
                        .then(|| format!("call_{}", self.rng.below(100))),
                    name: self.rng.chance(40).then(|| "get_weather".to_string()),
                    arguments: self.rng.chance(80).then(|| self.text().1),
                };
                let opt = |v: &Option<String>| match v {
                    Some(v) => format!("\"{}\"", v.escape_default()),
                    None => "null".to_string(),
                };
                let arguments = match &tool.arguments {
                    // `escape_default` is not JSON for every char: write the arguments as JSON text.
                    Some(a) => json_string(a),
                    None => "null".to_string(),
                };
                calls.push(format!(
                    "{{\"index\":{},\"id\":{},\"type\":{},\"function\":{{\"name\":{},\"arguments\":{arguments}}}}}",
                    tool.index,
                    opt(&tool.id),
                    if tool.id.is_some() { "\"function\"" } else { "null" },
                    opt(&tool.name),
                ));
                tool_calls.push(tool);
            }
            delta.push(format!("\"tool_calls\":[{}]", calls.join(",")));
        }
        if self.rng.chance(10) {
            delta.push("\"unknown_delta_field\":{\"a\":[1,null]}".to_string());
        }
        let mut choice = vec![format!("\"index\":{index}")];
        if self.rng.chance(5) {
            choice.push("\"delta\":null".to_string());
        } else {
            choice.push(format!("\"delta\":{{{}}}", delta.join(",")));
        }
        let finish = if self.rng.chance(25) {
            let reason = *self.rng.pick(FINISH_REASONS);
            choice.push(format!("\"finish_reason\":\"{reason}\""));
            (!reason.is_empty()).then(|| reason.to_string())
        } else {
            if self.rng.chance(50) {
                choice.push("\"finish_reason\":null".to_string());
            }
            None
        };
        if self.rng.chance(20) {
            choice.push("\"logprobs\":null".to_string());
        }
        if self.rng.chance(5) {
            choice.push("\"content_filter_results\":{\"hate\":{\"filtered\":false}}".to_string());
        }
        self.rng_shuffle(&mut choice);
        let delta_is_null = choice.iter().any(|f| f == "\"delta\":null");
        let expected = ExpDelta {
            index,
            content: if delta_is_null { None } else { content },
            reasoning: if delta_is_null { None } else { reasoning },
            finish,
            tool_calls: if delta_is_null {
                Vec::new()
            } else {
                tool_calls
            },
        };
        (format!("{{{}}}", choice.join(",")), expected)
    }

    fn rng_shuffle(&mut self, items: &mut [String]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.rng.below(i + 1));
        }
    }

    /// A chunk event: metadata, 0 to 3 choices, maybe usage, maybe split over several `data:` lines.
    fn chunk(&mut self) {
        let mut fields = Vec::new();
        if self.rng.chance(60) {
            fields.push("\"id\":\"chatcmpl-1\"".to_string());
            fields.push("\"object\":\"chat.completion.chunk\"".to_string());
            fields.push("\"created\":1700000000".to_string());
            fields.push("\"model\":\"deepseek-ai/DeepSeek-R1\"".to_string());
        }
        if self.rng.chance(10) {
            fields.push("\"system_fingerprint\":null".to_string());
        }
        let mut deltas = Vec::new();
        let count = *self.rng.pick(&[0, 1, 1, 1, 1, 1, 1, 1, 2, 3]);
        if count == 0 && self.rng.chance(30) {
            fields.push("\"choices\":null".to_string());
        } else {
            let mut choices = Vec::new();
            for _ in 0..count {
                let index = *self.rng.pick(&[0, 0, 0, 1, 2]);
                let (json, expected) = self.choice(index);
                choices.push(json);
                deltas.push(expected);
            }
            fields.push(format!("\"choices\":[{}]", choices.join(",")));
        }
        let usage = match self.rng.below(6) {
            0 => {
                let total = self.rng.below(1000) as u64;
                fields.push(format!(
                    "\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":{},\"total_tokens\":{total}}}",
                    total.saturating_sub(3)
                ));
                Some(total)
            }
            1 => {
                fields.push("\"usage\":null".to_string());
                None
            }
            2 => {
                fields.push("\"usage\":{\"prompt_tokens\":null,\"total_tokens\":null,\"completion_tokens_details\":{\"reasoning_tokens\":2}}".to_string());
                Some(0)
            }
            _ => None,
        };
        if self.rng.chance(5) {
            fields.push("\"x_extra\":{\"nested\":[1,{\"b\":null},\"s\"]}".to_string());
        }
        self.rng_shuffle(&mut fields);
        let json = format!("{{{}}}", fields.join(","));
        let mut lines = Vec::new();
        if self.rng.chance(20) {
            let prefix = *self.rng.pick(PREFIXES);
            // An `event: error` line makes the event an error: keep it only with an override after it.
            lines.push(prefix.to_string());
            if prefix == "event: error" {
                lines.push("event: message".to_string());
            }
        }
        let data = self.rng.pick(&["data: ", "data: ", "data:"]).to_string();
        if self.rng.chance(15) {
            // Split the JSON between tokens over several `data:` lines; they join with "\n" (whitespace).
            let cuts = safe_cuts(&json);
            let mut chosen = Vec::new();
            if !cuts.is_empty() {
                for _ in 0..self.rng.range(1, 3) {
                    chosen.push(cuts[self.rng.below(cuts.len())]);
                }
            }
            chosen.sort_unstable();
            chosen.dedup();
            let mut start = 0;
            for cut in chosen.into_iter().chain([json.len()]) {
                lines.push(format!("{data}{}", &json[start..cut]));
                start = cut;
            }
        } else {
            lines.push(format!("{data}{json}"));
        }
        self.event(&lines, Some(Effect::Chunk { deltas, usage }));
    }

    fn done(&mut self) {
        let line = *self
            .rng
            .pick(&["data: [DONE]", "data:[DONE]", "data:  [DONE]  "]);
        self.event(&[line.to_string()], Some(Effect::Done));
    }

    fn error(&mut self) {
        let lines: Vec<String> = self
            .rng
            .pick(ERRORS)
            .iter()
            .map(|l| l.to_string())
            .collect();
        self.event(&lines, Some(Effect::StreamError));
    }

    fn malformed(&mut self) {
        let data = *self.rng.pick(MALFORMED);
        self.event(
            &[format!("data: {data}")],
            Some(Effect::Malformed {
                data: data.to_string(),
            }),
        );
    }

    fn nothing(&mut self) {
        let lines: Vec<String> = self
            .rng
            .pick(NOTHING)
            .iter()
            .map(|l| l.to_string())
            .collect();
        if lines[0].starts_with(':') && self.rng.chance(50) {
            // A comment between events, without a blank line of its own.
            for line in &lines {
                self.line(line.as_bytes());
            }
        } else {
            self.event(&lines, None);
        }
    }

    /// A finishing chunk for choice 0 (and any other choice seen), so bodies can end complete.
    fn finish_all(&mut self) {
        let mut indices: Vec<u32> = self
            .pieces
            .iter()
            .flat_map(|p| match &p.effect {
                Effect::Chunk { deltas, .. } => deltas.iter().map(|d| d.index).collect(),
                _ => Vec::new(),
            })
            .collect();
        indices.push(0);
        indices.sort_unstable();
        indices.dedup();
        let choices: Vec<String> = indices
            .iter()
            .map(|i| format!("{{\"index\":{i},\"delta\":{{}},\"finish_reason\":\"stop\"}}"))
            .collect();
        let deltas = indices
            .iter()
            .map(|&index| ExpDelta {
                index,
                content: None,
                reasoning: None,
                finish: Some("stop".into()),
                tool_calls: Vec::new(),
            })
            .collect();
        self.event(
            &[format!("data: {{\"choices\":[{}]}}", choices.join(","))],
            Some(Effect::Chunk {
                deltas,
                usage: None,
            }),
        );
    }

    /// A body of `pieces` random pieces and a random ending.
    fn generate(mut self, pieces: usize) -> (Vec<u8>, Vec<Piece>) {
        for _ in 0..pieces {
            match self.rng.below(100) {
                0..=59 => self.chunk(),
                60..=69 => self.nothing(),
                70..=73 => self.done(),
                74..=76 => self.error(),
                77..=79 => self.malformed(),
                _ => self.chunk(),
            }
        }
        match self.rng.below(10) {
            0..=4 => {
                self.finish_all();
                self.done();
            }
            5..=6 => self.finish_all(),
            7 => self.done(),
            _ => {}
        }
        (self.bytes, self.pieces)
    }
}

/// A JSON string literal for `text`.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Offsets in `json` (outside strings, after `,` `:` `{` `[`) where a newline may be inserted.
fn safe_cuts(json: &str) -> Vec<usize> {
    let (mut cuts, mut in_string, mut escaped) = (Vec::new(), false, false);
    for (i, b) in json.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b',' | b':' | b'{' | b'[') && i + 1 < json.len() {
            cuts.push(i + 1);
        }
    }
    cuts
}

/// Hostile edits: garbage bytes (invalid UTF-8 included), stray line ends, duplicated or dropped slices,
/// an injected `[DONE]`, truncation.
fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    const GARBAGE: &[&[u8]] = &[
        b"\xFF",
        b"\xC3",
        b"\x80",
        b"\xF0\x9F",
        b"\xED\xA0\x80",
        b"\r",
        b"\n",
        b"\r\n",
        b"\n\n",
        b":",
        b"{",
        b"\"",
        b"\0",
        b"data: [DONE]\n\n",
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
        b"event: error\n",
        b"\xEF\xBB\xBF",
        b"data:",
    ];
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(body.len() + 1);
        match rng.below(6) {
            0 | 1 => {
                let garbage = *rng.pick(GARBAGE);
                body.splice(at..at, garbage.iter().copied());
            }
            2 => {
                let byte = rng.next() as u8;
                if at < body.len() {
                    body[at] = byte;
                } else {
                    body.push(byte);
                }
            }
            3 if at < body.len() => {
                let end = (at + rng.range(1, 40)).min(body.len());
                let slice = body[at..end].to_vec();
                let to = rng.below(body.len() + 1);
                body.splice(to..to, slice);
            }
            4 if at < body.len() => {
                let end = (at + rng.range(1, 20)).min(body.len());
                body.drain(at..end);
            }
            _ => body.truncate(at),
        }
    }
}

// ---- The reference decoder ------------------------------------------------------------------------------

/// One event of the reference decoder.
#[derive(Debug, Clone, PartialEq)]
struct RefEvent {
    event: String,
    data: String,
    id: Option<String>,
    retry: Option<u64>,
    /// Offset just past the first byte of the dispatching blank line's terminator.
    end_min: usize,
    /// Offset just past the whole terminator (CRLF counted whole).
    end_max: usize,
}

/// The WHATWG "parsing an event stream" algorithm, as literally as possible, over the whole body. An
/// unterminated last line and an event without its blank line are discarded.
fn reference_events(body: &[u8]) -> Vec<RefEvent> {
    let mut out = Vec::new();
    let mut pos = if body.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let (mut data, mut event) = (String::new(), String::new());
    let (mut id, mut retry) = (None::<String>, None::<u64>);
    while let Some(offset) = body[pos..].iter().position(|&b| b == b'\r' || b == b'\n') {
        let line = &body[pos..pos + offset];
        let end_min = pos + offset + 1;
        let end_max = if body[pos + offset] == b'\r' && body.get(end_min) == Some(&b'\n') {
            end_min + 1
        } else {
            end_min
        };
        pos = end_max;
        if line.is_empty() {
            if data.is_empty() {
                event.clear();
                continue;
            }
            data.pop();
            out.push(RefEvent {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    std::mem::take(&mut event)
                },
                data: std::mem::take(&mut data),
                id: id.clone(),
                retry,
                end_min,
                end_max,
            });
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let text = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                data.push_str(&text);
                data.push('\n');
            }
            b"event" => event = text.into_owned(),
            b"id" if !value.contains(&0) => id = Some(text.into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(ms) = text.parse() {
                    retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    out
}

// ---- Running a body -------------------------------------------------------------------------------------

/// A reader over a body whose reads return at most the next size of `splits` (cycling), and that counts
/// how many bytes it has handed out.
struct Split<'a> {
    data: &'a [u8],
    handed: Rc<Cell<usize>>,
    splits: &'a [usize],
    n: usize,
}

impl Read for Split<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = self.splits[self.n % self.splits.len()].max(1);
        self.n += 1;
        let pos = self.handed.get();
        let len = want.min(out.len()).min(self.data.len() - pos);
        out[..len].copy_from_slice(&self.data[pos..pos + len]);
        self.handed.set(pos + len);
        Ok(len)
    }
}

/// An error reduced to what must be equal at every split.
fn summary(error: &Error) -> String {
    match error {
        Error::StreamCut {
            received,
            reason,
            source,
        } => format!("StreamCut {received} {reason:?} io={}", source.is_some()),
        Error::MalformedChunk {
            event,
            data,
            source,
        } => format!(
            "MalformedChunk {event} {data:?} at {}:{}",
            source.line(),
            source.column()
        ),
        Error::EventTooLarge { limit } => format!("EventTooLarge {limit}"),
        Error::Stream(api) => format!("Stream {api:?}"),
        other => panic!("an in-memory body cannot cause {other:?}"),
    }
}

#[derive(Debug, PartialEq)]
enum Item {
    Delta(ChatDelta),
    Error(String),
}

/// Everything observable about one run over a body.
#[derive(Debug, PartialEq)]
struct Run {
    items: Vec<Item>,
    content: String,
    reasoning: String,
    choices: String,
    usage_total: Option<u64>,
    end: Option<StreamEnd>,
    events: u64,
}

fn concat(deltas: &[&ChatDelta], index: u32, reasoning: bool) -> String {
    deltas
        .iter()
        .filter(|d| d.index == index)
        .filter_map(|d| {
            if reasoning {
                d.reasoning_content.as_deref()
            } else {
                d.content.as_deref()
            }
        })
        .collect()
}

/// Streams to the end, checking the per-run invariants.
fn run<R: BufRead>(mut stream: ChatStream<R>) -> Run {
    let mut items = Vec::new();
    let mut failed = false;
    for item in stream.by_ref() {
        assert!(!failed, "an item after an error: {item:?}");
        items.push(match item {
            Ok(delta) => Item::Delta(delta),
            Err(error) => {
                failed = true;
                Item::Error(summary(&error))
            }
        });
        assert!(items.len() < 100_000, "runaway iterator");
    }
    assert!(stream.next().is_none(), "fused");
    assert!(stream.next().is_none(), "fused");

    let deltas: Vec<&ChatDelta> = items
        .iter()
        .filter_map(|i| match i {
            Item::Delta(d) => Some(d),
            Item::Error(_) => None,
        })
        .collect();
    assert_eq!(stream.content(), concat(&deltas, 0, false), "content()");
    assert_eq!(
        stream.reasoning_content(),
        concat(&deltas, 0, true),
        "reasoning_content()"
    );
    for choice in stream.choices() {
        assert_eq!(choice.content(), concat(&deltas, choice.index(), false));
        assert_eq!(
            choice.reasoning_content(),
            concat(&deltas, choice.index(), true)
        );
    }
    let all_finished = !stream.choices().is_empty()
        && stream.choices().iter().all(|c| c.finish_reason().is_some());
    match stream.end() {
        Some(StreamEnd::Failed) => assert!(failed),
        Some(StreamEnd::Done) => assert!(!failed),
        Some(StreamEnd::FinishedWithoutDone) => assert!(!failed && all_finished),
        other => panic!("ended as {other:?}"),
    }
    if let Some(Item::Error(e)) = items.last() {
        if e.starts_with("StreamCut") {
            assert!(!all_finished, "every choice finished, yet cut");
        }
    }
    Run {
        items,
        content: stream.content().to_string(),
        reasoning: stream.reasoning_content().to_string(),
        choices: format!("{:?}", stream.choices()),
        usage_total: stream.usage().map(|u| u.total_tokens),
        end: stream.end(),
        events: stream.events_received(),
    }
}

/// Runs `body` through a `BufReader` of `capacity` over reads cut at `splits`; also returns how many bytes
/// the reader handed out.
fn run_split(body: &[u8], splits: &[usize], capacity: usize) -> (Run, usize) {
    let handed = Rc::new(Cell::new(0));
    let reader = Split {
        data: body,
        handed: Rc::clone(&handed),
        splits,
        n: 0,
    };
    let run = run(ChatStream::from_reader(BufReader::with_capacity(
        capacity, reader,
    )));
    (run, handed.get())
}

/// The SSE decoder alone at `splits`: its events must equal the reference, each returned without
/// reading past its blank line, and the whole body consumed at the end.
fn check_sse(body: &[u8], splits: &[usize], capacity: usize, reference: &[RefEvent]) {
    let handed = Rc::new(Cell::new(0));
    let reader = Split {
        data: body,
        handed: Rc::clone(&handed),
        splits,
        n: 0,
    };
    let mut decoder = SseDecoder::new(BufReader::with_capacity(capacity, reader));
    let mut n = 0;
    loop {
        let event = match decoder.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        };
        let expected = reference
            .get(n)
            .unwrap_or_else(|| panic!("extra event {event:?} at splits {splits:?}"));
        assert_eq!(
            (event.event, event.data, event.id, event.retry),
            (
                expected.event.as_str(),
                expected.data.as_str(),
                expected.id.as_deref(),
                expected.retry
            ),
            "event {n} at splits {splits:?}"
        );
        n += 1;
        let read = decoder.bytes_read() as usize;
        assert!(
            (expected.end_min..=expected.end_max).contains(&read),
            "event {} ends at {}..={} but {read} bytes were consumed (splits {splits:?})",
            n - 1,
            expected.end_min,
            expected.end_max
        );
    }
    assert_eq!(n, reference.len(), "events missing at splits {splits:?}");
    assert_eq!(decoder.bytes_read() as usize, body.len(), "consumed all");
}

/// With one-byte reads the reader has handed out exactly what the decoder consumed: check the stream
/// stopped right after the event that ended it, or at the end of the body.
fn check_consumption(body: &[u8], reference: &[RefEvent], run: &Run, handed: usize) {
    let counted: Vec<&RefEvent> = reference
        .iter()
        .filter(|e| !e.data.trim_ascii().is_empty())
        .collect();
    let events = run.events as usize;
    assert!(events <= counted.len(), "more events than the body has");
    let last = events.checked_sub(1).map(|i| counted[i]);
    let error = match run.items.last() {
        Some(Item::Error(e)) => Some(e.as_str()),
        _ => None,
    };
    match (run.end, error) {
        (Some(StreamEnd::Done), None) => {
            let last = last.expect("[DONE] was received");
            assert_eq!(last.data.trim_ascii(), "[DONE]");
            assert_ne!(last.event, "error");
            assert_eq!(handed, last.end_min, "stopped right after [DONE]");
        }
        (Some(StreamEnd::FinishedWithoutDone), None) => {
            assert_eq!(events, counted.len(), "every event was read");
            assert_eq!(handed, body.len());
        }
        (_, Some(e)) if e.starts_with("StreamCut") => {
            assert_eq!(events, counted.len(), "every event was read before the cut");
            assert_eq!(handed, body.len());
            assert!(e.starts_with(&format!("StreamCut {events} ")), "{e}");
        }
        (_, Some(e)) if e.starts_with("Stream ") => {
            let last = last.expect("an error event was received");
            let payload: Option<serde_json::Value> = serde_json::from_str(&last.data).ok();
            let is_error_payload = payload
                .as_ref()
                .and_then(|v| v.as_object())
                .is_some_and(|m| {
                    m.get("error").is_some_and(|e| !e.is_null())
                        || (m.contains_key("code") && m.contains_key("message"))
                });
            assert!(
                last.event == "error" || is_error_payload,
                "a stream error from {last:?}"
            );
            assert_eq!(handed, last.end_min, "stopped right after the error event");
        }
        (_, Some(e)) if e.starts_with("MalformedChunk") => {
            let last = last.expect("a chunk was received");
            assert!(e.starts_with(&format!("MalformedChunk {events} ")), "{e}");
            let data = last.data.trim_ascii();
            if data.len() <= 512 {
                assert!(e.contains(&format!("{data:?}")), "{e} vs {data:?}");
            }
            assert_eq!(handed, last.end_min, "stopped right after the bad chunk");
        }
        other => panic!("unexpected end {other:?}"),
    }
}

/// What the grammar predicts for the events that end before `cut`.
fn check_model(run: &Run, pieces: &[Piece], cut: usize) {
    let mut deltas = Vec::new();
    let mut events = 0u64;
    let mut usage = None;
    let mut finished: Vec<(u32, bool)> = Vec::new();
    let mut outcome = None;
    for piece in pieces.iter().filter(|p| p.end <= cut) {
        events += 1;
        match &piece.effect {
            Effect::Chunk {
                deltas: new,
                usage: u,
            } => {
                for d in new {
                    match finished.iter_mut().find(|(i, _)| *i == d.index) {
                        Some((_, f)) => *f |= d.finish.is_some(),
                        None => finished.push((d.index, d.finish.is_some())),
                    }
                }
                deltas.extend(new.iter().cloned());
                if u.is_some() {
                    usage = *u;
                }
            }
            Effect::Done => outcome = Some("Done".to_string()),
            Effect::StreamError => outcome = Some("Stream ".to_string()),
            Effect::Malformed { data } => {
                outcome = Some(format!("MalformedChunk {events} {:?}", data.trim_ascii()))
            }
        }
        if outcome.is_some() {
            break;
        }
    }
    let outcome = outcome.unwrap_or_else(|| {
        if !finished.is_empty() && finished.iter().all(|&(_, f)| f) {
            "FinishedWithoutDone".to_string()
        } else {
            format!("StreamCut {events} ")
        }
    });

    let got: Vec<&ChatDelta> = run
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Delta(d) => Some(d),
            Item::Error(_) => None,
        })
        .collect();
    assert_eq!(got.len(), deltas.len(), "number of deltas");
    for (n, (got, want)) in got.iter().zip(&deltas).enumerate() {
        let tools: Vec<ExpTool> = got
            .tool_calls
            .iter()
            .map(|t| ExpTool {
                index: t.index,
                id: t.id.clone(),
                name: t.function.as_ref().and_then(|f| f.name.clone()),
                arguments: t.function.as_ref().and_then(|f| f.arguments.clone()),
            })
            .collect();
        let got = ExpDelta {
            index: got.index,
            content: got.content.clone(),
            reasoning: got.reasoning_content.clone(),
            finish: got.finish_reason.as_ref().map(|f| f.as_str().to_string()),
            tool_calls: tools,
        };
        assert_eq!(&got, want, "delta {n}");
    }
    let ended = match (run.end, run.items.last()) {
        (_, Some(Item::Error(e))) => e.clone(),
        (Some(StreamEnd::Done), _) => "Done".to_string(),
        (Some(StreamEnd::FinishedWithoutDone), _) => "FinishedWithoutDone".to_string(),
        (end, _) => format!("{end:?}"),
    };
    assert!(
        ended.starts_with(&outcome),
        "ended as {ended:?}, expected {outcome:?}"
    );
    assert_eq!(run.usage_total, usage, "latest usage");
}

/// The read splits every body is run at (besides the whole body): 1, 2 and 3 bytes, and an irregular
/// schedule drawn from the case's generator.
fn splits(rng: &mut Rng) -> Vec<Vec<usize>> {
    let irregular = (0..rng.range(2, 6)).map(|_| rng.range(1, 40)).collect();
    vec![vec![1], vec![2], vec![3], irregular]
}

/// Bodies up to this size are also run at every cut point with two reads.
const EVERY_CUT_UP_TO: usize = 200;

/// The checks every body gets; `model` is the grammar's prediction (and up to where it holds), if any.
fn check_body(body: &[u8], rng: &mut Rng, model: Option<(&[Piece], usize)>) {
    let reference = reference_events(body);
    let whole = run(ChatStream::from_reader(body));
    if let Some((pieces, cut)) = model {
        check_model(&whole, pieces, cut);
    }
    check_sse(body, &[usize::MAX], body.len().max(1), &reference);
    for splits in splits(rng) {
        let (split, handed) = run_split(body, &splits, 64);
        assert_eq!(split, whole, "split {splits:?} vs whole body");
        if splits == [1] {
            check_consumption(body, &reference, &split, handed);
            check_sse(body, &splits, 64, &reference);
        }
    }
    if body.len() <= EVERY_CUT_UP_TO {
        for cut in 1..body.len() {
            let (split, _) = run_split(body, &[cut, usize::MAX], body.len());
            assert_eq!(split, whole, "two reads cut at {cut} vs whole body");
        }
    }
}

fn cases(default: u64) -> u64 {
    std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

// ---- The properties -------------------------------------------------------------------------------------

#[test]
fn generated_bodies_match_the_grammar_at_every_split() {
    for_each_case(
        1,
        cases(800),
        |rng| {
            let n = rng.range(0, 10);
            Body::new(rng).generate(n)
        },
        |body, pieces, rng| check_body(body, rng, Some((pieces, usize::MAX))),
    );
}

#[test]
fn truncated_bodies_keep_every_complete_event() {
    for_each_case(
        2,
        cases(500),
        |rng| {
            let n = rng.range(1, 8);
            let (mut body, pieces) = Body::new(rng).generate(n);
            let cut = rng.below(body.len() + 1);
            body.truncate(cut);
            (body, pieces)
        },
        |body, pieces, rng| check_body(body, rng, Some((pieces, body.len()))),
    );
}

#[test]
fn hostile_bodies_agree_at_every_split() {
    for_each_case(
        3,
        cases(700),
        |rng| {
            let n = rng.range(0, 8);
            let (mut body, _) = Body::new(rng).generate(n);
            mutate(rng, &mut body);
            if rng.chance(10) {
                // Pure noise.
                body = (0..rng.range(0, 300)).map(|_| rng.next() as u8).collect();
            }
            (body, ())
        },
        |body, (), rng| check_body(body, rng, None),
    );
}

#[test]
fn small_bodies_agree_at_every_cut_point() {
    for_each_case(
        4,
        cases(400),
        |rng| {
            let n = rng.range(0, 2);
            let (mut body, pieces) = Body::new(rng).generate(n);
            let clean = rng.chance(50);
            if !clean {
                mutate(rng, &mut body);
            }
            body.truncate(EVERY_CUT_UP_TO);
            (body, clean.then_some(pieces))
        },
        |body, pieces, rng| check_body(body, rng, pieces.as_deref().map(|p| (p, body.len()))),
    );
}

// ---- Memory stays bounded -------------------------------------------------------------------------------

/// Streams `body` with a 4096-byte bound through a `BufReader` of `capacity` over reads of `splits`; the
/// first item must be the good delta, the second `EventTooLarge`, and the reader must have handed out at
/// most `start + 4096 + slack + capacity` bytes, `start` being where the oversized line or event begins:
/// the bound, plus the one buffer fill in which it was crossed.
fn check_refused(body: &[u8], start: usize, slack: usize) {
    const LIMIT: usize = 4096;
    for capacity in [64, 512, 8192, 65536] {
        for splits in [&[usize::MAX][..], &[1000], &[7, 1, 300]] {
            let handed = Rc::new(Cell::new(0));
            let reader = Split {
                data: body,
                handed: Rc::clone(&handed),
                splits,
                n: 0,
            };
            let mut stream = ChatStream::from_reader_with_limit(
                BufReader::with_capacity(capacity, reader),
                LIMIT,
            );
            assert_eq!(
                stream.next().unwrap().unwrap().content.as_deref(),
                Some("ok")
            );
            match stream.next() {
                Some(Err(Error::EventTooLarge { limit: LIMIT })) => {}
                other => panic!("expected EventTooLarge, got {other:?}"),
            }
            assert!(stream.next().is_none(), "fused");
            assert_eq!(stream.content(), "ok");
            let bound = start + LIMIT + slack + capacity;
            assert!(
                handed.get() <= bound,
                "read {} bytes (bound {bound}, capacity {capacity}, splits {splits:?})",
                handed.get()
            );
        }
    }
}

const GOOD: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n";
const MIB: usize = 1 << 20;

#[test]
fn a_1_mib_line_is_refused_after_reading_at_most_the_bound() {
    for prefix in [
        "data: ",
        ": a comment ",
        "event: ",
        "no-colon-field",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
    ] {
        let mut body = GOOD.as_bytes().to_vec();
        let start = body.len();
        body.extend_from_slice(prefix.as_bytes());
        body.resize(start + MIB, b'x');
        body.extend_from_slice(b"\n\ndata: [DONE]\n\n");
        check_refused(&body, start, 0);
        // The same line never terminated: the end of the body must not be awaited either.
        body.truncate(start + MIB);
        check_refused(&body, start, 0);
    }
}

#[test]
fn a_1_mib_event_of_short_lines_is_refused_after_reading_at_most_the_bound() {
    let mut body = GOOD.as_bytes().to_vec();
    let start = body.len();
    let line = format!("data: {}\n", "y".repeat(99));
    while body.len() < start + MIB {
        body.extend_from_slice(line.as_bytes());
    }
    body.extend_from_slice(b"\n");
    // Each 106-byte line adds 100 bytes of data: the bound is crossed within 4096 * 1.06 + one line.
    check_refused(&body, start, LIMIT_SLACK);
}

const LIMIT_SLACK: usize = 4096 / 100 * 6 + 106;

#[test]
fn the_sse_decoder_alone_stops_within_the_bound() {
    let mut body = b"data: ".to_vec();
    body.resize(MIB, b'z');
    let handed = Rc::new(Cell::new(0));
    let reader = Split {
        data: &body,
        handed: Rc::clone(&handed),
        splits: &[usize::MAX],
        n: 0,
    };
    let mut decoder =
        SseDecoder::new(BufReader::with_capacity(1024, reader)).with_max_event_size(4096);
    assert!(matches!(
        decoder.next_event(),
        Err(SseError::TooLarge { limit: 4096 })
    ));
    assert!(decoder.bytes_read() <= 4096, "{}", decoder.bytes_read());
    // The reader is asked for one buffer at a time, so at most one buffer past the bound is read.
    assert!(handed.get() <= 4096 + 1024, "{}", handed.get());
}

// ---- Known issue: CPU cost of many distinct indices -----------------------------------------------------

/// How long streaming `body` to the end takes.
fn stream_time(body: &str) -> std::time::Duration {
    let start = std::time::Instant::now();
    // The CPU cost of the lookups is what is measured here, so the bounds on choices and tool calls
    // (which refuse such chunks by default) are lifted.
    let unbounded = StreamLimits::default()
        .max_choices(usize::MAX)
        .max_tool_calls(usize::MAX)
        .max_accumulated_size(None);
    let mut stream = ChatStream::from_reader(body.as_bytes()).with_limits(unbounded);
    for item in stream.by_ref() {
        item.expect("a valid chunk");
    }
    start.elapsed()
}

/// One chunk with `n` choices (indices from `index(i)`), or one choice with `n` tool-call fragments.
fn wide_chunk(n: u32, tools: bool, index: fn(u32) -> u32) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!("{{\"index\":{}}}", index(i)))
        .collect();
    let items = items.join(",");
    if tools {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{items}]}}}}]}}\n\ndata: [DONE]\n\n")
    } else {
        format!("data: {{\"choices\":[{items}]}}\n\ndata: [DONE]\n\n")
    }
}

/// A hostile chunk with many distinct choice or tool-call indices costs about as much as one whose
/// indices repeat: the accumulator's lookups stay O(1) whatever the numbering (ascending, descending,
/// scattered). Found while writing these tests: with linear scans, 160,000 distinct choice indices (2.6 MB,
/// well inside the 8 MiB event bound) took 37 s in release. The bound is a generous ratio, not a speed.
#[test]
fn distinct_indices_cost_about_as_much_as_repeated_ones() {
    let n = 40_000;
    let same = stream_time(&wide_chunk(n, false, |_| 0));
    let slack = same * 5 + std::time::Duration::from_millis(250);
    for (order, index) in [
        ("ascending", (|i| i) as fn(u32) -> u32),
        ("descending", |i| 40_000 - i),
        ("scattered", |i| i.wrapping_mul(2_654_435_761) % 1_000_003),
    ] {
        let choices = stream_time(&wide_chunk(n, false, index));
        assert!(
            choices < slack,
            "{n} distinct {order} choice indices took {choices:?}, {n} repeated ones {same:?}"
        );
    }
    let same = stream_time(&wide_chunk(n, true, |_| 0));
    let slack = same * 5 + std::time::Duration::from_millis(250);
    for (order, index) in [
        ("ascending", (|i| i) as fn(u32) -> u32),
        ("descending", |i| 40_000 - i),
    ] {
        let tools = stream_time(&wide_chunk(n, true, index));
        assert!(
            tools < slack,
            "{n} distinct {order} tool-call indices took {tools:?}, {n} repeated ones {same:?}"
        );
    }
}
