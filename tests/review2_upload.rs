//! Review 2: an upload whose source (a one-shot reader of the caller's: a pipe, stdin, a socket) stalls
//! is bounded by nothing: the deadline, the idle and event timeouts and a cancel are applied to the
//! socket's reads and writes, and the thread is blocked in the source's `read`, not in the socket.
//!
//! README "Timeouts and limits": "Every phase of every call is bounded [...] sending the request (head
//! and body)"; the deadline fires "within milliseconds of its time in every phase"; Cancellation: "A
//! `CancelHandle` stops a request from another thread: [...] during an upload". Nothing says the
//! caller's reader is outside those bounds.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use siliconflow::multipart::FilePart;
use siliconflow::{CancelHandle, Error, FileUploadRequest};

/// A source that gives a few bytes, then blocks for `stall` (a pipe whose writer went quiet).
struct Stalling {
    sent: bool,
    stall: Duration,
}

impl Read for Stalling {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if !self.sent {
            self.sent = true;
            out[..3].copy_from_slice(b"{}\n");
            return Ok(3);
        }
        std::thread::sleep(self.stall);
        Ok(0)
    }
}

/// A server that reads the whole (chunked) request, as long as the client sends it, before answering.
fn server() -> String {
    let (base, _server) = raw_server_threaded(1, |_, _, stream| {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    base
}

#[test]
fn the_deadline_bounds_an_upload_whose_source_stalls() {
    let base = server();
    let client = builder(&base)
        .deadline(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let file = FilePart::reader(Stalling {
        sent: false,
        stall: Duration::from_secs(4),
    });
    let start = Instant::now();
    let result = client.upload_file(FileUploadRequest::batch(file));
    let took = start.elapsed();
    eprintln!("upload with a 500 ms deadline, source stalled 4 s: {took:?}, {result:?}");
    assert!(
        took < Duration::from_secs(2),
        "the upload took {took:?} past its 500 ms deadline ({result:?})"
    );
}

#[test]
fn a_cancel_ends_an_upload_whose_source_stalls() {
    let base = server();
    let stop = CancelHandle::new();
    let client = client(&base).with_cancel(&stop);
    let canceller = stop.clone();
    let pressed = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        canceller.cancel();
    });
    let file = FilePart::reader(Stalling {
        sent: false,
        stall: Duration::from_secs(4),
    });
    let start = Instant::now();
    let result = client.upload_file(FileUploadRequest::batch(file));
    let took = start.elapsed();
    pressed.join().unwrap();
    eprintln!("upload cancelled at 300 ms, source stalled 4 s: {took:?}, {result:?}");
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        took < Duration::from_secs(2),
        "the cancel took effect after {took:?}"
    );
}
