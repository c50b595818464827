//! The API key never appears in what a program could print: every error path, and every `Debug`.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use siliconflow::{ChatStream, Client, Error};

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} leaked the key: {text}");
    assert!(
        !text.contains("must-never-leak"),
        "{what} leaked part of the key: {text}"
    );
}

#[test]
fn the_key_never_appears_in_any_error_or_debug_output() {
    let mut errors: Vec<(&str, Error)> = Vec::new();

    // Configuration errors, with the key itself malformed.
    errors.push((
        "key with newline",
        Client::builder()
            .api_key(format!("{KEY}\r\nX: y"))
            .build()
            .unwrap_err(),
    ));
    errors.push((
        "bad base url",
        Client::builder()
            .api_key(KEY)
            .base_url("ftp://nowhere")
            .build()
            .unwrap_err(),
    ));
    errors.push(("missing key", Client::builder().build().unwrap_err()));

    // Connection refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    errors.push((
        "refused",
        client(&format!("http://127.0.0.1:{port}/v1"))
            .chat_stream(&request())
            .unwrap_err(),
    ));

    // Every server behaviour, one connection each; the server echoes the Authorization header back in
    // its bodies, as a hostile or buggy proxy might.
    let (base, server) = raw_server_threaded(9, |n, seen, stream| {
        let auth = seen
            .head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization"))
            .unwrap_or("")
            .to_string();
        match n {
            0 => write_response(
                stream,
                401,
                &[],
                &format!("{{\"error\":{{\"message\":\"bad {auth}\"}}}}"),
            ),
            1 => {
                write_sse_head(stream, "close");
                let _ = write!(stream, "data: {{\"error\":{{\"message\":\"{auth}\"}}}}\n\n");
            }
            2 => {
                write_sse_head(stream, "close");
                let _ = write!(stream, "data: {{not json {auth}\n\n");
            }
            3 => {
                write_sse_head(stream, "close");
                let _ = stream.write_all(content_event("cut").as_bytes());
            }
            4 => {
                write_sse_head(stream, "chunked");
                write_chunk(stream, &content_event("stall"));
                std::thread::sleep(Duration::from_millis(600));
            }
            5 => std::thread::sleep(Duration::from_millis(600)),
            6 => {} // Hang up without a response.
            7 => {
                write_sse_head(stream, "close");
                for _ in 0..4 {
                    let _ = stream.write_all(content_event(&"z".repeat(500)).as_bytes());
                }
            }
            _ => {
                write_sse_head(stream, "close");
                let _ = write!(stream, "data: {}\n\n", "q".repeat(3000));
            }
        }
    });
    let quick = builder(&base)
        .idle_timeout(Some(Duration::from_millis(200)))
        .response_timeout(Duration::from_millis(200))
        .max_event_size(2048)
        .max_accumulated_size(Some(1000))
        .build()
        .unwrap();
    let first_error = |client: &Client| match client.chat_stream(&request()) {
        Err(e) => e,
        Ok(mut stream) => stream.by_ref().find_map(Result::err).expect("an error"),
    };
    for name in [
        "401",
        "stream error",
        "malformed",
        "cut",
        "idle",
        "response timeout",
        "hang-up",
        "accumulated",
        "too large",
    ] {
        errors.push((name, first_error(&quick)));
    }
    let deadline = quick.with_deadline(Some(Duration::from_millis(1)));
    std::thread::sleep(Duration::from_millis(5));
    errors.push(("deadline", first_error(&deadline)));
    server.join().unwrap();

    let kinds: Vec<String> = errors
        .iter()
        .map(|(name, e)| {
            format!(
                "{name}: {}",
                format!("{e:?}").split(['(', ' ', '{']).next().unwrap()
            )
        })
        .collect();
    for (name, error) in &errors {
        assert_clean(name, &format!("{error}"));
        assert_clean(name, &format!("{error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            assert_clean(name, &format!("{cause} {cause:?}"));
            source = cause.source();
        }
    }
    // The server's echo reached the body of the errors (so the check above is not vacuous)…
    let Error::Api(api) = &errors[4].1 else {
        panic!("{kinds:?}")
    };
    assert!(
        api.body.contains("Bearer"),
        "the raw body is kept: {}",
        api.body
    );
    // …and every kind of failure was produced.
    let expected = [
        "InvalidConfig",
        "InvalidConfig",
        "MissingApiKey",
        "Connect",
        "Api",
        "Stream",
        "MalformedChunk",
        "StreamCut",
        "Timeout",
        "Timeout",
        "Transport",
        "AccumulatedTooLarge",
        "EventTooLarge",
        "Timeout",
    ];
    for ((name, error), kind) in errors.iter().zip(expected) {
        assert!(
            format!("{error:?}").starts_with(kind),
            "{name}: expected {kind}, got {error:?}"
        );
    }

    // Debug of the client, its builder, a request and a stream.
    let builder_debug = format!("{:?}", Client::builder().api_key(KEY));
    assert_clean("builder", &builder_debug);
    assert_clean("client", &format!("{quick:?}"));
    assert_clean("request", &format!("{:?}", request()));
    let body = content_event("x");
    assert_clean(
        "stream",
        &format!("{:?}", ChatStream::from_reader(body.as_bytes())),
    );
}

/// A key with the characters that JSON and URLs escape.
const HARD_KEY: &str = "sk-Hard/Key\"with\\odd%chars+and=0123456789";

/// The key as a server might echo it.
fn encodings(key: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(key).unwrap();
    let json = json[1..json.len() - 1].to_string();
    vec![
        ("raw", key.to_string()),
        ("json-escaped", json.clone()),
        ("json with escaped slashes", json.replace('/', "\\/")),
        (
            "fully \\u-escaped",
            key.bytes().map(|b| format!("\\u{b:04x}")).collect(),
        ),
        (
            "percent-encoded",
            key.bytes().map(|b| format!("%{b:02X}")).collect(),
        ),
    ]
}

/// Fails when `shown` holds any 8-byte window of the key in the given encoding (a cut key leaks too).
fn assert_no_window(what: &str, shown: &str, key: &str, encode: &dyn Fn(&str) -> String) {
    for start in 0..key.len().saturating_sub(8) {
        let window = encode(&key[start..start + 8]);
        assert!(
            memchr::memmem::find(shown.as_bytes(), window.as_bytes()).is_none(),
            "{what}: shows {window:?} of the key in {shown:?}"
        );
    }
}

/// Every place a server can put the key (an error body, a malformed chunk, a stream error, a JSON error
/// payload, a header), in every encoding, at every position around the cuts (the 64 KiB body bound, the
/// 512-byte snippet): no `Display` or `Debug` of the error shows 8 bytes of it.
#[test]
fn the_key_never_shows_in_any_encoding_at_any_cut() {
    let client_for = |base: &str| {
        Client::builder()
            .api_key(HARD_KEY)
            .base_url(base)
            .retry_policy(siliconflow::RetryPolicy::none())
            .build()
            .unwrap()
    };
    let margin = HARD_KEY.len() * 6;
    // (where, status, content type, body builder: (echo, offset) -> body)
    type Body = fn(&str, usize) -> String;
    let places: Vec<(&str, u16, &str, Body, Vec<usize>)> = vec![
        (
            "error body around the 64 KiB cut",
            400,
            "application/json",
            |echo, at| format!("{{\"message\":\"{}{echo}\"}}", "m".repeat(at)),
            (0..margin + 2)
                .map(|k| 64 * 1024 - 12 - k)
                .chain([0, 5])
                .collect(),
        ),
        (
            "plain-text error body around the 64 KiB cut",
            502,
            "text/html",
            |echo, at| format!("{}{echo}</html>", "h".repeat(at)),
            (0..margin + 2).map(|k| 64 * 1024 - k).chain([0]).collect(),
        ),
        (
            "malformed chunk around the 512-byte cut",
            200,
            "text/event-stream",
            |echo, at| format!("data: {{\"bad\" {}{echo}\n\n", "b".repeat(at)),
            (0..margin + 2).map(|k| 512 - 9 - k).chain([0]).collect(),
        ),
        (
            "a chunk whose parser error quotes the key",
            200,
            "text/event-stream",
            |echo, _| format!("data: {{\"choices\":[{{\"index\":\"{echo}\"}}]}}\n\n"),
            vec![0],
        ),
        (
            "stream error event",
            200,
            "text/event-stream",
            |echo, at| format!("event: error\ndata: {}{echo}\n\n", "e".repeat(at)),
            vec![0, 1000],
        ),
        (
            "JSON error payload in a 200",
            200,
            "application/json",
            |echo, at| format!("{{\"error\":{{\"message\":\"{}{echo}\"}}}}", "j".repeat(at)),
            vec![0, 70_000],
        ),
    ];
    // One server answers every row in turn, one connection each, to one client.
    struct Row {
        what: String,
        encoding: &'static str,
        status: u16,
        content_type: &'static str,
        text: String,
    }
    let mut rows = Vec::new();
    for (place, status, content_type, body, offsets) in &places {
        for (encoding, echo) in encodings(HARD_KEY) {
            for &at in offsets {
                rows.push(Row {
                    what: format!("{place}, {encoding}, at {at}"),
                    encoding,
                    status: *status,
                    content_type,
                    text: body(&echo, at),
                });
            }
        }
    }
    let answers: Vec<(u16, &'static str, String)> = rows
        .iter()
        .map(|r| (r.status, r.content_type, r.text.clone()))
        .collect();
    let (base, server) = raw_server(rows.len(), move |n, _, stream| {
        let (status, content_type, text) = &answers[n];
        write_response(stream, *status, &[("Content-Type", content_type)], text);
    });
    let client = client_for(&base);
    for row in &rows {
        let error = if row.content_type.contains("event-stream") {
            match client.chat_stream(&request()) {
                Ok(mut stream) => stream.by_ref().find_map(Result::err),
                Err(e) => Some(e),
            }
        } else {
            client.chat(&request()).err()
        };
        let error = error.unwrap_or_else(|| panic!("{}: no error", row.what));
        let shown = format!("{error} {error:?}");
        let encode = |s: &str| {
            encodings(s)
                .into_iter()
                .find(|(e, _)| *e == row.encoding)
                .unwrap()
                .1
        };
        assert_no_window(&row.what, &shown, HARD_KEY, &encode);
        assert_no_window(&row.what, &shown, HARD_KEY, &|s| s.to_string());
    }
    server.join().unwrap();
    // Headers echoing the key are scrubbed in the metadata a result or an error carries.
    for (encoding, echo) in encodings(HARD_KEY) {
        let echo = echo.clone();
        let (base, server) = raw_server(1, move |_, _, stream| {
            write_response(stream, 429, &[("x-echo", &echo)], "{}");
        });
        let error = client_for(&base).chat(&request()).unwrap_err();
        server.join().unwrap();
        let api = error.api_error().expect("an API error");
        let shown = format!("{error:?} {:?}", api.headers);
        assert!(shown.contains("<redacted>"), "{encoding}: {shown}");
        assert_no_window(encoding, &shown, HARD_KEY, &|s| s.to_string());
    }
    assert!(rows.len() > 300, "{} rows", rows.len());
}
