//! Shared by the fuzz targets: how an input is split into a read schedule, a size bound and a body; a reader
//! that cuts its reads at that schedule; and a literal reference SSE decoder to compare against.
#![allow(dead_code)]

use std::io::{self, Read};

/// The default bound of the decoder, used when the input does not ask for a small one.
pub const DEFAULT_LIMIT: usize = siliconflow::sse::DEFAULT_MAX_EVENT_SIZE;

/// Small bounds the fuzzer can pick with one byte `< 0x20`, so `EventTooLarge` is reached at every size.
const SMALL_LIMITS: [usize; 32] = [
    1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 160, 200, 256, 300, 400, 512,
    600, 768, 1024, 1500, 2048, 3000, 4096, 8192,
];

/// `BufReader` capacities the fuzzer can pick (1 forces one-byte `fill_buf`s whatever the reads are).
const CAPACITIES: [usize; 16] = [
    1, 2, 3, 4, 5, 7, 8, 16, 31, 64, 100, 128, 256, 1024, 4096, 65536,
];

/// A fuzz input: a fixed 6-byte header, then the body.
///
/// - byte 0: bits 0-1 = how many of the split sizes are used (1 to 4), bits 2-5 = the `BufReader` capacity
///   (an index into [`CAPACITIES`]);
/// - bytes 1-4: the read sizes, cycled (a byte `b` reads at most `b + 1` bytes, `0xff` reads up to 64 KiB);
/// - byte 5: the event-size bound: `< 0x20` one of [`SMALL_LIMITS`], `>= 0xe0` `37 * (b - 0xdf)`, anything
///   else the default 8 MiB.
///
/// A raw capture (`data: {...`) used as a seed therefore loses its first six bytes to the header (the first
/// event is then ignored, the rest decodes); the README shows how to prefix a proper header.
#[derive(Debug)]
pub struct Input<'a> {
    pub splits: Vec<usize>,
    pub capacity: usize,
    pub limit: usize,
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Self {
        let header = |i: usize| data.get(i).copied().unwrap_or(0);
        let b0 = header(0);
        let n = (b0 & 3) as usize + 1;
        let capacity = CAPACITIES[((b0 >> 2) & 15) as usize];
        let splits = (1..=n)
            .map(|i| match header(i) {
                0xff => 65536,
                b => b as usize + 1,
            })
            .collect();
        let limit = match header(5) {
            b @ 0..0x20 => SMALL_LIMITS[b as usize],
            b @ 0xe0.. => 37 * (b as usize - 0xdf),
            _ => DEFAULT_LIMIT,
        };
        Input {
            splits,
            capacity,
            limit,
            body: data.get(6..).unwrap_or(&[]),
        }
    }
}

/// A reader over `data` whose reads return at most the next size of `splits` (cycling).
pub struct SplitReader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub splits: &'a [usize],
    pub n: usize,
}

impl<'a> SplitReader<'a> {
    pub fn new(data: &'a [u8], splits: &'a [usize]) -> Self {
        SplitReader {
            data,
            pos: 0,
            splits,
            n: 0,
        }
    }
}

impl Read for SplitReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = self.splits[self.n % self.splits.len()].max(1);
        self.n += 1;
        let len = want.min(out.len()).min(self.data.len() - self.pos);
        out[..len].copy_from_slice(&self.data[self.pos..self.pos + len]);
        self.pos += len;
        Ok(len)
    }
}

/// One event of the reference decoder, with where its dispatching line ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
    pub retry: Option<u64>,
    /// Offset just past the first byte of the blank line's terminator (a decoder that does not read ahead
    /// cannot know whether a CR is followed by LF).
    pub end_min: usize,
    /// Offset just past the whole terminator (CRLF counted whole).
    pub end_max: usize,
}

/// The WHATWG "parsing an event stream" algorithm, written as literally as possible over the whole body.
/// An unterminated last line, and an event without its blank line, are discarded.
///
/// `limit` is the crate's documented bound: a line (terminator excluded, also the unterminated last one)
/// longer than `limit` bytes, or an event whose decoded data plus the `\n` after each data line would exceed
/// `limit`, stops the decoding with an error; the `bool` says whether that happened.
pub fn reference_events(body: &[u8], limit: usize) -> (Vec<RefEvent>, bool) {
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
        if line.len() > limit {
            return (out, true);
        }
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
                    event.clone()
                },
                data: std::mem::take(&mut data),
                id: id.clone(),
                retry,
                end_min,
                end_max,
            });
            event.clear();
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
        let value_text = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if data.len() + value_text.len() + 1 > limit {
                    return (out, true);
                }
                data.push_str(&value_text);
                data.push('\n');
            }
            b"event" => event = value_text.into_owned(),
            b"id" if !value.contains(&0) => id = Some(value_text.into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Ok(ms) = value_text.parse() {
                    retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    // The decoder collects a possible BOM before it applies the bound: a body that is only a strict prefix
    // of a BOM ends quietly whatever the bound.
    let tail = &body[pos..];
    let bom_prefix = pos == 0 && b"\xEF\xBB\xBF".starts_with(tail);
    (out, tail.len() > limit && !bom_prefix)
}
