//! The fast path (`src/chat/stream/fast.rs`) and the general path read edge chunks the same way: control
//! characters, the largest `created`, a second `choices`, lone surrogates, repeated keys, error shapes.
//! (Written by review 3; it held.)

use siliconflow::ChatStream;

/// Reads one chunk; `general` forces the general path (a top-level key with an escape, which the fast
/// path leaves to `serde_json`).
fn read(chunk: &str, general: bool) -> String {
    let chunk = if general {
        chunk.replacen('{', "{\"\\u0078\":0,", 1)
    } else {
        chunk.to_string()
    };
    let body = format!("data: {chunk}\n\ndata: [DONE]\n\n");
    let mut stream = ChatStream::from_reader(body.as_bytes());
    let items: Vec<String> = stream
        .by_ref()
        .map(|d| match d {
            Ok(d) => format!("{:?}/{:?}", d.content, d.tool_calls),
            Err(e) => format!("Err({})", e.to_string().split(':').next().unwrap_or("")),
        })
        .collect();
    let completion = stream.into_completion();
    format!(
        "{items:?} id={:?} model={:?} created={}",
        completion.id, completion.model, completion.created
    )
}

#[test]
fn both_paths_agree() {
    let cases = [
        "{\"id\":\"a\u{1}b\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}",
        "{\"model\":\"m\u{1f}\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\u{1}\"}}]}",
        "{\"created\":18446744073709551615,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}",
        "{\"created\":9999999999999999999,\"choices\":[]}",
        "{\"created\":-0,\"choices\":[]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"]\"}}],\"choices\":null}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}] , \"usage\" : null }",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":[]}}]}",
        "{\"choices\":[{\"index\":0,\"text\":\"a\",\"delta\":null}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{\\\"a\\\":[1]}\"}}]}}]}",
        "{\"id\":null,\"model\":null,\"created\":null,\"choices\":[]}",
        "{\"usage\":{\"prompt_tokens\":1e2},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud800\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud83d\\ude00\"}}]}",
        "{\"choices\":[{\"index\":4294967295,\"delta\":{\"content\":\"a\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\",\"content\":null}}]}",
        "{\"choices\":[],\"error\":null}",
        "{\"choices\":[],\"code\":0,\"message\":\"x\"}",
        "{\"code\":0,\"message\":\"x\"}",
    ];
    let mut differ = Vec::new();
    for chunk in cases {
        let (fast, general) = (read(chunk, false), read(chunk, true));
        if fast != general {
            differ.push(format!("{chunk}\n  fast:    {fast}\n  general: {general}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
