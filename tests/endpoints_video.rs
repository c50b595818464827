//! Video jobs: `POST /video/submit`, `POST /video/status`, and `wait_video`, which polls with a growing
//! pause until the job is terminal, a timeout passes or a cancel comes.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::json;
use siliconflow::mock::{MockResponse, MockServer};
use siliconflow::{
    CancelHandle, Error, MediaInput, PollOptions, TimeoutKind, VideoRequest, VideoStatus,
};

fn quick() -> PollOptions {
    PollOptions::new()
        .interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(20))
}

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&[
        "submit_video",
        "video_status",
        "download_video",
    ]));
}

#[test]
fn submit_sends_the_documented_request_and_reads_the_id() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::json(json!({"requestId": "hv6tgmuqdiwb"}))
            .header("x-siliconcloud-trace-id", TRACE),
    );
    server.enqueue(MockResponse::json(json!({"request_id": "snake"})));
    let client = checks::client(&server);
    let request = VideoRequest::new("Wan-AI/Wan2.2-I2V-A14B", "the boat drifts", "720x1280")
        .negative_prompt("blur")
        .image(MediaInput::from_bytes(b"jpg", "image/jpeg"))
        .seed(9_999_999_999);
    let submitted = client.submit_video(&request).unwrap();
    assert_eq!(submitted.request_id, "hv6tgmuqdiwb");
    assert_eq!(submitted.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/video/submit"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": "Wan-AI/Wan2.2-I2V-A14B", "prompt": "the boat drifts", "image_size": "720x1280",
               "negative_prompt": "blur", "image": "data:image/jpeg;base64,anBn", "seed": 9_999_999_999u64})
    );
    assert_eq!(client.submit_video(&request).unwrap().request_id, "snake");
}

#[test]
fn status_is_a_post_and_reads_every_documented_state() {
    let server = MockServer::start().unwrap();
    let url = "https://sc-maas.oss-cn-shanghai.aliyuncs.com/outputs/x_video_1.mp4";
    for body in [
        json!({"status": "InQueue", "reason": "", "position": 3}),
        json!({"status": "InProgress", "reason": "", "position": 0, "results": null}),
        json!({"status": "Succeed", "reason": "", "position": 0,
               "results": {"videos": [{"url": url}], "timings": {"inference": 57.3}, "seed": 123}}),
        json!({"status": "Failed", "reason": "content policy"}),
        json!({"status": "Paused"}),
    ] {
        server.enqueue(MockResponse::json(body).header("x-siliconcloud-trace-id", TRACE));
    }
    let client = checks::client(&server);
    let queued = client.video_status("hv6tgmuqdiwb").unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/video/status"));
    assert_eq!(sent.json().unwrap(), json!({"requestId": "hv6tgmuqdiwb"}));
    assert_eq!(
        (queued.status.clone(), queued.position),
        (Some(VideoStatus::InQueue), Some(3))
    );
    assert_eq!(queued.request_id(), Some(TRACE));
    assert!(!client.video_status("x").unwrap().is_terminal());
    let done = client.video_status("x").unwrap();
    assert!(done.is_success());
    assert_eq!(done.video_urls().collect::<Vec<_>>(), [url]);
    assert_eq!(done.results.as_ref().and_then(|r| r.seed), Some(123));
    let failed = client.video_status("x").unwrap();
    assert!(failed.is_terminal() && !failed.is_success());
    assert_eq!(failed.reason.as_deref(), Some("content policy"));
    let unknown = client.video_status("x").unwrap();
    assert_eq!(unknown.status, Some(VideoStatus::Other("Paused".into())));
    assert!(!unknown.is_terminal());
}

/// A job that answers each status poll with the next of `states`, the last one from then on; records
/// when each poll came.
fn job(states: Vec<serde_json::Value>) -> (MockServer, Arc<Mutex<Vec<Instant>>>) {
    let polls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&polls);
    let count = AtomicUsize::new(0);
    let server = MockServer::with_handler(move |request| {
        if !request.is("POST", "/v1/video/status") {
            return MockResponse::not_found();
        }
        seen.lock().unwrap().push(Instant::now());
        let n = count.fetch_add(1, Ordering::SeqCst).min(states.len() - 1);
        MockResponse::json(states[n].clone())
    })
    .unwrap();
    (server, polls)
}

#[test]
fn wait_polls_until_success_with_progress_and_a_growing_pause() {
    let url = "https://example.com/v.mp4";
    let (server, polls) = job(vec![
        json!({"status": "InQueue", "position": 2}),
        json!({"status": "InQueue", "position": 1}),
        json!({"status": "InProgress"}),
        json!({"status": "Succeed", "results": {"videos": [{"url": url}]}}),
    ]);
    let client = checks::client(&server);
    let options = PollOptions::new()
        .interval(Duration::from_millis(40))
        .backoff(2.0)
        .max_interval(Duration::from_secs(1));
    let mut seen = Vec::new();
    let done = client
        .wait_video("job-1", &options, |status| seen.push(status.status.clone()))
        .unwrap();
    assert!(done.is_success());
    assert_eq!(done.video_urls().collect::<Vec<_>>(), [url]);
    use VideoStatus::*;
    assert_eq!(
        seen,
        [
            Some(InQueue),
            Some(InQueue),
            Some(InProgress),
            Some(Succeed)
        ]
    );
    let polls = polls.lock().unwrap();
    assert_eq!(polls.len(), 4);
    let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    // Lower bounds only (a loaded machine makes gaps longer, never shorter): 40 ms, then 80, then 160.
    assert!(gaps[0] >= Duration::from_millis(40), "{gaps:?}");
    assert!(
        gaps[1] >= Duration::from_millis(80),
        "the pause grows: {gaps:?}"
    );
    assert!(
        gaps[2] >= Duration::from_millis(160),
        "the pause grows: {gaps:?}"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.json().unwrap() == json!({"requestId": "job-1"})),
        "every poll asks about the job"
    );
}

#[test]
fn a_failed_job_ends_the_wait_as_a_status() {
    let (server, _) = job(vec![
        json!({"status": "InProgress"}),
        json!({"status": "Failed", "reason": "The prompt was rejected."}),
    ]);
    let status = checks::client(&server)
        .wait_video("job-1", &quick(), |_| {})
        .unwrap();
    assert!(!status.is_success());
    assert_eq!(status.reason.as_deref(), Some("The prompt was rejected."));
}

#[test]
fn an_unknown_status_is_polled_until_the_timeout() {
    let (server, polls) = job(vec![json!({"status": "Paused"})]);
    let options = quick().timeout(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let result = checks::client(&server).wait_video("job-1", &options, |_| {});
    let elapsed = start.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))),
        "{result:?}"
    );
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(polls.lock().unwrap().len() > 3);
}

#[test]
fn a_cancel_ends_the_wait_at_once() {
    let (server, polls) = job(vec![json!({"status": "InQueue"})]);
    let cancel = CancelHandle::new();
    let client = checks::client(&server).with_cancel(&cancel);
    let canceller = cancel.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        canceller.cancel();
    });
    let options = PollOptions::new().interval(Duration::from_secs(30));
    let start = Instant::now();
    let result = client.wait_video("job-1", &options, |_| {});
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(polls.lock().unwrap().len(), 1);
    thread.join().unwrap();
}

#[test]
fn a_failing_poll_ends_the_wait_with_its_error() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(json!({"status": "InQueue"})));
    server.enqueue(MockResponse::siliconflow_error(
        400,
        20015,
        "requestId not found",
    ));
    let result = checks::client(&server).wait_video("job-1", &quick(), |_| {});
    let Err(Error::Api(error)) = result else {
        panic!("expected Error::Api, got {result:?}");
    };
    assert_eq!(error.message, "requestId not found");
}

#[test]
fn the_video_downloads_without_the_key() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::bytes("video/mp4", vec![0u8; 40_000]).trickle(8192, Duration::from_millis(1)),
    );
    let mut out = Vec::new();
    let download = checks::client(&server)
        .download_video(&server.url("/outputs/videos/x.mp4?Expires=1"), &mut out)
        .unwrap();
    assert_eq!((download.bytes, out.len()), (40_000, 40_000));
    assert_eq!(server.last_request().unwrap().header("authorization"), None);
}
