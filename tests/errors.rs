//! Errors are what the docs say: each row of the README's failure table that is not a timeout (the fault
//! matrix has those), and the connection handling around `[DONE]`.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::endpoints::endpoints;
use common::*;
use siliconflow::{CancelHandle, Client, Error, RetryPolicy, StreamEnd, TimeoutKind};

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .jitter(false)
}

#[test]
fn a_name_that_does_not_resolve_is_a_connect_error() {
    let client = client("http://no-such-host.invalid/v1");
    let error = client.chat(&request()).unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(
        error.to_string().contains("no-such-host.invalid"),
        "{error}"
    );
    assert!(error.is_retryable());
}

#[test]
fn a_key_http_cannot_carry_fails_at_build() {
    for key in [
        "sk-ключ-0123456789",
        "sk-with space",
        "sk-tab\tkey",
        "sk-\u{7f}del",
    ] {
        let error = Client::builder().api_key(key).build().unwrap_err();
        assert!(
            matches!(error, Error::InvalidConfig(_)),
            "{key:?}: {error:?}"
        );
        assert!(!error.to_string().contains("ключ"), "{error}");
    }
}

#[test]
fn a_huge_response_head_is_a_protocol_error_and_is_not_retried() {
    let (base, server) = raw_server(3, |_, _, stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nx-big: {}\r\nContent-Length: 0\r\n\r\n",
            "h".repeat(128 * 1024)
        );
    });
    let client = builder(&base)
        .retry_policy(quick_retries())
        .build()
        .unwrap();
    let error = client.chat(&request()).unwrap_err();
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
    assert!(!error.is_retryable());
    drop(client);
    // Nothing else comes: the server's accept loop ends when the listener closes with the test.
    let seen = std::thread::spawn(move || server.join().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!seen.is_finished(), "only one attempt was made");
}

#[test]
fn an_authorization_header_of_the_callers_is_refused_before_anything_is_sent() {
    let error = Client::builder()
        .api_key(KEY)
        .header("Authorization", "Bearer sk-other-key-0123456789")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfig(_)), "{error:?}");
    assert!(!error.to_string().contains("sk-other"), "{error}");

    let (base, server) = raw_server(1, |_, _, stream| write_ok_stream(stream));
    let client = client(&base);
    let error = client
        .with_header("authorization", "Bearer sk-other-key-0123456789")
        .chat_stream(&request())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfig(_)), "{error:?}");
    // The server is still waiting for its first connection: the refused request sent nothing.
    assert!(client.chat_stream(&request()).is_ok());
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn every_endpoint_asks_for_identity_and_a_compressed_answer_is_a_protocol_error() {
    for endpoint in endpoints() {
        let (base, server) = raw_server(1, |_, _, stream| {
            write_response(
                stream,
                200,
                &[
                    ("Content-Encoding", "gzip"),
                    ("Content-Type", "application/json"),
                ],
                "\u{1f}\u{8b}",
            );
        });
        let error = (endpoint.call)(&client(&base)).unwrap_err();
        let seen = server.join().unwrap();
        let head = seen[0].head.to_ascii_lowercase();
        assert!(
            head.contains("accept-encoding: identity\r\n"),
            "{}: {head}",
            endpoint.name
        );
        assert!(
            matches!(&error, Error::Protocol { reason, .. } if reason.contains("gzip")),
            "{}: {error:?}",
            endpoint.name
        );
        assert!(!error.is_retryable());
    }
}

#[test]
fn an_html_error_page_displays_in_about_a_kib_and_keeps_its_whole_body() {
    let page = format!("<html><body>{}</body></html>", "Bad gateway. ".repeat(5000));
    let body = page.clone();
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 400, &[("Content-Type", "text/html")], &body);
    });
    let error = client(&base).chat(&request()).unwrap_err();
    server.join().unwrap();
    let shown = error.to_string();
    assert!(shown.len() < 1200, "{} bytes", shown.len());
    assert!(shown.contains("bytes in all"), "{shown}");
    assert_eq!(error.api_error().unwrap().body, page.trim());
}

#[test]
fn after_done_next_returns_at_once_and_a_connection_whose_end_is_late_is_not_reused() {
    // The server sends `[DONE]`, holds the connection 2 s without ending the chunked body, then ends it.
    let (base, server) = keepalive_server(2, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("held"));
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        std::thread::sleep(Duration::from_secs(2));
        let _ = stream.write_all(b"0\r\n\r\n");
        true
    });
    let client = client(&base);
    for _ in 0..2 {
        // (The single-threaded server answers the second request only after its 2 s hold.)
        let mut stream = client.chat_stream(&request()).unwrap();
        let start = Instant::now();
        assert!(stream.by_ref().all(|d| d.is_ok()));
        assert_eq!(stream.end(), Some(StreamEnd::Done));
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "next() waited for the server: {:?}",
            start.elapsed()
        );
    }
    // The first connection was closed (its end had not arrived), so the second request opened another.
    assert_eq!(server.join().unwrap(), [0, 1]);
}

#[test]
fn a_stream_that_stalls_just_before_the_deadline_ends_at_the_deadline() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        for i in 0..9 {
            write_chunk(stream, &content_event(&format!("{i}")));
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(4)); // stall at ~0.9 s, past the deadline
    });
    let deadline = Duration::from_millis(1200);
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_secs(10)))
        .deadline(Some(deadline))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    let late = start.elapsed().saturating_sub(deadline);
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Deadline)),
        "{error:?}"
    );
    assert!(
        late < Duration::from_millis(100),
        "{late:?} after the deadline"
    );
    assert_eq!(stream.content(), "012345678");
    drop(stream);
    server.join().unwrap();
}

#[test]
fn cancelling_one_request_leaves_the_others_on_the_same_client_alone() {
    // Two streams on one client: one stalls before its first byte and is cancelled, the other goes on.
    let (base, server) = raw_server_threaded(2, |_, seen, stream| {
        let body = String::from_utf8_lossy(&seen.body).to_string();
        if body.contains("stall") {
            std::thread::sleep(Duration::from_secs(3));
            return;
        }
        write_sse_head(stream, "chunked");
        for word in ["a", "b", "c", "d", "e"] {
            write_chunk(stream, &content_event(word));
            std::thread::sleep(Duration::from_millis(100));
        }
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = stream.write_all(b"0\r\n\r\n");
    });
    let client = client(&base);
    let cancel = CancelHandle::new();
    let stalled = {
        let client = client.with_cancel(&cancel);
        std::thread::spawn(move || {
            let request =
                siliconflow::ChatRequest::new("m", vec![siliconflow::Message::user("stall")]);
            let start = Instant::now();
            let result = client.chat_stream(&request).map(drop);
            (result, start.elapsed())
        })
    };
    let mut other = client.chat_stream(&request()).unwrap();
    assert!(other.next().unwrap().is_ok());
    std::thread::sleep(Duration::from_millis(150));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (result, _) = stalled.join().unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        cancelled_at.elapsed() < Duration::from_millis(100),
        "{:?}",
        cancelled_at.elapsed()
    );
    assert!(
        other.by_ref().all(|d| d.is_ok()),
        "the other stream goes on"
    );
    assert_eq!(other.content(), "abcde");
    drop(other);
    server.join().unwrap();
}

#[test]
fn a_cancel_mid_body_keeps_the_text_and_stops_the_stream() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("partial"));
        std::thread::sleep(Duration::from_secs(3));
    });
    let cancel = CancelHandle::new();
    let client = client(&base).with_cancel(&cancel);
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("partial")
    );
    let canceller = cancel_in(cancel, Duration::from_millis(200));
    let error = stream.next().unwrap().unwrap_err();
    let cancelled_at = canceller.join().unwrap();
    assert!(matches!(error, Error::Cancelled), "{error:?}");
    assert!(cancelled_at.elapsed() < Duration::from_millis(100));
    assert!(stream.next().is_none(), "fused");
    assert_eq!(stream.content(), "partial");
    assert_eq!(stream.end(), Some(StreamEnd::Failed));
    drop(stream);
    server.join().unwrap();
}
