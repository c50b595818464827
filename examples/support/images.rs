//! `POST /v1/images/generations`: the documented answer (`images`, `timings`, `seed`, plus the `data`,
//! `created` and `shared_id` seen in real answers), with URLs on the demo server itself that serve small
//! PNG images (see `media.rs`).

use std::time::Duration;

use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::demo::{asset_url, bad_request, json_body, model, now, required, Answer, Demo};

/// The largest seed SiliconFlow accepts.
const MAX_SEED: u64 = 9_999_999_999;

/// How long the demo takes to "paint".
const INFERENCE: Duration = Duration::from_millis(300);

/// Answers an image generation request.
pub fn generate(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let model = model(&body)?;
    required(&body, "prompt")?;
    let batch_size = match body.get("batch_size") {
        None | Some(Value::Null) => 1,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=4).contains(n))
            .ok_or_else(|| bad_request("batch_size must be between 1 and 4"))?,
    };
    if let Some(size) = body.get("image_size").filter(|v| !v.is_null()) {
        let valid = size
            .as_str()
            .and_then(|s| s.split_once('x'))
            .is_some_and(|(w, h)| w.parse::<u32>().is_ok() && h.parse::<u32>().is_ok());
        if !valid {
            return Err(bad_request("image_size must look like \"1024x1024\""));
        }
    }
    if model.contains("Image-Edit") && body.get("image").and_then(Value::as_str).is_none() {
        return Err(bad_request("Field required: image"));
    }
    let seed = match body.get("seed") {
        None | Some(Value::Null) => demo.next_seed() % MAX_SEED,
        Some(value) => value
            .as_u64()
            .filter(|seed| *seed <= MAX_SEED)
            .ok_or_else(|| bad_request("seed must be between 0 and 9999999999"))?,
    };
    let images: Vec<Value> = (0..batch_size)
        .map(|i| json!({"url": asset_url(request, &format!("images/{}.png", seed + i))}))
        .collect();
    Ok(MockResponse::json(json!({
        "images": images,
        "timings": {"inference": INFERENCE.as_secs_f64()},
        "seed": seed,
        "data": images,
        "created": now(),
        "shared_id": "0",
    }))
    .head_delay(INFERENCE))
}
