//! `ChatStream::next_ref` against the `Iterator` (and the two mixed) at every read split, and no
//! read-ahead at any split: the delta of an event is in hand before the reader is asked for a byte of
//! the next one. (Written by review 2; it held.)

mod common;

use std::io::{self, BufReader, Read};

use common::*;
use siliconflow::{ChatDelta, ChatStream};

/// Everything a stream produced, comparable.
#[derive(Debug, PartialEq)]
struct Run {
    items: Vec<Result<ChatDelta, String>>,
    content: String,
    reasoning: String,
    tool_calls: String,
    usage: String,
    end: String,
}

fn finish<R: io::BufRead>(stream: ChatStream<R>, items: Vec<Result<ChatDelta, String>>) -> Run {
    Run {
        content: stream.content().to_string(),
        reasoning: stream.reasoning_content().to_string(),
        tool_calls: format!("{:?}", stream.choices()),
        usage: format!("{:?}", stream.usage()),
        end: format!("{:?}", stream.end()),
        items,
    }
}

fn by_iterator(body: &[u8], splits: &[usize]) -> Run {
    let mut stream = ChatStream::from_reader(split_reader(body, splits));
    let items = stream
        .by_ref()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    finish(stream, items)
}

fn by_next_ref(body: &[u8], splits: &[usize]) -> Run {
    let mut stream = ChatStream::from_reader(split_reader(body, splits));
    let mut items = Vec::new();
    while let Some(item) = stream.next_ref() {
        items.push(item.map(|d| d.into_owned()).map_err(|e| e.to_string()));
    }
    // Fused like the iterator.
    assert!(stream.next_ref().is_none() && stream.next().is_none());
    finish(stream, items)
}

fn mixed(body: &[u8], splits: &[usize]) -> Run {
    let mut stream = ChatStream::from_reader(split_reader(body, splits));
    let mut items = Vec::new();
    for n in 0.. {
        let item = if n % 2 == 0 {
            stream.next_ref().map(|r| r.map(|d| d.into_owned()))
        } else {
            stream.next()
        };
        match item {
            Some(item) => items.push(item.map_err(|e| e.to_string())),
            None => break,
        }
    }
    finish(stream, items)
}

fn bodies() -> Vec<(String, Vec<u8>)> {
    let mut bodies: Vec<(String, Vec<u8>)> = std::fs::read_dir("tests/wire")
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "sse")
                .then(|| (path.display().to_string(), std::fs::read(&path).unwrap()))
        })
        .collect();
    let hostile: &[(&str, &str)] = &[
        ("crlf", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\\u00e9\"},\"finish_reason\":\"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n"),
        ("cr", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\rdata: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"r\"},\"finish_reason\":\"stop\"}]}\r\r"),
        ("bom, comments, multi-line", "\u{feff}: hi\n\nevent: message\ndata: {\"choices\":[{\"index\":0,\n:c\ndata: \"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\ndata:{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"y\"},\"finish_reason\":\"length\"},{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"),
        ("malformed mid-stream", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]\n\ndata: [DONE]\n\n"),
        ("error event", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\nevent: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n"),
        ("error object", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"code\":50505,\"message\":\"overloaded\",\"data\":null}\n\n"),
        ("cut", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delt"),
        ("invalid utf-8", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\u{FFFD}b\"},\"finish_reason\":\"stop\"}]}\n\n"),
        ("tool calls", "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":null,\"function\":{\"arguments\":\"\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n"),
    ];
    for (name, body) in hostile {
        let mut bytes = body.as_bytes().to_vec();
        if *name == "invalid utf-8" {
            // The replacement character stands for a raw 0xFF byte.
            let at = bytes
                .windows(3)
                .position(|w| w == "\u{FFFD}".as_bytes())
                .unwrap();
            bytes.splice(at..at + 3, [0xFF]);
        }
        bodies.push((name.to_string(), bytes));
    }
    bodies
}

#[test]
fn next_ref_the_iterator_and_both_mixed_read_the_same_at_every_split() {
    let mut failures = Vec::new();
    for (name, body) in bodies() {
        let whole = by_iterator(&body, &[usize::MAX]);
        let mut splits: Vec<Vec<usize>> = SPLITS.iter().map(|s| s.to_vec()).collect();
        if body.len() < 2000 {
            splits.extend((1..body.len()).map(|cut| vec![cut, usize::MAX]));
        }
        for split in &splits {
            for (how, run) in [
                ("iterator", by_iterator(&body, split)),
                ("next_ref", by_next_ref(&body, split)),
                ("mixed", mixed(&body, split)),
            ] {
                if run != whole {
                    failures.push(format!("{name}: {how} at splits {split:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}

/// Serves `data` and fails any read past `gate` (the end of the events the server has written so far).
struct Gate {
    data: Vec<u8>,
    pos: usize,
    gate: usize,
    splits: Vec<usize>,
    n: usize,
}

impl Read for Gate {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.gate {
            return Err(io::Error::other("read ahead: the next event was asked for"));
        }
        let want = self.splits[self.n % self.splits.len()].max(1);
        self.n += 1;
        let len = want.min(out.len()).min(self.gate - self.pos);
        out[..len].copy_from_slice(&self.data[self.pos..self.pos + len]);
        self.pos += len;
        Ok(len)
    }
}

#[test]
fn every_delta_is_in_hand_before_the_next_event_is_read_at_every_split() {
    let events = [
        "\u{feff}data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\r\n\r\n",
        ": keep-alive\r\rdata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\"}}]}\r\r",
        "event: message\nid: 7\nretry: 10\ndata: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"d\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"e\"}}]}\r\n\r\n",
        "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"f\"},\"finish_reason\":\"stop\"}]}\n\n",
    ];
    let body: String = events.concat();
    let mut failures = Vec::new();
    for split in SPLITS
        .iter()
        .map(|s| s.to_vec())
        .chain((1..40).map(|n| vec![n]))
    {
        let mut end = 0;
        for (k, event) in events.iter().enumerate() {
            end += event.len();
            let gate = Gate {
                data: body.as_bytes().to_vec(),
                pos: 0,
                gate: end,
                splits: split.clone(),
                n: 0,
            };
            for capacity in [64, 8 * 1024] {
                let reader = BufReader::with_capacity(
                    capacity,
                    Gate {
                        ..gate_clone(&gate)
                    },
                );
                let mut stream = ChatStream::from_reader(reader);
                for i in 0..=k {
                    match stream.next_ref() {
                        Some(Ok(_)) => {}
                        other => {
                            failures.push(format!(
                                "delta {i} of {} written, splits {split:?}, buffer {capacity}: {:?}",
                                k + 1,
                                other.map(|r| r.map(|d| d.into_owned()))
                            ));
                            break;
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} read-aheads: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

fn gate_clone(g: &Gate) -> Gate {
    Gate {
        data: g.data.clone(),
        pos: 0,
        gate: g.gate,
        splits: g.splits.clone(),
        n: 0,
    }
}
