//! Batches: create, list, retrieve, cancel, their tolerant answers, and the batch job helper run against
//! a scripted server from requests to results: a completed batch with a failed line, an expired one, a
//! cancelled one, a failed one, result files by URL, and the checks that stop a bad input before upload.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, MockServer, ReceivedRequest};
use siliconflow::{
    BatchInputError, BatchJobOptions, BatchListQuery, BatchOutcome, BatchRequest, BatchStatus,
    CancelHandle, ChatRequest, Error, Message, PollOptions, StreamLimits,
};

const MODEL: &str = "deepseek-ai/DeepSeek-V3";

fn quick() -> PollOptions {
    PollOptions::batch()
        .interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(20))
}

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&[
        "create_batch",
        "list_batches",
        "get_batch",
        "cancel_batch",
    ]));
}

fn batch(id: &str, status: &str) -> Value {
    json!({"id": id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": null,
           "input_file_id": "file-in", "completion_window": "24h", "status": status,
           "output_file_id": null, "error_file_id": null, "created_at": 1741685413,
           "in_progress_at": null, "expires_at": 1741771813, "finalizing_at": null, "completed_at": null,
           "failed_at": null, "expired_at": null, "cancelling_at": null, "cancelled_at": null,
           "request_counts": null, "metadata": null})
}

#[test]
fn create_sends_the_documented_body_and_checks_it_first() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::json(batch("batch_rdyqgrcgjg", "in_queue"))
            .header("x-siliconcloud-trace-id", TRACE),
    );
    let client = checks::client(&server);
    let request = BatchRequest::new("file-jkvytbjtow")
        .completion_window_hours(48)
        .metadata("description", "nightly eval job")
        .replace_model(MODEL);
    let created = client.create_batch(&request).unwrap();
    assert_eq!(created.id, "batch_rdyqgrcgjg");
    assert_eq!(created.status, Some(BatchStatus::InQueue));
    assert_eq!(created.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/batches"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    assert_eq!(
        sent.json().unwrap(),
        json!({"input_file_id": "file-jkvytbjtow", "endpoint": "/v1/chat/completions",
               "completion_window": "48h", "metadata": {"description": "nightly eval job"},
               "replace": {"model": MODEL}})
    );
    let bad = client.create_batch(&BatchRequest::new("file-1").completion_window("12h"));
    assert!(matches!(bad, Err(Error::InvalidConfig(_))), "{bad:?}");
    assert_eq!(server.request_count(), 1, "a failed check sends nothing");
}

#[test]
fn list_get_and_cancel_send_their_requests_and_read_every_shape() {
    let server = MockServer::start().unwrap();
    let mut listed = batch("batch_a", "in_progress");
    listed["file_name"] = json!("requests.jsonl");
    listed["request_counts"] = json!({});
    server.enqueue(MockResponse::json(
        json!({"object": "list", "data": [listed], "first_id": "batch_a",
                                             "last_id": "batch_a", "has_more": false}),
    ));
    server.enqueue(MockResponse::json(json!([batch("batch_b", "completed")])));
    let mut counted = batch("batch_a", "in_progress");
    counted["errors"] = json!([]);
    counted["request_counts"] = json!({"total": 2, "completed": 1, "failed": 0});
    server.enqueue(MockResponse::json(counted));
    let mut failed = batch("batch_a", "failed");
    failed["errors"] = json!({"object": "list", "data": [{"code": "invalid_file", "message": "line 3 is not JSON", "line": 3}]});
    server.enqueue(MockResponse::json(failed));
    server.enqueue(MockResponse::json(
        json!({"code": 20000, "message": "Ok", "status": true,
                                             "data": batch("batch_a", "cancelling")}),
    ));
    let client = checks::client(&server);

    let list = client
        .list_batches(&BatchListQuery::new().limit(10).after("batch_z"))
        .unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("GET", "/v1/batches"));
    assert_eq!(sent.query, "limit=10&after=batch_z");
    assert_eq!(list.data[0].file_name.as_deref(), Some("requests.jsonl"));
    assert_eq!(
        (list.first_id.as_deref(), list.has_more),
        (Some("batch_a"), false)
    );
    assert_eq!(
        client.list_batches(&BatchListQuery::new()).unwrap().data[0].id,
        "batch_b"
    );

    let running = client.get_batch("batch_a").unwrap();
    assert!(server
        .last_request()
        .unwrap()
        .is("GET", "/v1/batches/batch_a"));
    assert_eq!(running.request_counts.pending(), Some(1));
    let failed = client.get_batch("batch_a").unwrap();
    assert_eq!(
        failed.errors[0].message.as_deref(),
        Some("line 3 is not JSON")
    );
    assert_eq!(failed.errors[0].line, Some(3));

    let cancelling = client.cancel_batch("batch_a").unwrap();
    assert_eq!(cancelling.status, Some(BatchStatus::Cancelling));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/batches/batch_a/cancel"));
    assert!(sent.body.is_empty());
}

// ---------------------------------------------------------------------------------------------------
// The batch job helper against a scripted SiliconFlow

/// A scripted batch service: the upload is kept, the batch moves through `statuses` one poll at a
/// time (the last one stays), and its result files are served by id.
struct Service {
    server: MockServer,
    uploaded: Arc<Mutex<Vec<u8>>>,
}

/// What the service answers.
#[derive(Clone)]
struct Script {
    /// The batch at each poll (`GET /batches/{id}`); the creation answers the first.
    statuses: Vec<Value>,
    /// `(file id, content)`.
    files: Vec<(String, String)>,
    /// The answer to a cancel.
    cancelled: Option<Value>,
}

fn service(script: Script) -> Service {
    let uploaded = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&uploaded);
    let polls = Mutex::new(0usize);
    let server = MockServer::with_handler(move |request: &ReceivedRequest| {
        let path = request.path.as_str();
        match (request.method.as_str(), path) {
            ("POST", "/v1/files") => {
                let Some(file) = request.form_part("file") else {
                    return MockResponse::siliconflow_error(400, 20015, "Field required: file");
                };
                *keep.lock().unwrap() = file.data.clone();
                MockResponse::json(json!({"code": 20000, "message": "Ok", "status": true,
                    "data": {"id": "file-in", "object": "file", "bytes": file.data.len(),
                             "createdAt": 1741685396, "filename": file.filename, "purpose": "batch"}}))
            }
            ("POST", "/v1/batches") => MockResponse::json(script.statuses[0].clone()),
            ("GET", "/v1/batches/batch_job") => {
                let mut n = polls.lock().unwrap();
                let answer = script.statuses[(*n).min(script.statuses.len() - 1)].clone();
                *n += 1;
                MockResponse::json(answer)
            }
            ("POST", "/v1/batches/batch_job/cancel") => match &script.cancelled {
                Some(answer) => MockResponse::json(answer.clone()),
                None => MockResponse::not_found(),
            },
            _ => {
                let id = path
                    .strip_prefix("/v1/files/")
                    .and_then(|rest| rest.strip_suffix("/content"))
                    .or_else(|| path.strip_prefix("/results/"));
                match script.files.iter().find(|(file, _)| Some(file.as_str()) == id) {
                    Some((_, content)) => MockResponse::bytes("application/jsonl", content.clone())
                        .header("x-siliconcloud-trace-id", TRACE),
                    None => MockResponse::not_found(),
                }
            }
        }
    })
    .unwrap();
    Service { server, uploaded }
}

fn state(status: &str, counts: Value, output: Option<&str>, errors: Option<&str>) -> Value {
    let mut value = batch("batch_job", status);
    value["request_counts"] = counts;
    value["output_file_id"] = json!(output);
    value["error_file_id"] = json!(errors);
    value
}

fn ok_line(custom_id: &str, answer: &str) -> String {
    json!({"id": format!("batch_req_{custom_id}"), "custom_id": custom_id,
           "response": {"status_code": 200, "request_id": format!("req-{custom_id}"),
                        "body": {"id": "c", "object": "chat.completion", "model": MODEL,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                              "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}},
           "error": null})
    .to_string()
}

fn failed_line(custom_id: &str) -> String {
    json!({"id": "batch_req_x", "custom_id": custom_id,
           "response": {"status_code": 400, "request_id": "req-bad",
                        "body": {"code": 20012, "message": "Model does not exist. Please check it carefully.", "data": null}},
           "error": null})
    .to_string()
}

fn expired_line(custom_id: &str) -> String {
    json!({"id": "batch_req_123", "custom_id": custom_id, "response": null,
           "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
    .to_string()
}

fn requests(n: usize) -> Vec<(String, ChatRequest)> {
    (1..=n)
        .map(|i| {
            let request = ChatRequest::new(
                MODEL,
                vec![
                    Message::system("Be brief."),
                    Message::user(format!("What is {i} + {i}?")),
                ],
            )
            .max_tokens(64);
            (format!("request-{i}"), request)
        })
        .collect()
}

#[test]
fn a_job_runs_from_requests_to_results_with_a_failed_line() {
    let output = [
        ok_line("request-1", "2"),
        failed_line("request-2"),
        ok_line("request-3", "6"),
    ]
    .join("\n")
        + "\n";
    let service = service(Script {
        statuses: vec![
            state("in_queue", json!(null), None, None),
            state("in_progress", json!({}), None, None),
            state(
                "in_progress",
                json!({"total": 4, "completed": 2, "failed": 0}),
                None,
                None,
            ),
            state(
                "finalizing",
                json!({"total": 4, "completed": 3, "failed": 1}),
                None,
                None,
            ),
            state(
                "completed",
                json!({"total": 4, "completed": 3, "failed": 1}),
                Some("file-out"),
                Some("file-err"),
            ),
        ],
        files: vec![
            ("file-out".into(), output),
            (
                "file-err".into(),
                format!("\n{}\n\n", expired_line("request-4")),
            ),
        ],
        cancelled: None,
    });
    let client = checks::client(&service.server);
    let options = BatchJobOptions::new()
        .completion_window_hours(48)
        .metadata("run", "test");
    let mut job = client.start_batch_job(requests(4), &options).unwrap();
    assert_eq!(job.id(), "batch_job");
    assert_eq!(job.input_summary().map(|s| s.lines), Some(4));
    assert_eq!(job.input_file().map(|f| f.id.as_str()), Some("file-in"));
    assert_eq!(job.outcome(), None);

    // The input file: one documented line per request, in order.
    let uploaded = String::from_utf8(service.uploaded.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = uploaded
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions",
               "body": {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "What is 1 + 1?"}],
                        "max_tokens": 64}})
    );
    let sent = service.server.requests();
    assert_eq!(sent[0].form_part("purpose").unwrap().text(), Some("batch"));
    assert_eq!(
        sent[1].json().unwrap(),
        json!({"input_file_id": "file-in", "endpoint": "/v1/chat/completions", "completion_window": "48h",
               "metadata": {"run": "test"}})
    );

    let mut progress = Vec::new();
    let outcome = job
        .wait(&quick(), |batch| {
            progress.push((batch.status.clone(), batch.request_counts.completed))
        })
        .unwrap();
    assert_eq!(outcome, BatchOutcome::Completed);
    assert_eq!(job.outcome(), Some(BatchOutcome::Completed));
    assert_eq!(progress.len(), 5, "{progress:?}");
    assert_eq!(progress[2], (Some(BatchStatus::InProgress), Some(2)));
    assert_eq!(progress[4], (Some(BatchStatus::Completed), Some(3)));

    let results: Vec<_> = job.results().collect::<Result<_, _>>().unwrap();
    let ids: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["request-1", "request-2", "request-3", "request-4"]);
    let first = results[0].1.as_ref().unwrap();
    assert_eq!(first.content(), "2");
    assert_eq!(first.request_id(), Some("req-request-1"));
    let failed = results[1].1.as_ref().unwrap_err();
    assert_eq!(
        (failed.status, failed.code.as_deref()),
        (400, Some("20012"))
    );
    assert_eq!(failed.request_id.as_deref(), Some("req-bad"));
    assert_eq!(results[2].1.as_ref().unwrap().content(), "6");
    let expired = results[3].1.as_ref().unwrap_err();
    assert_eq!(
        (expired.status, expired.code.as_deref()),
        (0, Some("batch_expired"))
    );

    let paths: Vec<String> = service
        .server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .filter(|p| p.contains("/content"))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /v1/files/file-out/content",
            "GET /v1/files/file-err/content"
        ]
    );
}

#[test]
fn an_expired_batch_is_a_typed_outcome_with_its_results() {
    let service = service(Script {
        statuses: vec![
            state(
                "in_progress",
                json!({"total": 2, "completed": 1}),
                None,
                None,
            ),
            state(
                "expired",
                json!({"total": 2, "completed": 1, "failed": 1}),
                Some("file-out"),
                Some("file-err"),
            ),
        ],
        files: vec![
            ("file-out".into(), ok_line("request-1", "2")),
            ("file-err".into(), expired_line("request-2")),
        ],
        cancelled: None,
    });
    let job = checks::client(&service.server)
        .run_batch_job(requests(2), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    assert_eq!(job.outcome(), Some(BatchOutcome::Expired));
    let results: Vec<_> = job.results().map(Result::unwrap).collect();
    assert!(results[0].1.is_ok());
    assert_eq!(
        results[1].1.as_ref().unwrap_err().code.as_deref(),
        Some("batch_expired")
    );
}

#[test]
fn a_cancelled_batch_is_a_typed_outcome() {
    let service = service(Script {
        statuses: vec![
            state(
                "in_progress",
                json!({"total": 2, "completed": 0}),
                None,
                None,
            ),
            state(
                "cancelling",
                json!({"total": 2, "completed": 1}),
                None,
                None,
            ),
            state(
                "cancelled",
                json!({"total": 2, "completed": 1}),
                Some("file-out"),
                None,
            ),
        ],
        files: vec![("file-out".into(), ok_line("request-1", "2"))],
        cancelled: Some(state(
            "cancelling",
            json!({"total": 2, "completed": 1}),
            None,
            None,
        )),
    });
    let client = checks::client(&service.server);
    let mut job = client
        .start_batch_job(requests(2), &BatchJobOptions::new())
        .unwrap();
    assert_eq!(job.cancel().unwrap().status, Some(BatchStatus::Cancelling));
    assert!(service
        .server
        .requests()
        .iter()
        .any(|r| r.is("POST", "/v1/batches/batch_job/cancel")));
    assert_eq!(job.wait(&quick(), |_| {}).unwrap(), BatchOutcome::Cancelled);
    let results: Vec<_> = job.results().map(Result::unwrap).collect();
    assert_eq!(results.len(), 1, "what ran before the cancel");
}

#[test]
fn a_failed_batch_is_a_typed_outcome_with_its_errors_and_no_results() {
    let mut failed = state("failed", json!({}), None, None);
    failed["errors"] = json!([{"code": "invalid_jsonl", "message": "line 1: the body has no messages", "line": 1}]);
    let service = service(Script {
        statuses: vec![state("validating", json!(null), None, None), failed],
        files: vec![],
        cancelled: None,
    });
    let job = checks::client(&service.server)
        .run_batch_job(requests(1), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    assert_eq!(job.outcome(), Some(BatchOutcome::Failed));
    assert_eq!(job.batch().errors[0].code.as_deref(), Some("invalid_jsonl"));
    assert_eq!(job.results().count(), 0);
}

#[test]
fn result_files_given_as_urls_are_fetched_without_the_key() {
    // The result file lives on another host, as a pre-signed URL would.
    let files = MockServer::start().unwrap();
    files.enqueue(MockResponse::bytes(
        "application/jsonl",
        ok_line("request-1", "2") + "\n",
    ));
    let url = files.url("/results/out-1?Signature=s");
    let api = service(Script {
        statuses: vec![state(
            "completed",
            json!({"total": 1, "completed": 1}),
            Some(&url),
            None,
        )],
        files: vec![],
        cancelled: None,
    });
    let job = checks::client(&api.server)
        .run_batch_job(requests(1), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    let results: Vec<_> = job.results().map(Result::unwrap).collect();
    assert_eq!(results[0].1.as_ref().unwrap().content(), "2");
    let fetched = files.last_request().unwrap();
    assert!(fetched.is("GET", "/results/out-1"));
    assert_eq!(fetched.header("authorization"), None);
}

#[test]
fn a_malformed_result_line_ends_the_results_with_its_line_number() {
    let service = service(Script {
        statuses: vec![state(
            "completed",
            json!({}),
            Some("file-out"),
            Some("file-err"),
        )],
        files: vec![
            (
                "file-out".into(),
                format!("{}\nnot json\n{}\n", ok_line("a", "1"), ok_line("b", "2")),
            ),
            ("file-err".into(), expired_line("c")),
        ],
        cancelled: None,
    });
    let job = checks::client(&service.server)
        .run_batch_job(requests(1), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    let mut results = job.results();
    assert!(results.next().unwrap().is_ok());
    let error = results.next().unwrap().unwrap_err();
    assert!(
        matches!(&error, Error::MalformedChunk { event: 2, data, .. } if data == "not json"),
        "{error:?}"
    );
    assert!(results.next().is_none(), "fused after an error");
}

#[test]
fn long_result_lines_read_as_short_ones_do() {
    // Lines over 1 MiB take another path (the line is dropped before its completion is read): a body
    // sent as JSON text, a lone surrogate, and a key given twice (past the 1 MiB up to which such a
    // document is rewritten, as for a short line: an error quoting the line's start).
    let long = "é".repeat(600_000);
    let text_body = json!({"custom_id": "text", "response": {"status_code": 200, "request_id": "r-t",
        "body": serde_json::from_str::<Value>(&ok_line("x", &long)).unwrap()["response"]["body"].to_string()}})
    .to_string();
    let twice = ok_line("twice", &long).replacen(
        r#""custom_id":"twice""#,
        r#""custom_id":"first","custom_id":"twice""#,
        1,
    );
    // A lone surrogate in the text of the completion, inside a body sent as JSON text.
    let surrogate = text_body
        .replacen(r#""custom_id":"text""#, r#""custom_id":"surrogate""#, 1)
        .replacen("é", r"\\ud800", 1);
    let service = service(Script {
        statuses: vec![state("completed", json!({}), Some("file-out"), None)],
        files: vec![(
            "file-out".into(),
            format!(
                "{text_body}\n{surrogate}\n{twice}\n{}\n",
                ok_line("never", "read")
            ),
        )],
        cancelled: None,
    });
    let job = checks::client(&service.server)
        .run_batch_job(requests(1), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    let mut results = job.results();
    let (id, answer) = results.next().unwrap().unwrap();
    let answer = answer.unwrap();
    assert_eq!((id.as_str(), answer.content()), ("text", long.as_str()));
    assert_eq!(answer.request_id(), Some("r-t"));
    let (id, answer) = results.next().unwrap().unwrap();
    assert_eq!(id, "surrogate");
    assert_eq!(answer.unwrap().content(), long.replacen('é', "\u{FFFD}", 1));
    let error = results.next().unwrap().unwrap_err();
    assert!(
        matches!(&error, Error::MalformedChunk { event: 3, data, source }
            if data.starts_with(r#"{"custom_id":"first","custom_id":"twice""#) && data.len() < 600
                && data.ends_with(&format!("({} bytes in all)", twice.len()))
                && source.message().starts_with("duplicate field")),
        "{error:?}"
    );
    assert!(results.next().is_none(), "fused after an error");
}

#[test]
fn a_result_line_over_the_bound_is_an_error_not_an_allocation() {
    let service = service(Script {
        statuses: vec![state("completed", json!({}), Some("file-out"), None)],
        files: vec![("file-out".into(), "x".repeat(100_000))],
        cancelled: None,
    });
    let client =
        checks::client(&service.server).with_limits(StreamLimits::default().max_event_size(10_000));
    let job = client
        .run_batch_job(requests(1), &BatchJobOptions::new(), &quick(), |_| {})
        .unwrap();
    let error = job.results().next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::EventTooLarge { limit: 10_000 }),
        "{error:?}"
    );
}

#[test]
fn bad_input_is_refused_before_anything_is_uploaded() {
    let server = MockServer::start().unwrap();
    let client = checks::client(&server);
    let options = BatchJobOptions::new();

    let mut duplicate = requests(3);
    duplicate[2].0 = "request-1".into();
    let error = client.start_batch_job(duplicate, &options).unwrap_err();
    assert!(
        matches!(&error, Error::BatchInput(BatchInputError::DuplicateCustomId { line: 3, custom_id }) if custom_id == "request-1"),
        "{error:?}"
    );

    let error = client
        .start_batch_job(requests(5001), &options)
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::BatchInput(BatchInputError::TooManyLines {
                line: 5001,
                max: 5000
            })
        ),
        "{error:?}"
    );

    let empty: Vec<(String, ChatRequest)> = Vec::new();
    assert!(matches!(
        client.start_batch_job(empty, &options),
        Err(Error::BatchInput(BatchInputError::Empty))
    ));

    let tool = vec![(
        "t",
        ChatRequest::new(
            MODEL,
            vec![
                Message::user("hi"),
                Message::tool("call-1", "42"),
                Message::user("and?"),
            ],
        ),
    )];
    assert!(matches!(
        client.start_batch_job(tool, &options),
        Err(Error::BatchInput(BatchInputError::UnsupportedRole {
            line: 1,
            ..
        }))
    ));
    let ends_with_assistant = vec![(
        "a",
        ChatRequest::new(MODEL, vec![Message::user("hi"), Message::assistant("x")]),
    )];
    assert!(matches!(
        client.start_batch_job(ends_with_assistant, &options),
        Err(Error::BatchInput(
            BatchInputError::LastMessageNotUser { .. }
        ))
    ));
    let empty_id = vec![("", ChatRequest::new(MODEL, vec![Message::user("hi")]))];
    assert!(matches!(
        client.start_batch_job(empty_id, &options),
        Err(Error::BatchInput(BatchInputError::EmptyCustomId {
            line: 1
        }))
    ));

    let window = client.start_batch_job(
        requests(1),
        &BatchJobOptions::new().completion_window("400h"),
    );
    assert!(matches!(window, Err(Error::InvalidConfig(_))), "{window:?}");
    let mut metadata = BatchJobOptions::new();
    for i in 0..17 {
        metadata = metadata.metadata(format!("k{i}"), "v");
    }
    assert!(matches!(
        client.start_batch_job(requests(1), &metadata),
        Err(Error::InvalidConfig(_))
    ));

    assert_eq!(server.request_count(), 0, "nothing was uploaded");
    // The limits themselves (the 1 GB one cannot be written in a test) are the documented ones.
    assert_eq!(
        (
            siliconflow::MAX_BATCH_LINES,
            siliconflow::MAX_BATCH_FILE_BYTES
        ),
        (5_000, 1_000_000_000)
    );
}

#[test]
fn a_cancel_ends_the_wait_and_keeps_the_last_state() {
    let service = service(Script {
        statuses: vec![
            state("in_queue", json!(null), None, None),
            state(
                "in_progress",
                json!({"total": 1, "completed": 0}),
                None,
                None,
            ),
        ],
        files: vec![],
        cancelled: None,
    });
    let cancel = CancelHandle::new();
    let client = checks::client(&service.server).with_cancel(&cancel);
    let mut job = client
        .start_batch_job(requests(1), &BatchJobOptions::new())
        .unwrap();
    let canceller = cancel.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let start = Instant::now();
    let options = PollOptions::batch()
        .interval(Duration::from_millis(20))
        .max_interval(Duration::from_secs(60))
        .backoff(100.0);
    let result = job.wait(&options, |_| {});
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(
        job.batch().status,
        Some(BatchStatus::InProgress),
        "the last state seen"
    );
    thread.join().unwrap();
}

#[test]
fn a_job_is_taken_up_again_by_its_id() {
    let service = service(Script {
        statuses: vec![
            state(
                "finalizing",
                json!({"total": 1, "completed": 1}),
                None,
                None,
            ),
            state(
                "completed",
                json!({"total": 1, "completed": 1}),
                Some("file-out"),
                None,
            ),
        ],
        files: vec![("file-out".into(), ok_line("request-1", "2"))],
        cancelled: None,
    });
    let client = checks::client(&service.server);
    let mut job = client.resume_batch_job("batch_job").unwrap();
    assert_eq!(job.batch().status, Some(BatchStatus::Finalizing));
    assert!(job.input_file().is_none());
    assert_eq!(job.wait(&quick(), |_| {}).unwrap(), BatchOutcome::Completed);
    assert_eq!(job.results().count(), 1);
}
