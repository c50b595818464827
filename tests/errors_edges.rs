//! Error kinds, retry decisions and caller inputs at their edges (found by an adversarial review; kept as
//! regressions).

mod common;

use std::io::Write;

use common::*;
use siliconflow::Error;

/// README failure table: a break *before* the response is `Error::Transport`, retried; a break mid-body
/// "never: the work may be done and billed". `Error::is_retryable` docs: "Failures of a stream already in
/// the caller's hands … answer `false`". A `chat()` whose 200 JSON body is cut (Content-Length 1000, 10
/// bytes, hang-up) is reported as `Error::Transport`, and `is_retryable()` says `true`: a caller's own
/// retry loop (or a queue that re-runs retryable jobs) re-sends a request the server already did.
#[test]
fn a_json_body_cut_after_200_is_a_cut_answer_and_not_retryable() {
    let (base, server) = raw_server(1, |_, _, stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"c1\",",
        );
    });
    let error = client(&base).chat(&request()).unwrap_err();
    let _ = server.join();
    println!("{error:?} retryable={}", error.is_retryable());
    assert!(
        !error.is_retryable(),
        "a 200 answer cut mid-body reads as retryable: {error:?}"
    );
}

/// `StreamLimits::max_event_size(usize::MAX)` ("no bound") is accepted by the builder, and the streaming
/// path copes, but every whole-body read does `self.take(limit as u64 + 1)` (body.rs `read_bounded`): an
/// overflow. In a debug build that panics (`attempt to add with overflow`); in release it wraps to
/// `take(0)`, reads nothing, and a valid answer becomes `MalformedChunk`.
#[test]
fn max_event_size_usize_max_reads_json_answers() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(
            stream,
            200,
            &[("Content-Type", "application/json")],
            common::endpoints::CHAT_BODY,
        );
    });
    let client = builder(&base).max_event_size(usize::MAX).build().unwrap();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.chat(&request())));
    let _ = server.join();
    match outcome {
        Err(panic) => panic!(
            "chat() panicked: {:?}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or(panic.downcast_ref::<&str>().copied())
        ),
        Ok(Err(e)) => panic!("a valid answer failed: {e:?}"),
        Ok(Ok(completion)) => assert_eq!(completion.content(), "ok"),
    }
}

/// The same through `with_limits` on a streaming request answered with JSON.
#[test]
fn with_limits_usize_max_reads_a_json_answer_to_a_streaming_request() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(
            stream,
            200,
            &[("Content-Type", "application/json")],
            common::endpoints::CHAT_BODY,
        );
    });
    let client =
        client(&base).with_limits(siliconflow::StreamLimits::default().max_event_size(usize::MAX));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.chat_stream(&request()).map(|mut s| {
            let _ = s.by_ref().count();
            s.content().to_string()
        })
    }));
    let _ = server.join();
    match outcome {
        Err(_) => panic!("chat_stream() panicked"),
        Ok(result) => assert_eq!(result.ok().as_deref(), Some("ok")),
    }
}

// Silence the unused warning of `Error` when only some tests are built.
#[allow(dead_code)]
fn _uses(_: Error) {}

/// DESIGN "Retries": "before any byte of a 2xx body reaches the caller, retry connection failures,
/// timeouts before the response, …". For a streaming request the wait for the head is bounded by the idle
/// timeout and reported as `Timeout(Idle)`, which is never retried: the same stall is retried for `chat()`
/// (`Timeout(Response)`) but not for `chat_stream()`. Here the first attempt's head never comes (idle
/// 300 ms), the second would answer at once; the policy allows one retry.
#[test]
fn a_late_head_of_a_streaming_request_is_retried_like_chats() {
    use std::time::Duration;
    let (base, server) = raw_server_threaded(2, |n, _, stream| {
        if n == 0 {
            std::thread::sleep(Duration::from_secs(2));
            return;
        }
        write_ok_stream(stream);
    });
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_millis(300)))
        .retry_policy(
            siliconflow::RetryPolicy::default()
                .max_retries(1)
                .backoff(Duration::from_millis(10), Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let result = client.chat_stream(&request()).map(|mut s| {
        let _ = s.by_ref().count();
        s.content().to_string()
    });
    let opened = client.connections_opened();
    drop(client);
    if opened < 2 {
        // Unblock the server's second accept.
        let _ = std::net::TcpStream::connect(
            base.trim_start_matches("http://").trim_end_matches("/v1"),
        );
    }
    let _ = server.join();
    println!("{result:?}, connections opened {opened}");
    assert_eq!(
        result.as_ref().ok().map(String::as_str),
        Some("ok"),
        "a head that did not come within the idle timeout was not retried: {result:?} ({opened} attempt(s))"
    );
}

/// "No panic from any input". `Retry-After` as an HTTP date is parsed with a signed 64-bit year and
/// unchecked arithmetic (retry.rs `parse_http_date`: `era * 146_097`, `days * 86_400`): a year near
/// `i64::MAX` overflows. It is parsed for every error status, so any 4xx/5xx with this header panics in a
/// debug build (and yields a wrapped, arbitrary delay in release).
#[test]
fn a_retry_after_date_with_a_huge_year_is_ignored_without_a_panic() {
    for date in [
        "Wed, 25 Nov 9223372036854775807 13:44:49 GMT",
        "Wed, 25 Jan -9223372036854775808 13:44:49 GMT",
        "Wed, 25 Nov 99999999999999 13:44:49 GMT",
    ] {
        let (base, server) = raw_server(1, move |_, _, stream| {
            write_response(
                stream,
                400,
                &[("Retry-After", date)],
                "{\"error\":{\"message\":\"no\"}}",
            );
        });
        let client = client(&base);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.chat(&request())));
        let _ = server.join();
        match outcome {
            Err(_) => panic!("a 400 with `Retry-After: {date}` panicked the client"),
            Ok(result) => assert!(matches!(result, Err(Error::Api(_))), "{result:?}"),
        }
    }
}
