//! The API key, or a piece of it, never in `Debug`/`Display` output, at the edges the main redaction table
//! does not reach: cuts after shorter replacements, usage and envelope errors, header names, per-request
//! header values, doubly encoded keys. Found by an adversarial review; kept as regressions.
//!
//! README "Failures": "A server or proxy that echoes the key back … has it replaced by `<redacted>` in every
//! form it may take … and always before anything is cut to size, so no cut leaves a piece of it."

mod common;

use std::io::Write;

use common::*;
use siliconflow::{Client, Error};

/// A piece of the test key long enough to be unmistakable (22 of its 38 characters).
const PIECE: &str = "sk-test-KEY-0123456789";

/// The key with every character escaped as `\u00XX` (README: "or every character as `\u0073`").
fn u_escaped(key: &str) -> String {
    key.bytes().map(|b| format!("\\u{b:04x}")).collect()
}

fn assert_no_piece(what: &str, text: &str) {
    assert!(
        !text.contains(PIECE),
        "{what} shows a piece of the key ({PIECE}…):\n…{}",
        &text[text.find(PIECE).unwrap().saturating_sub(80)..]
            .chars()
            .take(200)
            .collect::<String>()
    );
}

/// The scrubber runs on `cut + margin` bytes (margin = 6 × key length, the longest encoding) and the text
/// is cut to size afterwards, measured in the *scrubbed* text. Each encoded occurrence earlier in the text
/// shrinks from 6 × 38 = 228 bytes to `<redacted>` (10 bytes), so two of them pull the tail of the scrubbed
/// window, where a key cut by the window's end sits unscrubbed (a prefix is not the key), back inside
/// the kept part.
#[test]
fn an_error_body_cut_keeps_no_prefix_of_the_key() {
    const MAX_ERROR_BODY: usize = 64 * 1024;
    let margin = KEY.len() * 6;
    let window = MAX_ERROR_BODY + margin; // what `read_prefix` reads and `api_error` scrubs
    let encoded = u_escaped(KEY);
    let mut body = format!("echo: {encoded} {encoded} ");
    let key_at = window - 30; // 30 of the key's 38 characters inside the window
    body.push_str(&"x".repeat(key_at - body.len()));
    body.push_str(KEY);
    body.push_str(&"y".repeat(1000));
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 400, &[("Content-Type", "text/plain")], &body);
    });
    let error = client(&base).chat(&request()).unwrap_err();
    let _ = server.join();
    assert!(matches!(error, Error::Api(_)), "{error:?}");
    assert_no_piece("ApiError (Debug)", &format!("{error:?}"));
}

/// The same shrink through `Redactor::scrub_cut` (a malformed chunk's `data`, at most 512 bytes).
#[test]
fn a_malformed_chunk_cut_keeps_no_prefix_of_the_key() {
    const MAX_SNIPPET: usize = 512;
    let margin = KEY.len() * 6;
    let window = MAX_SNIPPET + margin;
    let encoded = u_escaped(KEY);
    let mut data = format!("{{not json {encoded} {encoded} ");
    data.push_str(&"x".repeat(window - 30 - data.len()));
    data.push_str(KEY);
    data.push_str(&"y".repeat(100));
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_sse_head(stream, "close");
        let _ = write!(stream, "data: {data}\n\n");
    });
    let mut stream = client(&base).chat_stream(&request()).unwrap();
    let error = stream.find_map(Result::err).expect("an error");
    let _ = server.join();
    assert!(matches!(error, Error::MalformedChunk { .. }), "{error:?}");
    assert_no_piece("MalformedChunk (Debug)", &format!("{error:?}"));
    assert_no_piece("MalformedChunk (Display)", &error.to_string());
}

/// A malformed running `usage` is reported at `[DONE]` with `data: cut(raw, 512)`: cut first, scrubbed
/// after (accumulator.rs `UsageSlot::check`), so a key across the cut leaves its first part.
#[test]
fn a_malformed_usage_is_scrubbed_before_it_is_cut() {
    let raw_prefix = format!("[\"{}", "x".repeat(490 - 2));
    let usage = format!("{raw_prefix}{KEY}\"]");
    assert_eq!(usage.find(KEY), Some(490));
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_sse_head(stream, "close");
        let _ = write!(
            stream,
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"hi\"}},\"finish_reason\":\"stop\"}}],\"usage\":{usage}}}\n\ndata: [DONE]\n\n"
        );
    });
    let mut stream = client(&base).chat_stream(&request()).unwrap();
    let error = stream
        .find_map(Result::err)
        .expect("the malformed usage is reported");
    let _ = server.join();
    assert!(matches!(error, Error::MalformedChunk { .. }), "{error:?}");
    assert_no_piece("MalformedChunk from usage (Debug)", &format!("{error:?}"));
}

/// `envelope::decode_slice` builds `MalformedChunk { data: cut(text, 512) }` and the client scrubs it
/// afterwards (`user_info`): the same cut-then-scrub.
#[test]
fn a_malformed_envelope_data_is_scrubbed_before_it_is_cut() {
    let data = format!("\"{}{KEY}\"", "x".repeat(489));
    assert_eq!(data.find(KEY), Some(490));
    let body = format!(r#"{{"code":20000,"message":"OK","status":true,"data":{data}}}"#);
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 200, &[("Content-Type", "application/json")], &body);
    });
    let error = client(&base).user_info().unwrap_err();
    let _ = server.join();
    assert!(matches!(error, Error::MalformedChunk { .. }), "{error:?}");
    assert_no_piece("user_info MalformedChunk (Debug)", &format!("{error:?}"));
}

/// Header *values* are scrubbed (`Redactor::headers` → `Headers::values_mut`), header *names* are not. A
/// SiliconFlow key is `sk-` and lower-case letters, a valid header name; a server echoing it as a name
/// puts it in `ResponseMeta`'s and `ApiError`'s `Debug`.
#[test]
fn a_key_echoed_as_a_header_name_is_scrubbed() {
    let key = "sk-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv";
    let (base, server) = raw_server(2, move |n, _, stream| {
        let status = if n == 0 { 200 } else { 401 };
        write_response(
            stream,
            status,
            &[("Content-Type", "application/json"), (key, "seen")],
            common::endpoints::CHAT_BODY,
        );
    });
    let client = Client::builder()
        .api_key(key)
        .base_url(&base)
        .retry_policy(siliconflow::RetryPolicy::none())
        .build()
        .unwrap();
    let completion = client.chat(&request()).unwrap();
    let error = client.chat(&request()).unwrap_err();
    let _ = server.join();
    let shown = [
        format!("{:?}", completion.response()),
        format!("{completion:?}"),
        format!("{error:?}"),
    ];
    let leaks: Vec<&String> = shown.iter().filter(|s| s.contains(key)).collect();
    assert!(leaks.is_empty(), "the key in Debug output: {leaks:#?}");
}

/// `ClientBuilder::header` values are hidden from `Debug`, `Client::with_header` values are not
/// (`Settings` derives `Debug`, `extra_headers` included). Gateways that want the key in their own header
/// (`api-key: …`, `x-api-key: …`) are sent it this way.
#[test]
fn a_with_header_value_never_shows_in_the_clients_debug() {
    let builder_client = Client::builder()
        .api_key(KEY)
        .header("x-api-key", KEY)
        .build()
        .unwrap();
    assert!(
        !format!("{builder_client:?}").contains(KEY),
        "builder headers are hidden"
    );
    let client = Client::builder()
        .api_key(KEY)
        .build()
        .unwrap()
        .with_header("x-api-key", KEY);
    let shown = format!("{client:?}");
    assert!(!shown.contains(KEY), "Client Debug shows the key: {shown}");
}

/// A key with a `/` echoed JSON-escaped and then percent-encoded (a gateway that JSON-encodes the request
/// and puts it in a URL, e.g. an error page's `Location`): `\/` becomes `%5C%2F`, which the matcher does
/// not follow (`%5C` is a backslash, not the key's `/`).
#[test]
fn a_json_escaped_then_percent_encoded_key_is_scrubbed() {
    let key = "sk-test/KEY-0123456789-must-never-leak";
    let echoed = key.replace('/', "%5C%2F");
    let body = format!("request was {{%22key%22:%22{echoed}%22}}");
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 400, &[], &body);
    });
    let client = Client::builder()
        .api_key(key)
        .base_url(&base)
        .retry_policy(siliconflow::RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.chat(&request()).unwrap_err();
    let _ = server.join();
    let shown = format!("{error:?}");
    assert!(
        !shown.contains("KEY-0123456789-must-never-leak"),
        "the key (JSON-escaped, then percent-encoded) in Debug: {shown}"
    );
}
