//! An upload's source that is a reader of the caller's (a pipe, stdin, a socket) is read on the caller's
//! thread: a `read` of it that blocks cannot be interrupted without a thread, so the deadline, the event
//! timeout and a cancel take effect the moment it returns, and nothing more is read from it (README,
//! "Timeouts and limits"). A source that trickles is stopped at the deadline. Review 2 found the blocked
//! read outside every bound (undocumented); these are its reproductions, turned into the documented
//! behaviour.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use siliconflow::multipart::FilePart;
use siliconflow::{CancelHandle, Error, FileUploadRequest, TimeoutKind};

/// A source that gives a line at every read, sleeping `pause` before each but the first (a pipe whose
/// writer is slow, or went quiet for a while), counting its reads.
struct Source {
    reads: Arc<AtomicUsize>,
    pause: Duration,
}

impl Read for Source {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.reads.fetch_add(1, Ordering::SeqCst) > 0 {
            std::thread::sleep(self.pause);
        }
        out[..3].copy_from_slice(b"{}\n");
        Ok(3)
    }
}

fn source(pause: Duration) -> (FilePart, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let part = FilePart::reader(Source {
        reads: Arc::clone(&reads),
        pause,
    });
    (part, reads)
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

const STALL: Duration = Duration::from_millis(1200);

#[test]
fn the_deadline_takes_effect_when_a_stalled_source_returns() {
    let client = builder(&server())
        .deadline(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let (file, reads) = source(STALL);
    let start = Instant::now();
    let result = client.upload_file(FileUploadRequest::batch(file));
    let took = start.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))),
        "{result:?}"
    );
    assert!(
        took >= STALL && took < STALL + Duration::from_secs(1),
        "{took:?}"
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "nothing read after the stall"
    );
}

#[test]
fn a_cancel_takes_effect_when_a_stalled_source_returns() {
    let stop = CancelHandle::new();
    let client = client(&server()).with_cancel(&stop);
    let canceller = stop.clone();
    let pressed = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let (file, reads) = source(STALL);
    let start = Instant::now();
    let result = client.upload_file(FileUploadRequest::batch(file));
    let took = start.elapsed();
    pressed.join().unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        took >= STALL && took < STALL + Duration::from_secs(1),
        "{took:?}"
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "nothing read after the stall"
    );
}

#[test]
fn a_trickling_source_is_stopped_at_the_deadline_and_by_the_event_timeout() {
    for (deadline, event) in [
        (Some(Duration::from_millis(500)), None),
        (None, Some(Duration::from_millis(500))),
    ] {
        let client = builder(&server())
            .deadline(deadline)
            .event_timeout(event)
            .build()
            .unwrap();
        let (file, reads) = source(Duration::from_millis(20));
        let start = Instant::now();
        let result = client.upload_file(FileUploadRequest::batch(file));
        let took = start.elapsed();
        let kind = if deadline.is_some() {
            TimeoutKind::Deadline
        } else {
            TimeoutKind::Event
        };
        assert!(
            matches!(&result, Err(Error::Timeout(k)) if *k == kind),
            "{result:?}"
        );
        assert!(
            took >= Duration::from_millis(480) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        let read = reads.load(Ordering::SeqCst);
        assert!(read < 60, "{read} reads in {took:?}");
    }
}
