//! The fault matrix: stalls, cuts, overload, redirects and deadlines, one row per test.
//!
//! Each row names what the server does and what the caller must see. Timing bounds are generous: they
//! prove "timed out" or "waited", never a speed.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use siliconflow::{Client, Error, RetryPolicy, StreamEnd, TimeoutKind};

/// A fast retry policy for rows that count attempts: small fixed backoff, no jitter.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .jitter(false)
}

fn retrying(base: &str, policy: RetryPolicy) -> Client {
    builder(base).retry_policy(policy).build().unwrap()
}

#[test]
fn stall_after_first_event_is_an_idle_timeout_with_the_first_delta_delivered() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("first"));
        std::thread::sleep(Duration::from_secs(3));
    });
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("first")
    );
    let start = Instant::now();
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Idle)),
        "{error:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert!(!error.is_retryable());
    assert_eq!(stream.content(), "first");
    drop(stream);
    server.join().unwrap();
}

#[test]
fn slow_steady_stream_longer_than_the_idle_timeout_completes() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        for i in 0..12 {
            write_chunk(stream, &content_event(&format!("{i} ")));
            std::thread::sleep(Duration::from_millis(100));
        }
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = stream.write_all(b"0\r\n\r\n");
    });
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_millis(400)))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert!(
        start.elapsed() > Duration::from_millis(1000),
        "longer than the idle timeout in total"
    );
    assert_eq!(stream.content(), "0 1 2 3 4 5 6 7 8 9 10 11 ");
    assert_eq!(stream.end(), Some(StreamEnd::Done));
    server.join().unwrap();
}

#[test]
fn rate_limited_with_retry_after_one_second_then_ok() {
    let (base, server) = raw_server(2, |n, _, stream| {
        if n == 0 {
            write_response(
                stream,
                429,
                &[("Retry-After", "1"), ("Content-Type", "application/json")],
                r#"{"message":"Request was rejected due to rate limiting. Details:TPM limit reached.","data":null}"#,
            );
        } else {
            write_ok_stream(stream);
        }
    });
    let start = Instant::now();
    let mut stream = retrying(&base, RetryPolicy::default())
        .chat_stream(&request())
        .unwrap();
    let waited = start.elapsed();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.content(), "ok");
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(server.join().unwrap().len(), 2, "one retry");
}

#[test]
fn retry_after_ms_is_honoured() {
    let (base, server) = raw_server(2, |n, _, stream| {
        if n == 0 {
            write_response(stream, 503, &[("retry-after-ms", "50")], "");
        } else {
            write_ok_stream(stream);
        }
    });
    // A policy whose own backoff is 5 s: finishing quickly proves the server's 50 ms was used.
    let policy = RetryPolicy::default().backoff(Duration::from_secs(5), Duration::from_secs(5));
    let start = Instant::now();
    let mut stream = retrying(&base, policy).chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(50) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn retry_after_as_an_http_date_in_the_past_falls_back_to_the_backoff() {
    let (base, server) = raw_server(2, |n, _, stream| {
        if n == 0 {
            write_response(
                stream,
                503,
                &[("Retry-After", "Thu, 01 Jan 1970 00:00:00 GMT")],
                "",
            );
        } else {
            write_ok_stream(stream);
        }
    });
    // A date already past asks for nothing: the policy's own backoff applies (not three attempts in a
    // millisecond).
    let policy = RetryPolicy::default()
        .backoff(Duration::from_millis(400), Duration::from_millis(400))
        .jitter(false);
    let start = Instant::now();
    assert!(retrying(&base, policy).chat_stream(&request()).is_ok());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(380) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn a_server_delay_beyond_the_cap_is_not_waited_for() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(
            stream,
            429,
            &[("Retry-After", "3600")],
            "come back in an hour",
        );
    });
    let start = Instant::now();
    let error = retrying(&base, RetryPolicy::default())
        .chat_stream(&request())
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert!(error.is_retryable(), "retryable, just not now");
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn x_should_retry_false_on_500_is_not_retried() {
    let (base, server) = raw_server(3, |_, _, stream| {
        write_response(stream, 500, &[("x-should-retry", "false")], "no");
    });
    let error = retrying(&base, quick_retries())
        .chat_stream(&request())
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert!(!error.is_retryable());
    // Unblock the server's remaining accepts.
    drop(std::net::TcpStream::connect(
        base.trim_start_matches("http://").trim_end_matches("/v1"),
    ));
    drop(std::net::TcpStream::connect(
        base.trim_start_matches("http://").trim_end_matches("/v1"),
    ));
    assert_eq!(server.join().unwrap().len(), 1, "exactly one attempt");
}

#[test]
fn x_should_retry_true_retries_even_a_400() {
    let (base, server) = raw_server(2, |n, _, stream| {
        if n == 0 {
            write_response(stream, 400, &[("x-should-retry", "true")], "try again");
        } else {
            write_ok_stream(stream);
        }
    });
    assert!(retrying(&base, quick_retries())
        .chat_stream(&request())
        .is_ok());
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn overloaded_three_times_fails_after_max_retries() {
    let (base, server) = raw_server(3, |_, _, stream| {
        write_response(
            stream,
            503,
            &[
                ("Content-Type", "application/json"),
                ("x-siliconcloud-trace-id", "t-503"),
            ],
            r#"{"code":50505,"message":"Model service overloaded. Please try again later.","data":null}"#,
        );
    });
    let error = retrying(&base, quick_retries())
        .chat_stream(&request())
        .unwrap_err();
    let Error::Api(e) = &error else {
        panic!("{error:?}")
    };
    assert_eq!((e.status, e.code.as_deref()), (503, Some("50505")));
    assert_eq!(e.request_id.as_deref(), Some("t-503"));
    assert_eq!(server.join().unwrap().len(), 3, "1 attempt + 2 retries");
}

#[test]
fn bad_request_is_sent_exactly_once() {
    for status in [400, 401, 403, 404, 422] {
        let (base, server) = raw_server(1, move |_, _, stream| {
            write_response(stream, status, &[], "nope");
        });
        let client = retrying(&base, quick_retries());
        let error = client.chat_stream(&request()).unwrap_err();
        assert_eq!(error.status(), Some(status));
        assert!(!error.is_retryable());
        // A second attempt would connect; the listener is gone once the thread ends, so the count is exact.
        assert_eq!(server.join().unwrap().len(), 1);
    }
}

#[test]
fn connection_refused_is_retried_then_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let policy = RetryPolicy::default()
        .backoff(Duration::from_millis(150), Duration::from_millis(300))
        .jitter(false);
    let start = Instant::now();
    let error = retrying(&format!("http://127.0.0.1:{port}/v1"), policy)
        .chat_stream(&request())
        .unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_retryable());
    // Two waits, 150 ms and 300 ms, prove two retries happened.
    assert!(
        start.elapsed() >= Duration::from_millis(450),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn timeout_before_the_response_is_retried() {
    let (base, server) = raw_server(2, |n, _, stream| {
        if n == 0 {
            // Longer than the response timeout; the retry waits in the accept queue meanwhile.
            std::thread::sleep(Duration::from_millis(300));
        } else {
            write_ok_stream(stream);
        }
    });
    let client = builder(&base)
        .retry_policy(quick_retries())
        .response_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let completion = client.chat(&request()).unwrap();
    assert_eq!(completion.content(), "ok");
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn mid_stream_error_is_typed_keeps_the_text_and_is_not_retried() {
    let (base, server) = raw_server(2, |_, _, stream| {
        write_sse_head(stream, "close");
        let body = reasoning_event("thinking") + &content_event("partial ")
            + "data: {\"error\":{\"message\":\"Internal error\",\"type\":\"server_error\",\"code\":500}}\n\n";
        let _ = stream.write_all(body.as_bytes());
    });
    let client = retrying(&base, quick_retries());
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    let Error::Stream(e) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(e.message, "Internal error");
    assert!(!error.is_retryable());
    assert_eq!(stream.content(), "partial ");
    assert_eq!(stream.reasoning_content(), "thinking");
    drop(stream);
    drop(client);
    // Only one request reached the server: unblock its second accept and count.
    drop(std::net::TcpStream::connect(
        base.trim_start_matches("http://").trim_end_matches("/v1"),
    ));
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn cut_stream_is_never_re_sent() {
    let (base, server) = raw_server(2, |_, _, stream| {
        write_sse_head(stream, "close");
        let _ = stream.write_all(content_event("cut here").as_bytes());
    });
    let client = retrying(&base, quick_retries());
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    assert!(matches!(error, Error::StreamCut { .. }), "{error:?}");
    assert!(!error.is_retryable());
    drop(std::net::TcpStream::connect(
        base.trim_start_matches("http://").trim_end_matches("/v1"),
    ));
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn redirects_are_not_followed_and_no_key_reaches_the_other_host() {
    let other_connections = Arc::new(AtomicUsize::new(0));
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other.local_addr().unwrap();
    let seen_key = Arc::new(AtomicUsize::new(0));
    let (counter, keys) = (Arc::clone(&other_connections), Arc::clone(&seen_key));
    other.set_nonblocking(true).unwrap();
    let watcher = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            if let Ok((mut s, _)) = other.accept() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains(KEY) {
                    keys.fetch_add(1, Ordering::SeqCst);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    for status in [301, 302, 303, 307, 308] {
        let location = format!("http://{other_addr}/v1/chat/completions");
        let (base, server) = raw_server(1, move |_, _, stream| {
            write_response(stream, status, &[("Location", &location)], "");
        });
        let error = retrying(&base, quick_retries())
            .chat_stream(&request())
            .unwrap_err();
        assert_eq!(error.status(), Some(status), "{error:?}");
        assert!(!format!("{error} {error:?}").contains(KEY));
        server.join().unwrap();
    }
    watcher.join().unwrap();
    assert_eq!(other_connections.load(Ordering::SeqCst), 0);
    assert_eq!(seen_key.load(Ordering::SeqCst), 0);
}

#[test]
fn keep_alive_connection_is_reused_across_sequential_requests() {
    let (base, server) = keepalive_server(3, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("again"));
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = stream.write_all(b"0\r\n\r\n");
        true
    });
    let client = client(&base);
    for _ in 0..2 {
        let mut stream = client.chat_stream(&request()).unwrap();
        assert!(stream.by_ref().all(|d| d.is_ok()));
        assert_eq!(stream.content(), "again");
    }
    // A non-streamed request on the same client reuses it too.
    let completion = client.chat(&request()).unwrap();
    assert_eq!(completion.content(), "again");
    assert_eq!(
        server.join().unwrap(),
        [0, 0, 0],
        "one connection for all requests"
    );
}

#[test]
fn dropping_a_stream_mid_way_closes_its_connection() {
    let closed = Arc::new(AtomicUsize::new(0));
    let saw_close = Arc::clone(&closed);
    let (base, server) = keepalive_server(2, move |n, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("first"));
        if n == 0 {
            // Wait for the client to hang up: a read returns 0 (or fails) once it closed the socket.
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0; 64];
            let start = Instant::now();
            if matches!(stream.read(&mut buf), Ok(0) | Err(_))
                && start.elapsed() < Duration::from_secs(4)
            {
                saw_close.fetch_add(1, Ordering::SeqCst);
            }
            return false;
        }
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = stream.write_all(b"0\r\n\r\n");
        true
    });
    let client = client(&base);
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    drop(stream);
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(
        server.join().unwrap(),
        [0, 1],
        "the half-read connection was not reused"
    );
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the dropped stream's socket was closed"
    );
}

#[test]
fn deadline_ends_a_stream_that_runs_too_long_and_keeps_its_text() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        for _ in 0..40 {
            write_chunk(stream, &content_event("tick "));
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let client = builder(&base)
        .deadline(Some(Duration::from_millis(600)))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Deadline)),
        "{error:?}"
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_millis(1600),
        "{elapsed:?}"
    );
    assert!(stream.content().starts_with("tick tick "));
    drop(stream);
    server.join().unwrap();
}

#[test]
fn deadline_bounds_a_stalled_read_too() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("one"));
        std::thread::sleep(Duration::from_secs(3));
    });
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_secs(60)))
        .deadline(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Deadline)),
        "{error:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    drop(stream);
    server.join().unwrap();
}

#[test]
fn deadline_stops_retries_it_cannot_wait_for() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(stream, 503, &[("Retry-After", "2")], "busy");
    });
    let client = builder(&base)
        .retry_policy(RetryPolicy::default())
        .deadline(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let start = Instant::now();
    let error = client.chat_stream(&request()).unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert!(start.elapsed() < Duration::from_millis(400));
    assert_eq!(server.join().unwrap().len(), 1);
}

#[test]
fn per_request_overrides_share_the_pool() {
    let (base, server) = keepalive_server(2, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("x"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = stream.write_all(b"0\r\n\r\n");
        true
    });
    let client = client(&base);
    let strict = client
        .with_deadline(Some(Duration::from_secs(5)))
        .with_idle_timeout(Some(Duration::from_secs(1)))
        .with_retry_policy(RetryPolicy::none());
    for c in [&client, &strict] {
        let mut stream = c.chat_stream(&request()).unwrap();
        assert!(stream.by_ref().all(|d| d.is_ok()));
    }
    assert_eq!(server.join().unwrap(), [0, 0]);
}

#[test]
fn accumulated_text_beyond_the_bound_is_an_error() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "close");
        for _ in 0..100 {
            if stream
                .write_all(content_event(&"y".repeat(100)).as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    let client = builder(&base)
        .max_accumulated_size(Some(1000))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    assert!(
        matches!(error, Error::AccumulatedTooLarge { limit: 1000 }),
        "{error:?}"
    );
    // The bound counts the text (each byte with an eighth more: a 100-byte delta costs 113), the
    // metadata and the choice's bookkeeping: as many deltas as fit were handed out, and no more.
    let text = stream.content().len();
    assert!(text % 100 == 0 && text >= 300, "{text}");
    let held = stream.held_bytes();
    assert!(held <= 1000 && held + 113 > 1000, "{held}");
    drop(stream);
    server.join().unwrap();
}
