//! Batches: `POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/{id}`,
//! `POST /v1/batches/{id}/cancel`, answered with bare batch objects.
//!
//! A batch moves `validating` → `in_progress` → `finalizing` → `completed` over four seconds, its
//! `request_counts` growing as it goes. Every input line is answered at creation the way the chat
//! demo answers (a whole `chat.completion`); the output file (one line per request answered) and the
//! error file (a line per request whose model is `demo/unknown-model`, or that is not a valid request)
//! are published when the batch completes, and served by `GET /v1/files/{id}/content`. A cancelled
//! batch is `cancelling` for a second, then `cancelled`, with no output.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::chat::completion_value;
use super::demo::{bad_request, json_body, lock, now, push_capped, required, Answer, Demo};
use super::files::{store, StoredFile};
use super::UNKNOWN_MODEL;

/// The most batches the demo remembers, and the most requests in one (SiliconFlow's limit).
const MAX_BATCHES: usize = 64;
const MAX_REQUESTS: usize = 5000;
/// When each phase starts, from creation.
const IN_PROGRESS_AT: Duration = Duration::from_secs(1);
const FINALIZING_AT: Duration = Duration::from_secs(3);
const COMPLETED_AT: Duration = Duration::from_secs(4);
/// How long a cancellation takes.
const CANCELLING_FOR: Duration = Duration::from_secs(1);
/// The only endpoint batches may call.
const CHAT_ENDPOINT: &str = "/v1/chat/completions";

/// A batch job.
pub struct Batch {
    id: String,
    input_file_id: String,
    file_name: String,
    completion_window: String,
    metadata: Value,
    created_at: u64,
    expires_at: u64,
    started: Instant,
    /// Requests answered, and requests failed.
    succeeded: usize,
    failed: usize,
    /// The output and error files' ids and contents, published on completion.
    output_file_id: String,
    output: Vec<u8>,
    error_file_id: String,
    errors: Vec<u8>,
    published: bool,
    /// When a cancellation was asked for: time since creation, and the Unix time.
    cancelled: Option<(Duration, u64)>,
}

/// Where a batch is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Validating,
    InProgress,
    Finalizing,
    Completed,
    Cancelling,
    Cancelled,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Validating => "validating",
            Phase::InProgress => "in_progress",
            Phase::Finalizing => "finalizing",
            Phase::Completed => "completed",
            Phase::Cancelling => "cancelling",
            Phase::Cancelled => "cancelled",
        }
    }
}

/// Phase of an uncancelled batch `elapsed` after its creation.
fn phase_at(elapsed: Duration) -> Phase {
    if elapsed < IN_PROGRESS_AT {
        Phase::Validating
    } else if elapsed < FINALIZING_AT {
        Phase::InProgress
    } else if elapsed < COMPLETED_AT {
        Phase::Finalizing
    } else {
        Phase::Completed
    }
}

impl Batch {
    fn phase(&self) -> Phase {
        let elapsed = self.started.elapsed();
        match self.cancelled {
            Some((at, _)) if elapsed < at + CANCELLING_FOR => Phase::Cancelling,
            Some(_) => Phase::Cancelled,
            None => phase_at(elapsed),
        }
    }

    /// Publishes the output and error files once the batch has completed.
    fn publish(&mut self, demo: &Demo) {
        if self.published || self.phase() != Phase::Completed {
            return;
        }
        self.published = true;
        let file = |id: &str, suffix: &str, content: &mut Vec<u8>| StoredFile {
            id: id.to_string(),
            filename: format!("{}_{suffix}.jsonl", self.id),
            purpose: "batch_output".to_string(),
            created_at: self.created_at + COMPLETED_AT.as_secs(),
            content: std::mem::take(content),
        };
        store(demo, file(&self.output_file_id, "output", &mut self.output));
        if self.failed > 0 {
            store(demo, file(&self.error_file_id, "error", &mut self.errors));
        }
    }

    /// The batch object as SiliconFlow documents it, now; list items also carry `file_name`.
    fn object(&self, with_file_name: bool) -> Value {
        let phase = self.phase();
        // How far the requests have got: none while validating, all from finalizing on.
        let elapsed = match self.cancelled {
            Some((at, _)) => at,
            None => self.started.elapsed(),
        };
        let progress = match phase_at(elapsed) {
            Phase::Validating => 0.0,
            Phase::InProgress => {
                (elapsed - IN_PROGRESS_AT).as_secs_f64()
                    / (FINALIZING_AT - IN_PROGRESS_AT).as_secs_f64()
            }
            _ => 1.0,
        };
        let done = |n: usize| (n as f64 * progress).floor() as usize;
        let reached = |at: Duration| (elapsed >= at).then(|| self.created_at + at.as_secs());
        let completed = phase == Phase::Completed;
        let mut object = json!({
            "id": self.id,
            "object": "batch",
            "endpoint": CHAT_ENDPOINT,
            "errors": null,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": phase.name(),
            "output_file_id": completed.then_some(&self.output_file_id),
            "error_file_id": (completed && self.failed > 0).then_some(&self.error_file_id),
            "created_at": self.created_at,
            "in_progress_at": reached(IN_PROGRESS_AT),
            "expires_at": self.expires_at,
            "finalizing_at": reached(FINALIZING_AT),
            "completed_at": if completed { reached(COMPLETED_AT) } else { None },
            "failed_at": null,
            "expired_at": null,
            "cancelling_at": self.cancelled.map(|(_, at)| at),
            "cancelled_at": (phase == Phase::Cancelled)
                .then(|| self.cancelled.map(|(_, at)| at + CANCELLING_FOR.as_secs())),
            "request_counts": {
                "total": self.succeeded + self.failed,
                "completed": done(self.succeeded),
                "failed": done(self.failed),
            },
            "metadata": self.metadata,
        });
        if with_file_name {
            object["file_name"] = Value::from(self.file_name.as_str());
        }
        object
    }
}

/// Answers a creation: the input file must be an uploaded batch file of valid JSON lines.
pub fn create(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let input_file_id = required(&body, "input_file_id")?;
    let endpoint = required(&body, "endpoint")?;
    if endpoint != CHAT_ENDPOINT {
        return Err(bad_request("endpoint must be /v1/chat/completions"));
    }
    let window = required(&body, "completion_window")?;
    let hours = window
        .strip_suffix('h')
        .and_then(|hours| hours.parse::<u64>().ok())
        .filter(|hours| (24..=336).contains(hours))
        .ok_or_else(|| bad_request("completion_window must be between 24h and 336h"))?;
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(map)) if map.len() <= 16 && map.values().all(Value::is_string) => {
            Value::Object(map.clone())
        }
        Some(_) => return Err(bad_request("metadata must be at most 16 string pairs")),
    };
    let replace_model = body
        .get("replace")
        .and_then(|replace| replace.get("model"))
        .and_then(Value::as_str);

    let (file_name, input) = {
        let files = lock(&demo.files);
        let file = files
            .iter()
            .find(|file| file.id == input_file_id && file.purpose == "batch")
            .ok_or_else(|| bad_request(&format!("input file not found: {input_file_id}")))?;
        (file.filename.clone(), file.content.clone())
    };
    let lines: Vec<&[u8]> = input
        .split(|b| *b == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
        .collect();
    if lines.is_empty() || lines.len() > MAX_REQUESTS {
        return Err(bad_request("a batch file must hold 1 to 5000 requests"));
    }

    let mut batch = Batch {
        id: demo.new_id("batch_"),
        input_file_id: input_file_id.to_string(),
        file_name,
        completion_window: window.to_string(),
        metadata,
        created_at: now(),
        expires_at: now() + hours * 3600,
        started: Instant::now(),
        succeeded: 0,
        failed: 0,
        output_file_id: demo.new_id("file-"),
        output: Vec::new(),
        error_file_id: demo.new_id("file-"),
        errors: Vec::new(),
        published: false,
        cancelled: None,
    };
    for (n, line) in lines.iter().enumerate() {
        let (ok, answer) = answer_line(demo, n + 1, line, replace_model);
        let out = if ok {
            batch.succeeded += 1;
            &mut batch.output
        } else {
            batch.failed += 1;
            &mut batch.errors
        };
        out.extend_from_slice(answer.to_string().as_bytes());
        out.push(b'\n');
    }
    let object = batch.object(false);
    push_capped(&mut lock(&demo.batches), batch, MAX_BATCHES);
    Ok(MockResponse::json(object))
}

/// The output (or error) line for input line `number`: whether it succeeded, and the line.
fn answer_line(
    demo: &Demo,
    number: usize,
    line: &[u8],
    replace_model: Option<&str>,
) -> (bool, Value) {
    let id = demo.new_id("batch_req_");
    let request: Option<Map<String, Value>> = match serde_json::from_slice(line) {
        Ok(Value::Object(request)) => Some(request),
        _ => None,
    };
    let custom_id = request
        .as_ref()
        .and_then(|r| r.get("custom_id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    let body = request
        .as_ref()
        .and_then(|r| r.get("body"))
        .and_then(Value::as_object);
    let (Some(custom_id), Some(body)) = (custom_id, body) else {
        let error = json!({
            "code": "invalid_request",
            "message": format!("line {number} is not a request with a custom_id and a body"),
        });
        return (
            false,
            json!({"id": id, "custom_id": custom_id, "response": null, "error": error}),
        );
    };
    let model = replace_model.or_else(|| body.get("model").and_then(Value::as_str));
    let request_id = demo.hex_id();
    let (status, answer) = match model {
        Some(UNKNOWN_MODEL) => (
            400,
            json!({"code": 20012, "message": "Model does not exist. Please check it carefully.", "data": null}),
        ),
        None | Some("") => (
            400,
            json!({"code": 20015, "message": "Field required: model", "data": null}),
        ),
        Some(model) => (
            200,
            completion_value(demo, model, &Value::Object(body.clone())),
        ),
    };
    let line = json!({
        "id": id,
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": request_id, "body": answer},
        "error": null,
    });
    (status == 200, line)
}

/// Answers a list: newest first, from after the batch `after` names, at most `limit` (default 20).
pub fn list(demo: &Demo, request: &ReceivedRequest) -> MockResponse {
    let limit = request
        .query_param("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit >= 1)
        .unwrap_or(20);
    let after = request.query_param("after");
    let mut batches = lock(&demo.batches);
    for batch in batches.iter_mut() {
        batch.publish(demo);
    }
    let newest_first: Vec<&Batch> = batches.iter().rev().collect();
    let start = after
        .and_then(|after| {
            newest_first
                .iter()
                .position(|b| b.id == after)
                .map(|i| i + 1)
        })
        .unwrap_or(0);
    let page: Vec<&Batch> = newest_first
        .iter()
        .skip(start)
        .take(limit)
        .copied()
        .collect();
    let has_more = start + page.len() < newest_first.len();
    MockResponse::json(json!({
        "object": "list",
        "data": page.iter().map(|b| b.object(true)).collect::<Vec<_>>(),
        "first_id": page.first().map(|b| b.id.as_str()),
        "last_id": page.last().map(|b| b.id.as_str()),
        "has_more": has_more,
    }))
}

/// Answers a retrieval.
pub fn get(demo: &Demo, id: &str) -> Answer {
    let mut batches = lock(&demo.batches);
    let batch = batches
        .iter_mut()
        .find(|batch| batch.id == id)
        .ok_or_else(|| bad_request(&format!("batch not found: {id}")))?;
    batch.publish(demo);
    Ok(MockResponse::json(batch.object(false)))
}

/// Answers a cancellation: a batch still running starts cancelling; any other is returned as it is.
pub fn cancel(demo: &Demo, id: &str) -> Answer {
    let mut batches = lock(&demo.batches);
    let batch = batches
        .iter_mut()
        .find(|batch| batch.id == id)
        .ok_or_else(|| bad_request(&format!("batch not found: {id}")))?;
    if batch.phase() < Phase::Completed {
        batch.cancelled = Some((batch.started.elapsed(), now()));
    }
    batch.publish(demo);
    Ok(MockResponse::json(batch.object(false)))
}
