//! Memory stays bounded when a hostile server sends a 64 MiB line.
//!
//! A single test in its own binary, so no other test's allocations move the process's peak.

mod common;

use std::io::Write;

use common::*;
use siliconflow::Error;

#[test]
fn a_64_mib_line_is_an_error_and_the_process_does_not_grow_by_it() {
    const LINE: usize = 64 * 1024 * 1024;
    let (base, server) = raw_server(1, |_, _, stream| {
        write_sse_head(stream, "close");
        let _ = stream.write_all(content_event("before").as_bytes());
        let _ = stream.write_all(b"data: ");
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..LINE / block.len() {
            if stream.write_all(&block).is_err() {
                return; // The client hung up, as it should.
            }
        }
        let _ = stream.write_all(b"\n\n");
    });
    let before = peak_rss_kib();
    let client = client(&base); // The default bound: 8 MiB.
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::EventTooLarge { limit } if limit == siliconflow::sse::DEFAULT_MAX_EVENT_SIZE),
        "{error:?}"
    );
    assert_eq!(stream.content(), "before");
    drop(stream);
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert!(before > 0, "cannot read VmHWM");
    assert!(
        grown_mib < 32,
        "peak memory grew by {grown_mib} MiB for a 64 MiB line (bound 8 MiB)"
    );
    server.join().unwrap();
}
