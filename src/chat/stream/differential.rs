//! The fast path (`fast`) against the general path (`wire`) on many generated chunks: whenever the fast
//! path reads a chunk, the general path must read it too, to the same deltas and metadata; and reading a
//! chunk through both in turn (`parse_chunk`) must give what the general path alone gives, whichever path
//! decided.

use super::fast;
use super::parsed::Deltas;
use super::piece::Span;
use super::wire::{parse_chunk, parse_chunk_general, Buffers, ChunkFailure, ChunkKind};
use crate::limits::StreamLimits;

/// A small deterministic generator (xorshift64*). `odd` is the percentage of odd choices (values of
/// unexpected types or forms, damage) for the chunk being made.
struct Rng(u64, usize);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn odd(&mut self) -> bool {
        let odd = self.1;
        self.chance(odd)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Whitespace between tokens, usually none.
fn ws(rng: &mut Rng) -> &'static str {
    if rng.chance(85) {
        ""
    } else {
        rng.pick(&[" ", "\n", "\t", "\r\n ", "  "])
    }
}

const STRINGS: &[&str] = &[
    r#""019adf32d7eba732fab10a923ab85c0b""#,
    r#""deepseek-ai/DeepSeek-R1""#,
    r#""""#,
    r#""你好 😊""#,
    r#""a\"b""#,
    r#""caf\u00e9""#,
    r#""\ud800 lone""#,
    r#""\ud83d\ude00""#,
    r#""[x]""#,
    r#""]""#,
    "\"tab\tinside\"",
    "\"ctl\u{1}\"",
    r#""back\\slash""#,
    r#""bad \x escape""#,
    "null",
    "5",
    "true",
    "[]",
    "{}",
];

const NUMBERS: &[&str] = &[
    "1764681242",
    "0",
    "01",
    "-1",
    "1.5",
    "1e3",
    "18446744073709551615",
    "99999999999999999999",
    "null",
    r#""123""#,
    "1.",
    "-",
];

fn string(rng: &mut Rng) -> String {
    if rng.odd() {
        rng.pick(STRINGS).to_string()
    } else {
        rng.pick(&STRINGS[..4]).to_string()
    }
}

fn text(rng: &mut Rng) -> String {
    if rng.chance(70) {
        rng.pick(&[
            r#"" can""#,
            r#""你好""#,
            r#"" \"q\"""#,
            r#""\n""#,
            r#""""#,
            "null",
            r#""]""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00\ud800x""#,
            r#""\ud800\n""#,
            r#""\ud800\ud800\udc00""#,
            r#""\u00e9\u4F60\/\b\f\r\t\\""#,
            r#""a\ud83d""#,
        ])
        .to_string()
    } else {
        string(rng)
    }
}

/// A JSON value of any shape (for unknown keys, usage and logprobs), sometimes invalid.
fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 3 { 3 } else { 6 }) {
        0 => string(rng),
        1 => rng.pick(NUMBERS).to_string(),
        2 => rng
            .pick(&["null", "true", "false", "nul", "[1,]", "-0.5e+3"])
            .to_string(),
        3 => {
            let n = rng.below(3);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            format!("[{}{}]", ws(rng), items.join(&format!(",{}", ws(rng))))
        }
        _ => {
            let n = rng.below(4);
            let entries: Vec<String> = (0..n)
                .map(|_| {
                    let key = rng.pick(&["\"a\"", "\"prompt_tokens\"", "\"details\"", "\"k\\n\""]);
                    format!("{key}{}:{}{}", ws(rng), ws(rng), value(rng, depth + 1))
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
    }
}

fn usage(rng: &mut Rng) -> String {
    if !rng.odd() {
        let total = rng.pick(&["296", "3", "01", "\"x\""]);
        format!(
            r#"{{"prompt_tokens":294,{}"completion_tokens":2,"total_tokens":{total},"completion_tokens_details":{{"reasoning_tokens":2}}}}"#,
            ws(rng)
        )
    } else {
        value(rng, 0)
    }
}

fn tool_calls(rng: &mut Rng) -> String {
    let n = rng.below(3);
    let calls: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"index":{i},"id":{},"type":"function","function":{{"name":"f","arguments":"{{\"a\":[1]}}"}}}}"#,
                string(rng)
            )
        })
        .collect();
    format!("[{}]", calls.join(","))
}

fn delta(rng: &mut Rng) -> String {
    if rng.chance(5) {
        return "null".to_string();
    }
    let mut entries = Vec::new();
    for key in [
        "role",
        "content",
        "reasoning_content",
        "reasoning",
        "tool_calls",
        "extra",
    ] {
        if !rng.chance(60) {
            continue;
        }
        let v = match key {
            "role" => rng
                .pick(&[r#""assistant""#, r#""tool""#, "null", r#""other""#])
                .to_string(),
            "tool_calls" => tool_calls(rng),
            "extra" => value(rng, 1),
            _ => text(rng),
        };
        entries.push(format!("\"{key}\":{}{v}", ws(rng)));
    }
    format!("{{{}}}", entries.join(","))
}

fn choice(rng: &mut Rng) -> String {
    let mut entries = Vec::new();
    for key in [
        "index",
        "delta",
        "finish_reason",
        "logprobs",
        "text",
        "delta",
        "x",
    ] {
        if !rng.chance(65) {
            continue;
        }
        let v = match key {
            "index" => rng.pick(&["0", "1", "0", "null", "7"]).to_string(),
            "delta" => delta(rng),
            "finish_reason" => rng
                .pick(&["null", r#""stop""#, r#""""#, r#""length""#])
                .to_string(),
            "logprobs" => value(rng, 1),
            "text" => text(rng),
            _ => value(rng, 1),
        };
        entries.push(format!("{}\"{key}\"{}:{}{v}", ws(rng), ws(rng), ws(rng)));
    }
    format!("{{{}}}", entries.join(","))
}

fn choices(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "null".to_string(),
        1 if rng.odd() => value(rng, 0),
        _ => {
            let n = [1, 1, 1, 0, 2, 3][rng.below(6)];
            let items: Vec<String> = (0..n).map(|_| choice(rng)).collect();
            format!("[{}{}]", items.join(","), ws(rng))
        }
    }
}

/// One chunk: SiliconFlow's shape, shuffled, with odd values, duplicates, unknown keys and damage.
fn chunk(rng: &mut Rng) -> String {
    rng.1 = [0, 2, 10, 40][rng.below(4)];
    let mut keys = vec![
        "id",
        "object",
        "created",
        "model",
        "choices",
        "system_fingerprint",
        "usage",
    ];
    if rng.odd() {
        let a = rng.below(keys.len());
        let b = rng.below(keys.len());
        keys.swap(a, b);
    }
    if rng.odd() {
        keys.push(rng.pick(&[
            "id", "usage", "choices", "error", "code", "message", "created",
        ]));
    }
    if rng.odd() {
        keys.insert(rng.below(keys.len()), "extra");
    }
    let mut entries = Vec::new();
    for key in keys {
        if rng.odd() {
            continue;
        }
        let v = match key {
            "id" | "model" | "system_fingerprint" => string(rng),
            "object" => r#""chat.completion.chunk""#.to_string(),
            "created" if rng.odd() => rng.pick(NUMBERS).to_string(),
            "created" => "1764681242".to_string(),
            "choices" => choices(rng),
            "usage" => usage(rng),
            _ => value(rng, 0),
        };
        let key = if rng.odd() && rng.chance(10) {
            "\"i\\u0064\"".to_string()
        } else {
            format!("\"{key}\"")
        };
        entries.push(format!(
            "{}{key}{}:{}{v}{}",
            ws(rng),
            ws(rng),
            ws(rng),
            ws(rng)
        ));
    }
    let mut json = format!("{{{}}}", entries.join(","));
    if rng.odd() && rng.chance(20) {
        let mut cut = rng.below(json.len() + 1);
        while !json.is_char_boundary(cut) {
            cut -= 1;
        }
        json.truncate(cut);
    }
    if rng.odd() && rng.chance(20) && !json.is_empty() {
        let at = rng.below(json.len());
        if json.is_char_boundary(at) && json.is_char_boundary(at + 1) {
            let c = rng.pick(&[",", "]", "[", "}", "{", "\"", ":", " ", "0", "\\"]);
            json.replace_range(at..at + 1, c);
        }
    }
    json.trim_ascii().to_string()
}

/// Everything a parse produced, with texts resolved: comparable across paths.
#[derive(Debug, PartialEq)]
enum Read {
    Chunk(String, Vec<String>),
    Error,
    Failed(String),
}

fn read(
    data: &str,
    parse: impl for<'a> FnOnce(
        &'a str,
        Buffers<'_>,
        &StreamLimits,
    ) -> Result<ChunkKind<'a>, ChunkFailure>,
) -> Read {
    let (mut deltas, mut scratch) = (Deltas::default(), String::new());
    let limits = StreamLimits::default().max_choices(2).max_tool_calls(1);
    let into = Buffers {
        deltas: &mut deltas,
        scratch: &mut scratch,
    };
    match parse(data, into, &limits) {
        Ok(ChunkKind::Chunk(meta)) => {
            let text = |span: Option<Span>| span.map(|s| s.text(data, &scratch).to_string());
            let meta = format!(
                "{:?} {:?} {:?} {:?} {:?}",
                text(meta.id),
                text(meta.model),
                text(meta.system_fingerprint),
                meta.created,
                meta.usage
            );
            let deltas = deltas
                .as_slice()
                .iter()
                .map(|d| {
                    format!(
                        "{} {:?} {:?} {:?} {:?} {:?} {:?}",
                        d.index,
                        d.role,
                        text(d.content),
                        text(d.reasoning_content),
                        d.tool_calls,
                        d.finish_reason,
                        d.logprobs
                    )
                })
                .collect();
            Read::Chunk(meta, deltas)
        }
        Ok(ChunkKind::Error) => Read::Error,
        Err(ChunkFailure::Json(e)) => Read::Failed(e.to_string()),
        Err(ChunkFailure::TooManyChoices) => Read::Failed("choices".into()),
        Err(ChunkFailure::TooManyToolCalls) => Read::Failed("tool calls".into()),
    }
}

#[test]
fn the_fast_path_reads_what_the_general_path_reads() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15, 0);
    let (mut taken, mut total) = (0, 0);
    let siliconflow = r#"{"id":"019adf32d7eba732fab10a923ab85c0b","object":"chat.completion.chunk","created":1764681242,"model":"deepseek-ai/DeepSeek-R1","choices":[{"index":0,"delta":{"content":null,"reasoning_content":" can","role":"assistant"},"finish_reason":null}],"system_fingerprint":"","usage":{"prompt_tokens":294,"completion_tokens":2,"total_tokens":296,"completion_tokens_details":{"reasoning_tokens":2}}}"#;
    let inputs =
        std::iter::once(siliconflow.to_string()).chain((0..30_000).map(|_| chunk(&mut rng)));
    for data in inputs {
        total += 1;
        let general = read(&data, parse_chunk_general);
        // Whichever path decides, the result is the general path's.
        assert_eq!(read(&data, parse_chunk), general, "{data}");
        // And when the fast path reads a chunk itself, so does the general path, to the same result.
        let fast = read(&data, |data, into, limits| {
            fast::parse(data, into.deltas, into.scratch, limits)
                .map(ChunkKind::Chunk)
                .ok_or(ChunkFailure::TooManyChoices)
        });
        if fast != Read::Failed("choices".into()) {
            taken += 1;
            assert_eq!(fast, general, "{data}");
        }
    }
    assert!(
        taken * 4 > total,
        "the fast path read only {taken} of {total} chunks"
    );
}
