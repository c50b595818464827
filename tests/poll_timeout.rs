//! `PollOptions::timeout` bounds the whole wait, checks included: each check of `wait_video` and
//! `BatchJob::wait` runs with its deadline cut to what is left of the timeout, so a check whose answer
//! stalls, or that is told to retry later, cannot hold the wait past it. Review 2 found waits of 6 s
//! with a 1 s timeout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use siliconflow::{Error, PollOptions, RetryPolicy, TimeoutKind};

const STALL: Duration = Duration::from_secs(6);

fn options() -> PollOptions {
    PollOptions::new()
        .interval(Duration::from_millis(50))
        .timeout(Some(Duration::from_secs(1)))
}

#[test]
fn wait_video_timeout_bounds_a_check_whose_answer_stalls() {
    // The first check answers at once (still queued); the second one's answer takes 6 s.
    let (base, _server) = raw_server_threaded(2, |n, _, stream| {
        if n == 1 {
            std::thread::sleep(STALL);
        }
        write_response(
            stream,
            200,
            &[("Content-Type", "application/json")],
            r#"{"status":"InQueue","position":1}"#,
        );
    });
    let client = client(&base);
    let start = Instant::now();
    let result = client.wait_video("req-1", &options(), |_| {});
    let took = start.elapsed();
    eprintln!("wait_video with a 1 s poll timeout: {took:?}, {result:?}");
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))),
        "{result:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "a wait with a 1 s timeout took {took:?} (its second check stalled for {STALL:?})"
    );
}

#[test]
fn batch_wait_timeout_bounds_a_check_told_to_retry_later() {
    // resume_batch_job's GET, then the wait's checks: running, then a 503 asking for 6 s.
    let (base, _server) = raw_server_threaded(4, |n, _, stream| match n {
        2 => write_response(
            stream,
            503,
            &[
                ("Content-Type", "application/json"),
                ("retry-after-ms", "6000"),
            ],
            r#"{"error":{"message":"busy"}}"#,
        ),
        _ => write_response(
            stream,
            200,
            &[("Content-Type", "application/json")],
            r#"{"id":"b","status":"in_progress"}"#,
        ),
    });
    let client = builder(&base)
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();
    let mut job = client.resume_batch_job("b").unwrap();
    let start = Instant::now();
    let result = job.wait(&options(), |_| {});
    let took = start.elapsed();
    eprintln!("BatchJob::wait with a 1 s poll timeout: {took:?}, {result:?}");
    // The retry would wait past the timeout, so it is not made: the check's error ends the wait.
    assert!(
        matches!(&result, Err(Error::Api(e)) if e.status == 503),
        "{result:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "a wait with a 1 s timeout took {took:?} (a check waited out a 6 s retry-after)"
    );
}
