//! Video jobs: `POST /v1/video/submit` answers `{"requestId": …}`; `POST /v1/video/status` reports
//! `InQueue`, then `InProgress`, then `Succeed` with a video URL on the demo server, a few seconds
//! apart. A prompt containing `[demo:fail]` ends in `Failed` instead, to show that path.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::demo::{
    asset_url, bad_request, json_body, lock, model, push_capped, required, Answer, Demo,
};

/// The most jobs the demo remembers (the oldest go first).
const MAX_JOBS: usize = 256;
/// How long a job waits in the queue, and when it is done.
const QUEUED_FOR: Duration = Duration::from_millis(1500);
const DONE_AFTER: Duration = Duration::from_secs(4);
/// The sizes SiliconFlow's video models make.
const SIZES: &[&str] = &["1280x720", "720x1280", "960x960"];
/// The largest seed the demo picks itself.
const MAX_SEED: u64 = 9_999_999_999;

/// A submitted job.
pub struct Job {
    id: String,
    seed: u64,
    submitted: Instant,
    fails: bool,
}

/// Answers a submission.
pub fn submit(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let model = model(&body)?;
    let prompt = required(&body, "prompt")?;
    if let Some(size) = body.get("image_size").filter(|v| !v.is_null()) {
        if !size.as_str().is_some_and(|size| SIZES.contains(&size)) {
            return Err(bad_request(
                "image_size must be one of 1280x720, 720x1280, 960x960",
            ));
        }
    }
    if model.contains("I2V") && body.get("image").and_then(Value::as_str).is_none() {
        return Err(bad_request("Field required: image"));
    }
    let seed = match body.get("seed") {
        None | Some(Value::Null) => demo.next_seed() % MAX_SEED,
        Some(value) => value
            .as_u64()
            .ok_or_else(|| bad_request("seed must be a non-negative integer"))?,
    };
    let job = Job {
        id: demo.new_id(""),
        seed,
        submitted: Instant::now(),
        fails: prompt.contains("[demo:fail]"),
    };
    let id = job.id.clone();
    push_capped(&mut lock(&demo.videos), job, MAX_JOBS);
    Ok(MockResponse::json(json!({ "requestId": id })))
}

/// Answers a status query for `{"requestId": …}`.
pub fn status(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let id = required(&body, "requestId")?;
    let jobs = lock(&demo.videos);
    let job = jobs
        .iter()
        .find(|job| job.id == id)
        .ok_or_else(|| bad_request(&format!("requestId not found: {id}")))?;
    let elapsed = job.submitted.elapsed();
    let answer = if elapsed < QUEUED_FOR {
        json!({"status": "InQueue", "reason": "", "position": 1})
    } else if elapsed < DONE_AFTER {
        json!({"status": "InProgress", "reason": "", "position": 0})
    } else if job.fails {
        json!({
            "status": "Failed",
            "reason": "The offline demo was asked to fail: the prompt contains [demo:fail].",
            "position": 0,
        })
    } else {
        json!({
            "status": "Succeed",
            "reason": "",
            "position": 0,
            "results": {
                "videos": [{"url": asset_url(request, &format!("videos/{}.mp4", job.id))}],
                "timings": {"inference": (DONE_AFTER - QUEUED_FOR).as_secs_f64()},
                "seed": job.seed,
            },
        })
    };
    Ok(MockResponse::json(answer))
}
