//! The recorded-style response: generated once, kept in memory in both framings.

use std::io::Write;

// ---- The recorded-style response ----------------------------------------------------------------------

pub(crate) const ID: &str = "019adf32d7eba732fab10a923ab85c0b";
pub(crate) const CREATED: u64 = 1764681242;
pub(crate) const MODEL: &str = "deepseek-ai/DeepSeek-R1";
pub(crate) const PROMPT_TOKENS: u64 = 294;

/// Token texts: (as written inside a JSON string, decoded). About one in five carries a JSON escape.
pub(crate) const TOKENS: &[(&str, &str)] = &[
    ("We", "We"),
    (" can", " can"),
    (" simply", " simply"),
    (" respond", " respond"),
    (" with", " with"),
    (" a", " a"),
    (" greeting", " greeting"),
    (".\\n", ".\n"),
    ("你好", "你好"),
    ("，", "，"),
    (" the", " the"),
    (" user", " user"),
    ("我们", "我们"),
    ("思考", "思考"),
    (" is", " is"),
    (" asking", " asking"),
    (" about", " about"),
    ("一下", "一下"),
    ("。", "。"),
    (" Rust", " Rust"),
    ("'s", "'s"),
    (" ownership", " ownership"),
    (" 😊", " 😊"),
    (" \\\"quoted\\\"", " \"quoted\""),
    (" C:\\\\path", " C:\\path"),
    (" caf\\u00e9", " café"),
    ("\\t{\\\"k\\\": [1, 2]}", "\t{\"k\": [1, 2]}"),
    (" \\ud83d\\ude00", " 😀"),
    (" model", " model"),
    ("?", "?"),
];

/// Appends one `data:` event in the shape of `tests/wire/siliconflow-deepseek-r1-reasoning.sse`.
pub(crate) fn push_event(
    out: &mut Vec<u8>,
    delta: &str,
    finish_reason: &str,
    completion: u64,
    reasoning: Option<u64>,
) {
    let total = PROMPT_TOKENS + completion;
    write!(
        out,
        "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
         \"model\":\"{MODEL}\",\"choices\":[{{\"index\":0,\"delta\":{delta},\
         \"finish_reason\":{finish_reason}}}],\"system_fingerprint\":\"\",\
         \"usage\":{{\"prompt_tokens\":{PROMPT_TOKENS},\"completion_tokens\":{completion},\
         \"total_tokens\":{total}"
    )
    .expect("writing to a Vec");
    if let Some(reasoning) = reasoning {
        write!(
            out,
            ",\"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning}}}"
        )
        .expect("writing to a Vec");
    }
    out.extend_from_slice(b"}}\n\n");
}

pub(crate) const ROLE_DELTA: &str = r#"{"content":null,"reasoning_content":"","role":"assistant"}"#;
pub(crate) const FINISH_DELTA: &str = r#"{"content":"","reasoning_content":null}"#;
pub(crate) const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

pub(crate) fn reasoning_delta(text: &str) -> String {
    format!(r#"{{"content":null,"reasoning_content":"{text}","role":"assistant"}}"#)
}

pub(crate) fn content_delta(text: &str) -> String {
    format!(r#"{{"content":"{text}","reasoning_content":null,"role":"assistant"}}"#)
}

/// Wraps one event in one HTTP/1.1 chunk.
pub(crate) fn push_http_chunk(out: &mut Vec<u8>, data: &[u8]) {
    write!(out, "{:x}\r\n", data.len()).expect("writing to a Vec");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The whole response body, generated once, in both framings, with the totals a reader must arrive at.
pub(crate) struct Body {
    /// The event stream as sent close-delimited.
    pub(crate) plain: Vec<u8>,
    /// The same events, one per HTTP chunk, then the last chunk.
    pub(crate) chunked: Vec<u8>,
    pub(crate) chunks: u64,
    pub(crate) reasoning_chunks: u64,
    pub(crate) content_chunks: u64,
    pub(crate) content_bytes: usize,
    pub(crate) reasoning_bytes: usize,
    pub(crate) completion_tokens: u64,
}

impl Body {
    /// `chunks` events: a role chunk, 60 % reasoning, 40 % content, a finish chunk; then `[DONE]`.
    pub(crate) fn generate(chunks: u64) -> Body {
        let text_chunks = chunks - 2;
        let reasoning_chunks = text_chunks * 3 / 5;
        let estimate = chunks as usize * 420;
        let mut body = Body {
            plain: Vec::with_capacity(estimate),
            chunked: Vec::with_capacity(estimate + chunks as usize * 8),
            chunks,
            reasoning_chunks,
            content_chunks: text_chunks - reasoning_chunks,
            content_bytes: 0,
            reasoning_bytes: 0,
            completion_tokens: text_chunks,
        };
        let mut event = Vec::with_capacity(1024);
        let emit = |body: &mut Body, event: &mut Vec<u8>| {
            body.plain.extend_from_slice(event);
            push_http_chunk(&mut body.chunked, event);
            event.clear();
        };
        push_event(&mut event, ROLE_DELTA, "null", 0, None);
        emit(&mut body, &mut event);
        for i in 0..text_chunks {
            let (json, text) = TOKENS[i as usize % TOKENS.len()];
            let completion = i + 1;
            if i < reasoning_chunks {
                body.reasoning_bytes += text.len();
                let delta = reasoning_delta(json);
                push_event(&mut event, &delta, "null", completion, Some(completion));
            } else {
                body.content_bytes += text.len();
                let delta = content_delta(json);
                push_event(
                    &mut event,
                    &delta,
                    "null",
                    completion,
                    Some(reasoning_chunks),
                );
            }
            emit(&mut body, &mut event);
        }
        push_event(
            &mut event,
            FINISH_DELTA,
            "\"stop\"",
            text_chunks,
            Some(reasoning_chunks),
        );
        emit(&mut body, &mut event);
        body.plain.extend_from_slice(DONE_EVENT);
        push_http_chunk(&mut body.chunked, DONE_EVENT);
        body.chunked.extend_from_slice(b"0\r\n\r\n");
        body
    }

    pub(crate) fn total_tokens(&self) -> u64 {
        PROMPT_TOKENS + self.completion_tokens
    }
}
