//! Review 3: stream contract edges.

use siliconflow::{ChatStream, Error};

fn content_chunk(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]})
    )
}

/// README ("Failures"): "After any error the stream is fused (`next()` returns `None`)"; the `ChatStream`
/// docs: "The iterator is fused: after `[DONE]`, the end of the body, or an error it returns `None`".
/// With `split_think_tags(true)`, a body cut while a possible partial `<think>` tag is held back returns
/// `Err(StreamCut)` and then, on the next call, a delta with the released text.
#[test]
fn after_a_stream_cut_with_a_held_back_tag_next_returns_none() {
    let body = content_chunk("x <thi");
    let mut stream = ChatStream::from_reader(body.as_bytes()).split_think_tags(true);
    let mut items = Vec::new();
    for _ in 0..4 {
        match stream.next() {
            Some(Ok(delta)) => items.push(format!("Ok({:?})", delta.content)),
            Some(Err(error)) => items.push(format!(
                "Err({})",
                match error {
                    Error::StreamCut { .. } => "StreamCut".to_string(),
                    other => format!("{other:?}"),
                }
            )),
            None => items.push("None".to_string()),
        }
    }
    println!("{items:?}; content {:?}", stream.content());
    let error_at = items.iter().position(|i| i.starts_with("Err")).expect("an error");
    assert!(
        items[error_at + 1..].iter().all(|i| i == "None"),
        "items after the error must all be None: {items:?}"
    );
}
