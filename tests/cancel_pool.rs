//! Cancellation handles and pooled connections: a connection serves many requests in turn, and only the
//! current request's handle may shut it down; handles are told apart by a number no other handle had (not
//! by their address, which a later handle can reuse). Found by an adversarial review; kept as regressions.

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use siliconflow::{CancelHandle, Error};

/// A complete chat answer with `Content-Length`, keep-alive.
fn keepalive_json(stream: &mut std::net::TcpStream) {
    let body = common::endpoints::CHAT_BODY;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Request 1 uses handle A and finishes; its connection goes back to the pool. Request 2 uses no handle
/// (or another one) and gets the same connection. Cancelling A afterwards (a "Stop" button pressed late,
/// or a cleanup that cancels every handle it created) must leave request 2 alone: README "Cancellation":
/// "other requests on the same client go on", `CancelHandle` docs: "Other requests on the same client,
/// including those on the same connection pool, go on untouched."
#[test]
fn a_finished_requests_cancel_handle_cannot_kill_a_later_request_on_its_pooled_connection() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let (base, server) = keepalive_server(2, move |n, _, stream| {
        if n == 0 {
            keepalive_json(stream);
            return true;
        }
        // Request 2: a stream whose first event arrives at once and the rest when the test says so.
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        write_chunk(stream, &content_event("first "));
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(5));
        write_chunk(stream, &content_event("second"));
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        write_chunk(stream, "");
        false
    });
    let client = client(&base);
    let a = CancelHandle::new();
    client.with_cancel(&a).chat(&request()).expect("request 1");

    // Request 2, without any handle, on the pooled connection.
    let mut stream = client.chat_stream(&request()).expect("request 2 starts");
    let first = stream
        .next()
        .expect("a first delta")
        .expect("first delta ok");
    assert_eq!(first.content.as_deref(), Some("first "));
    assert_eq!(
        client.connections_opened(),
        1,
        "request 2 reused the pooled connection"
    );

    // The user cancels the handle of the request that finished long ago.
    a.cancel();
    release_tx.send(()).unwrap();
    let rest: Vec<Result<_, Error>> = stream.by_ref().collect();
    let _ = server.join();
    let errors: Vec<String> = rest
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| format!("{e:?}"))
        .collect();
    assert!(
        errors.is_empty() && stream.content() == "first second",
        "request 2 (no cancel handle) was broken by cancelling request 1's finished handle: errors {errors:?}, \
         content {:?}",
        stream.content()
    );
}

/// The docs advise "a new handle per request". Request 1 uses a fresh handle A and finishes; A (and the
/// client clone holding it) are dropped. Request 2 uses a fresh handle B; the allocator is free to place
/// B's state at A's old address, and the pooled transport, which remembers "registered with" as that
/// address, then never registers its socket with B. B's cancel cannot wake the blocked read: the request
/// waits until the server speaks (here 4 s) instead of returning `Cancelled` within milliseconds.
#[test]
fn a_new_handle_at_a_freed_handles_address_still_cancels_promptly() {
    const ROUNDS: usize = 4;
    const HEAD_DELAY: Duration = Duration::from_secs(4);
    let (base, server) = keepalive_server(2 * ROUNDS, move |n, _, stream| {
        if n % 2 == 0 {
            keepalive_json(stream);
            return true;
        }
        // The answer to request 2 of the round takes a while (a reasoning model thinking): long enough to
        // see whether the cancel woke the read.
        std::thread::sleep(HEAD_DELAY);
        write_ok_stream(stream);
        false
    });
    let client = client(&base);
    let mut slow = Vec::new();
    for round in 0..ROUNDS {
        {
            let a = CancelHandle::new();
            client.with_cancel(&a).chat(&request()).expect("request 1");
        } // A and its client clone are gone; the connection is pooled.
        let b = CancelHandle::new();
        let canceller = {
            let b = b.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                b.cancel();
                Instant::now()
            })
        };
        let result = client
            .with_cancel(&b)
            .chat_stream(&request())
            .map(|mut s| s.next());
        let cancelled_at = canceller.join().unwrap();
        let late = cancelled_at.elapsed();
        let cancelled = matches!(
            result,
            Err(Error::Cancelled) | Ok(Some(Err(Error::Cancelled)))
        );
        println!("round {round}: cancelled={cancelled}, returned {late:?} after cancel()");
        if !cancelled || late > Duration::from_millis(500) {
            slow.push(format!(
                "round {round}: {late:?} after cancel(), result {result:?}"
            ));
        }
    }
    drop(client);
    let _ = server.join();
    assert!(
        slow.is_empty(),
        "cancel() did not wake the request within 500 ms: {slow:#?}"
    );
}
