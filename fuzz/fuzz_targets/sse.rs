//! `SseDecoder` alone: the events (and the final result) must be identical whatever the read split, and
//! identical to a literal reference implementation of the WHATWG algorithm (with the same size bound).
//! After each event the decoder must have consumed exactly through the blank line that dispatched it (no
//! read-ahead), and at the end of input the whole body.

#![no_main]

mod common;

use std::io::{BufRead, BufReader};

use common::{reference_events, Input, SplitReader};
use libfuzzer_sys::fuzz_target;
use siliconflow::sse::{SseDecoder, SseError};

#[derive(Debug, PartialEq)]
struct Owned {
    event: String,
    data: String,
    id: Option<String>,
    retry: Option<u64>,
}

/// The events, and `Ok(())` for a clean end or `Err(limit)` for an oversized line or event.
fn decode<R: BufRead>(
    mut decoder: SseDecoder<R>,
    body: &[u8],
    reference: &[common::RefEvent],
) -> (Vec<Owned>, Result<(), usize>) {
    let mut events = Vec::new();
    loop {
        match decoder.next_event() {
            Ok(Some(e)) => {
                events.push(Owned {
                    event: e.event.to_string(),
                    data: e.data.to_string(),
                    id: e.id.map(str::to_string),
                    retry: e.retry,
                });
                let read = decoder.bytes_read() as usize;
                if let Some(r) = reference.get(events.len() - 1) {
                    assert!(
                        (r.end_min..=r.end_max).contains(&read),
                        "event {} ended at {}..={} but the decoder had read {read}",
                        events.len() - 1,
                        r.end_min,
                        r.end_max
                    );
                }
            }
            Ok(None) => {
                assert_eq!(
                    decoder.bytes_read() as usize,
                    body.len(),
                    "consumed the whole body"
                );
                return (events, Ok(()));
            }
            Err(SseError::TooLarge { limit }) => return (events, Err(limit)),
            Err(other) => panic!("unexpected error from an in-memory reader: {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let body = input.body;
    let (reference, too_large) = reference_events(body, input.limit);

    let whole = decode(
        SseDecoder::new(body).with_max_event_size(input.limit),
        body,
        &reference,
    );
    let reader = BufReader::with_capacity(input.capacity, SplitReader::new(body, &input.splits));
    let split = decode(
        SseDecoder::new(reader).with_max_event_size(input.limit),
        body,
        &reference,
    );
    assert_eq!(
        whole, split,
        "whole body vs split {:?} capacity {}",
        input.splits, input.capacity
    );

    let expected: Vec<Owned> = reference
        .iter()
        .map(|r| Owned {
            event: r.event.clone(),
            data: r.data.clone(),
            id: r.id.clone(),
            retry: r.retry,
        })
        .collect();
    assert_eq!(
        whole.0, expected,
        "decoder vs reference (limit {})",
        input.limit
    );
    assert_eq!(
        whole.1.is_err(),
        too_large,
        "TooLarge vs reference (limit {})",
        input.limit
    );
    if let Err(limit) = whole.1 {
        assert_eq!(limit, input.limit.max(1));
    }
});
