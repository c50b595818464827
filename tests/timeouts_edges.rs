//! Phases at the edges of their limits: a proxy trickling its CONNECT answer, a server reading the request
//! slowly, endless trailers after `[DONE]`, the deadline during a slow upload. Found by an adversarial
//! review; kept as regressions.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use siliconflow::{ChatRequest, Error, Message, TimeoutKind};

/// README "Timeouts and limits": "connect (TCP + TLS, through any proxy) | 10 s | connect_timeout". An HTTP
/// CONNECT proxy that answers its `200` head one byte at a time keeps the connect phase going for as long
/// as it likes: ureq's CONNECT connector waits for the proxy's head with `maybe_await_input(details.timeout)`
/// in a loop, the same full connect timeout for every read (not what is left of it), and this crate's
/// transport passes that on. Here the connect timeout is 1 s and the proxy trickles for 6 s.
#[test]
fn a_connect_proxy_trickling_its_answer_ends_at_the_connect_timeout() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let proxy_thread = std::thread::spawn(move || {
        let (stream, _) = proxy.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let mut stream = stream;
        let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\nX-Pad: ");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(6) {
            if stream.write_all(b"a").is_err() {
                return; // the client gave up, as it should have after 1 s
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let client = builder("http://127.0.0.1:9/v1")
        .proxy(format!("http://127.0.0.1:{proxy_port}"))
        .no_proxy("")
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = client.chat(&request());
    let took = started.elapsed();
    let _ = proxy_thread.join();
    println!("ended after {took:?} with {result:?}");
    assert!(
        took < Duration::from_millis(2500),
        "connect timeout 1 s, the connect phase took {took:?} and ended with {result:?}"
    );
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Connect))),
        "{result:?}"
    );
}

/// README "Timeouts and limits": "Every phase of every call is bounded … sending the request (head and
/// body)". The event timeout covers "one whole event of a stream, or a whole non-streamed body" *read*;
/// the idle timeout only each write's progress. A server that reads the request slowly (16 KiB every
/// 50 ms) keeps the send phase going with no limit but the deadline: here idle 300 ms, event 500 ms,
/// response 500 ms, and the send takes as long as the server likes (6 s, then it stops reading).
#[test]
fn a_slowly_reading_server_cannot_keep_the_send_going_past_the_event_timeout() {
    // 16 KiB every 50 ms for 6 s, then nothing (now idle fires).
    let (base, server) = slow_reader(16 * 1024, Duration::from_millis(50), Duration::from_secs(6));
    let client = builder(&base)
        .idle_timeout(Some(Duration::from_millis(300)))
        .event_timeout(Some(Duration::from_millis(500)))
        .response_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let request = ChatRequest::new("m", vec![Message::user("x".repeat(48 * 1024 * 1024))]);
    let started = Instant::now();
    let result = client.chat(&request);
    let took = started.elapsed();
    let _ = server.join();
    println!("ended after {took:?} with {result:?}");
    assert!(
        took < Duration::from_secs(3),
        "every timeout ≤ 500 ms, sending took {took:?} and ended with {result:?}"
    );
}

/// README: "After `[DONE]`, `next()` returns `None` at once: the rest of the body is read only if it has
/// already arrived". The poll-mode drain counts the *body* bytes it reads (at most 64 KiB), but ureq reads
/// a chunked body's trailer section without producing body bytes, in a loop inside one `read`, for as
/// long as input keeps arriving. A server that follows `[DONE]` and `0\r\n` with endless trailer lines
/// holds `next()` until the event timeout (10 minutes by default; 3 s here) or the server stops (5 s).
#[test]
fn endless_trailers_after_done_do_not_hold_next() {
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "chunked");
        write_chunk(stream, &content_event("ok"));
        write_chunk(stream, &finish_event("stop"));
        let mut done = format!(
            "{:x}\r\ndata: [DONE]\n\n\r\n0\r\n",
            "data: [DONE]\n\n".len()
        )
        .into_bytes();
        let trailers = "X-T: y\r\n".repeat(8 * 1024);
        done.extend_from_slice(trailers.as_bytes());
        let _ = stream.write_all(&done);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if stream.write_all(trailers.as_bytes()).is_err() {
                return;
            }
        }
    });
    let client = builder(&base)
        .event_timeout(Some(Duration::from_secs(3)))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("ok")
    );
    assert!(stream.next().unwrap().is_ok(), "the finish");
    let started = Instant::now();
    let after_done = stream.next();
    let took = started.elapsed();
    drop(stream);
    let _ = server.join();
    println!("next() after [DONE] took {took:?}: {after_done:?}");
    assert!(after_done.is_none(), "{after_done:?}");
    assert!(
        took < Duration::from_millis(100),
        "next() after [DONE] took {took:?}"
    );
}

/// README: "the deadline fires within milliseconds of its time in every phase" (each `write(2)` "waits at
/// most the time left before the deadline"). The transport computes the wait once per
/// `transmit_output` and then `write_all`s the whole output buffer (128 KiB) under that socket timeout:
/// every partial `write(2)` gets the full wait again. A server that reads steadily but slowly (512 bytes
/// every 100 ms, once the socket buffers are full) makes one `transmit_output` last seconds past the
/// deadline.
#[test]
fn the_deadline_holds_while_a_slow_reader_takes_the_request() {
    let (base, server) = slow_reader(512, Duration::from_millis(100), Duration::from_secs(12));
    let client = builder(&base)
        .deadline(Some(Duration::from_secs(1)))
        .idle_timeout(None)
        .build()
        .unwrap();
    let request = ChatRequest::new("m", vec![Message::user("x".repeat(32 * 1024 * 1024))]);
    // The deadline starts when the request is sent, after the body is serialized (slow in a debug build):
    // that time is measured on a copy and allowed for.
    let serialize = Instant::now();
    drop(serde_json::to_vec(&serde_json::to_value(&request).unwrap()).unwrap());
    let serialize = serialize.elapsed();
    let started = Instant::now();
    let result = client.chat(&request);
    let took = started.elapsed().saturating_sub(serialize);
    let _ = server.join();
    println!("deadline 1 s: ended after {took:?} with {result:?}");
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))),
        "{result:?}"
    );
    assert!(
        took < Duration::from_millis(1300),
        "deadline 1 s, the request ended after {took:?}"
    );
}

/// A server that reads a request's head, then its body `block` bytes at a time with a `pause` after each
/// read (straight from the socket, no read-ahead), for `reading`, then stops reading for 2 s.
fn slow_reader(
    block: usize,
    pause: Duration,
    reading: Duration,
) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let started = Instant::now();
        let mut buf = vec![0u8; block];
        while started.elapsed() < reading {
            if reader.get_mut().read(&mut buf).unwrap_or(0) == 0 {
                return;
            }
            std::thread::sleep(pause);
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    (base, server)
}
