//! The stream is fused after an error, also when text was made ready at the moment of the failure: with
//! `split_think_tags(true)`, a body cut while a possible partial `<think>` tag is held back releases that
//! text as a delta, which goes out before the `StreamCut`; after the error, only `None` (README
//! "Failures": "After any error the stream is fused (`next()` returns `None`)"). Review 3 found the
//! released delta handed out after the error.

use siliconflow::{ChatStream, Error};

fn content_chunk(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]})
    )
}

fn describe(item: Option<Result<Option<String>, Error>>) -> String {
    match item {
        Some(Ok(content)) => format!("Ok({content:?})"),
        Some(Err(Error::StreamCut { .. })) => "Err(StreamCut)".to_string(),
        Some(Err(other)) => format!("Err({other:?})"),
        None => "None".to_string(),
    }
}

#[test]
fn text_released_at_a_cut_goes_out_before_the_error_and_nothing_after_it() {
    let body = content_chunk("x <thi");
    let expected = [
        r#"Ok(Some("x "))"#,
        r#"Ok(Some("<thi"))"#,
        "Err(StreamCut)",
        "None",
        "None",
    ];
    // Through the `Iterator`.
    let mut stream = ChatStream::from_reader(body.as_bytes()).split_think_tags(true);
    let items: Vec<String> = (0..5)
        .map(|_| describe(stream.next().map(|d| d.map(|d| d.content))))
        .collect();
    assert_eq!(items, expected);
    assert_eq!(stream.content(), "x <thi");
    // Through `next_ref`.
    let mut stream = ChatStream::from_reader(body.as_bytes()).split_think_tags(true);
    let items: Vec<String> = (0..5)
        .map(|_| {
            describe(
                stream
                    .next_ref()
                    .map(|d| d.map(|d| d.content.map(str::to_string))),
            )
        })
        .collect();
    assert_eq!(items, expected);
}

/// The same at every cut of a stream of several chunks: whatever deltas come, an error is the last item
/// before `None`.
#[test]
fn an_error_is_always_the_last_item() {
    let body: String = ["a <th", "ink>r", "ea", "so</th", "ink> b <", "th"]
        .iter()
        .map(|t| content_chunk(t))
        .collect();
    for cut in 0..=body.len() {
        let mut stream = ChatStream::from_reader(&body.as_bytes()[..cut]).split_think_tags(true);
        let mut items: Vec<String> = Vec::new();
        for _ in 0..12 {
            items.push(describe(stream.next().map(|d| d.map(|d| d.content))));
        }
        if let Some(at) = items.iter().position(|i| i.starts_with("Err")) {
            assert!(
                items[at + 1..].iter().all(|i| i == "None"),
                "cut {cut}: {items:?}"
            );
        }
    }
}
