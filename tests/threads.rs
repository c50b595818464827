//! Thread-free: consuming a stream never changes the number of threads of the process.
//!
//! This file holds a single test so no other test's threads disturb the count.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn the_thread_count_does_not_change_while_a_stream_is_consumed() {
    // The raw server's thread exists before the first sample and lives until after the last one.
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let (base, server) = raw_server(2, move |n, _, stream| {
        write_sse_head(stream, "chunked");
        for word in ["one ", "two ", "three ", "four"] {
            write_chunk(stream, &content_event(word));
            std::thread::sleep(Duration::from_millis(40));
        }
        write_chunk(stream, &finish_event("stop"));
        write_chunk(stream, "data: [DONE]\n\n");
        let _ = std::io::Write::write_all(stream, b"0\r\n\r\n");
        if n == 1 {
            let _ = wait.recv(); // Stay alive until the last sample has been taken.
        }
    });
    // `localhost` makes the client resolve a name: ureq would do that on a spawned thread if a
    // resolve-phase timeout were configured.
    let base = base.replace("127.0.0.1", "localhost");
    let client = client(&base);
    let before = thread_count();
    assert!(before > 0, "cannot read /proc/self/status");
    let mut samples = Vec::new();
    for _ in 0..2 {
        let mut stream = client.chat_stream(&request()).unwrap();
        samples.push(thread_count());
        for delta in &mut stream {
            delta.unwrap();
            samples.push(thread_count());
        }
        assert_eq!(stream.content(), "one two three four");
        samples.push(thread_count());
    }
    done.send(()).unwrap();
    assert!(
        samples.iter().all(|&n| n == before),
        "threads before: {before}, while streaming: {samples:?}"
    );
    server.join().unwrap();
}
