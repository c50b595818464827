//! After a `CancelHandle` stopped a batch job's wait, `BatchJob::cancel` still goes out (it is sent
//! without the handle), and `BatchJob::with_client` gives a job that can refresh and wait again; the
//! job's own client keeps its cancelled handle. Review 2 found the batch could no longer be stopped on
//! the server.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use siliconflow::{CancelHandle, Error, PollOptions};

#[test]
fn a_cancelled_wait_leaves_a_job_that_can_still_be_cancelled_on_the_server() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    let (base, _server) = raw_server_threaded(4, move |_, request, stream| {
        let line = request.head.lines().next().unwrap_or_default().to_string();
        log.lock().unwrap().push(line.clone());
        let status = if line.contains("/cancel") {
            "cancelling"
        } else {
            "in_progress"
        };
        write_response(
            stream,
            200,
            &[("Content-Type", "application/json")],
            &format!(r#"{{"id":"b","status":"{status}"}}"#),
        );
    });
    let stop = CancelHandle::new();
    let client = client(&base).with_cancel(&stop);
    let mut job = client.resume_batch_job("b").unwrap();
    let canceller = stop.clone();
    let pressed = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel(); // the user pressed Stop
    });
    let options = PollOptions::batch().interval(Duration::from_secs(30));
    let waited = job.wait(&options, |_| {});
    pressed.join().unwrap();
    assert!(matches!(waited, Err(Error::Cancelled)), "{waited:?}");

    // As the docs say: the batch goes on on the server, `BatchJob::cancel` stops it.
    let cancelled = job.cancel();
    let requests = seen.lock().unwrap().clone();
    eprintln!(
        "job.cancel() after a cancelled wait: {cancelled:?}; requests the server saw: {requests:?}"
    );
    assert!(
        cancelled.is_ok(),
        "job.cancel() after the wait was cancelled: {cancelled:?} (the server saw {requests:?}); \
         the batch keeps running and billing on the server"
    );
    // The job's own client keeps its cancelled handle; `with_client` gives one that works again.
    assert!(matches!(job.refresh(), Err(Error::Cancelled)));
    let mut again = job.with_client(&client.without_cancel());
    assert_eq!(again.refresh().unwrap().id, "b");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert!(
        requests[2].starts_with("POST /v1/batches/b/cancel"),
        "{requests:?}"
    );
}
