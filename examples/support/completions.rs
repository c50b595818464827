//! `POST /v1/completions`: fill-in-the-middle (`prompt` + `suffix`) and plain completions, as a whole
//! `text_completion` object or streamed as `choices[0].text` chunks ending in `data: [DONE]`.

use std::time::Duration;

use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest, SseEvent};

use super::demo::{bad_request, json_body, model, now, Answer, Demo};
use super::text::{quote_text, tokenize};

/// The quoted lines in the canned text are cut to this many characters.
const MAX_QUOTE_CHARS: usize = 40;

/// Answers a completion request.
pub fn answer(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let model = model(&body)?.to_string();
    let prompt = body
        .get("prompt")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("Field required: prompt"))?;
    let suffix = body.get("suffix").and_then(Value::as_str);
    let max_tokens = match body.get("max_tokens") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad_request("max_tokens must be a positive integer"))?,
        ),
    };
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);

    let last_line = quote_text(prompt.lines().last().unwrap_or(""), MAX_QUOTE_CHARS);
    let text = match suffix {
        Some(suffix) => format!(
            "\n    # (offline demo) the middle that joins \"{last_line}\" to \"{}\"\n",
            quote_text(suffix.lines().next().unwrap_or(""), MAX_QUOTE_CHARS)
        ),
        None => format!(
            " … and the offline demo goes on after \"{last_line}\" with canned text, not a model's."
        ),
    };
    let mut tokens = tokenize(&text);
    let mut finish = "stop";
    if let Some(max) = max_tokens.and_then(|max| usize::try_from(max).ok()) {
        if tokens.len() > max {
            tokens.truncate(max);
            finish = "length";
        }
    }
    let prompt_tokens = tokenize(prompt).len() + suffix.map_or(0, |s| tokenize(s).len());
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": tokens.len(),
        "total_tokens": prompt_tokens + tokens.len(),
    });
    let id = demo.hex_id();
    let created = now();
    let object = |choice: Value| {
        json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [choice],
        })
    };

    if !streamed {
        let mut whole = object(json!({
            "index": 0, "text": tokens.concat(), "finish_reason": finish, "logprobs": null,
        }));
        whole["usage"] = usage;
        return Ok(MockResponse::json(whole).head_delay(Duration::from_millis(150)));
    }
    let mut events: Vec<SseEvent> = tokens
        .iter()
        .map(|token| {
            SseEvent::json(&object(json!({
                "index": 0, "text": token, "finish_reason": null, "logprobs": null,
            })))
        })
        .collect();
    let mut last =
        object(json!({"index": 0, "text": "", "finish_reason": finish, "logprobs": null}));
    last["usage"] = usage;
    events.push(SseEvent::json(&last));
    events.push(SseEvent::done());
    Ok(MockResponse::sse(events)
        .head_delay(Duration::from_millis(100))
        .event_delay(Duration::from_millis(20)))
}
