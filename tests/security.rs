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
