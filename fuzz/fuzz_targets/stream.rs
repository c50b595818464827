//! `ChatStream` (SSE decoder + chunk parser + accumulator) over arbitrary bodies.
//!
//! The input is a 6-byte header (read split schedule, `BufReader` capacity, event-size bound; see
//! `common::Input`) and the body. The body is streamed twice, whole (one read) and split, each run to the
//! end of the fused iterator. Both runs must yield identical items (deltas by `Debug`, errors by `Debug`:
//! variant, `MalformedChunk` snippet and event number, `StreamCut` count, `EventTooLarge` bound), identical
//! accumulated state, and in each run the accumulated text of every choice must equal the concatenation of
//! the deltas handed out for it. Nothing may panic.

#![no_main]

mod common;

use std::io::{BufRead, BufReader};

use common::{Input, SplitReader};
use libfuzzer_sys::fuzz_target;
use siliconflow::{ChatDelta, ChatStream, Error, StreamEnd};

/// Everything observable about one run.
#[derive(Debug, PartialEq)]
struct Run {
    items: Vec<Result<String, String>>,
    content: String,
    reasoning: String,
    choices: String,
    tool_calls: String,
    usage: String,
    finish: String,
    end: Option<StreamEnd>,
    events: u64,
    id: String,
    model: String,
    completion: String,
}

fn concat<'a>(
    deltas: &'a [ChatDelta],
    index: u32,
    field: fn(&'a ChatDelta) -> Option<&'a str>,
) -> String {
    deltas
        .iter()
        .filter(|d| d.index == index)
        .filter_map(field)
        .collect()
}

fn content(d: &ChatDelta) -> Option<&str> {
    d.content.as_deref()
}

fn reasoning(d: &ChatDelta) -> Option<&str> {
    d.reasoning_content.as_deref()
}

fn run<R: BufRead>(mut stream: ChatStream<R>) -> Run {
    let mut items = Vec::new();
    let mut deltas = Vec::new();
    let mut error = None;
    #[allow(clippy::while_let_on_iterator)] // `for` would hide the fused check below
    while let Some(item) = stream.next() {
        assert!(error.is_none(), "an item after an error: {item:?}");
        match item {
            Ok(delta) => {
                items.push(Ok(format!("{delta:?}")));
                deltas.push(delta);
            }
            Err(e) => {
                items.push(Err(format!("{e:?}")));
                error = Some(e);
            }
        }
    }
    for _ in 0..3 {
        assert!(stream.next().is_none(), "fused");
    }

    // The accumulator is exactly the concatenation of what was handed out.
    assert_eq!(stream.content(), concat(&deltas, 0, content), "content()");
    assert_eq!(
        stream.reasoning_content(),
        concat(&deltas, 0, reasoning),
        "reasoning_content()"
    );
    for choice in stream.choices() {
        assert_eq!(choice.content(), concat(&deltas, choice.index(), content));
        assert_eq!(
            choice.reasoning_content(),
            concat(&deltas, choice.index(), reasoning)
        );
        let arguments: String = deltas
            .iter()
            .filter(|d| d.index == choice.index())
            .flat_map(|d| &d.tool_calls)
            .filter_map(|t| t.function.as_ref()?.arguments.as_deref())
            .collect();
        let merged: String = choice
            .tool_calls()
            .iter()
            .map(|t| t.function.arguments.as_str())
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(
            merged.len(),
            arguments.len(),
            "tool-call arguments are all kept"
        );
    }
    for delta in &deltas {
        assert!(
            stream.choices().iter().any(|c| c.index() == delta.index),
            "a choice per delta index"
        );
    }
    let all_finished = !stream.choices().is_empty()
        && stream.choices().iter().all(|c| c.finish_reason().is_some());
    match (&error, stream.end()) {
        (Some(_), Some(StreamEnd::Failed)) => {}
        (None, Some(StreamEnd::Done)) => {}
        (None, Some(StreamEnd::FinishedWithoutDone)) => assert!(all_finished),
        (e, end) => panic!("inconsistent end {end:?} after {e:?}"),
    }
    if let Some(Error::StreamCut { source: None, .. }) = &error {
        assert!(
            !all_finished,
            "a clean end of body with every choice finished is not a cut"
        );
    }

    let mut out = Run {
        items,
        content: stream.content().to_string(),
        reasoning: stream.reasoning_content().to_string(),
        choices: format!("{:?}", stream.choices()),
        tool_calls: format!("{:?}", stream.tool_calls()),
        usage: format!("{:?}", stream.usage()),
        finish: format!("{:?}", stream.finish_reason()),
        end: stream.end(),
        events: stream.events_received(),
        id: stream.id().to_string(),
        model: stream.model().to_string(),
        completion: String::new(),
    };
    let choices = stream.choices().to_vec();
    let completion = stream.into_completion();
    assert_eq!(completion.choices.len(), choices.len());
    for (built, acc) in completion.choices.iter().zip(&choices) {
        assert_eq!(built.index, acc.index());
        assert_eq!(built.message.text(), acc.content());
        assert_eq!(
            built.message.reasoning_content.as_deref().unwrap_or(""),
            acc.reasoning_content()
        );
    }
    out.completion = format!("{completion:?}");
    out
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let body = input.body;
    let whole = run(ChatStream::from_reader_with_limit(body, input.limit));
    let reader = BufReader::with_capacity(input.capacity, SplitReader::new(body, &input.splits));
    let split = run(ChatStream::from_reader_with_limit(reader, input.limit));
    assert_eq!(
        whole, split,
        "whole body vs split {:?} capacity {}",
        input.splits, input.capacity
    );
});
