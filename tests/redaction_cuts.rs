//! The key is scrubbed before anything is cut (README, Failures), on the paths `redaction_edges.rs` does
//! not reach: SiliconFlow's failure envelopes and batch result lines, whose bodies are kept cut to
//! 64 KiB, and a batch result's metadata (its line's request id). Review 2 found a 30-character prefix
//! of the key left by cuts made before scrubbing there.

mod common;

use common::*;
use siliconflow::Error;

/// A piece of the test key long enough to be unmistakable (22 of its 38 characters).
const PIECE: &str = "sk-test-KEY-0123456789";

const MAX_ERROR_BODY: usize = 64 * 1024;

fn assert_no_piece(what: &str, text: &str) {
    if let Some(at) = text.find(PIECE) {
        panic!(
            "{what} shows a piece of the key ({PIECE}…): …{}",
            text[at.saturating_sub(20)..]
                .chars()
                .take(80)
                .collect::<String>()
        );
    }
}

/// `list_files` answered `200` with a failure envelope of 70 KB whose `data` echoes the key across the
/// 64 KiB mark.
#[test]
fn a_failure_envelope_keeps_no_prefix_of_the_key() {
    let head = r#"{"code":50000,"message":"upstream failed","status":false,"data":""#;
    // The key starts 30 bytes before the cut: 30 of its 38 characters are kept.
    let pad = MAX_ERROR_BODY - 30 - head.len();
    let body = format!("{head}{}{KEY}{}\"}}", "x".repeat(pad), "y".repeat(5000));
    assert_eq!(body.find(KEY), Some(MAX_ERROR_BODY - 30));
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(stream, 200, &[("Content-Type", "application/json")], &body);
    });
    let error = client(&base)
        .list_files(&siliconflow::FileListQuery::new())
        .unwrap_err();
    let _ = server.join();
    assert!(
        matches!(&error, Error::Api(api) if api.status == 200),
        "{:.200}",
        format!("{error:?}")
    );
    assert_no_piece("list_files failure envelope (Debug)", &format!("{error:?}"));
    assert_no_piece("list_files failure envelope (Display)", &error.to_string());
}

/// A batch's output file: one line whose `error` echoes the key across the 64 KiB mark, one whose
/// response is a 400 with such a body.
#[test]
fn a_batch_result_line_keeps_no_prefix_of_the_key() {
    // line_error builds `{"error":` + error + `}` and parses that: 9 bytes before the error object.
    let error_head = r#"{"message":""#;
    let pad = MAX_ERROR_BODY - 30 - 9 - error_head.len();
    let error_object = format!(
        "{error_head}{}{KEY}{}\"}}",
        "x".repeat(pad),
        "y".repeat(5000)
    );
    let line1 = format!(r#"{{"custom_id":"a","response":null,"error":{error_object}}}"#);
    // response_result parses the body's text: the key 30 bytes before the cut.
    let body_text = format!(
        "{}{KEY}{}",
        "x".repeat(MAX_ERROR_BODY - 30),
        "y".repeat(5000)
    );
    let line2 =
        serde_json::json!({"custom_id": "b", "response": {"status_code": 400, "body": body_text}})
            .to_string();
    let file = format!("{line1}\n{line2}\n");
    let results = batch_results(file);
    assert_eq!(results.len(), 2, "{:.300}", format!("{results:?}"));
    let leaks: Vec<String> = results
        .iter()
        .filter_map(|result| {
            let (custom_id, answer) = result.as_ref().expect("a result line");
            let api = answer.as_ref().expect_err("an error line");
            let shown = format!("{api:?} {api}");
            let at = shown.find(PIECE)?;
            Some(format!(
                "result {custom_id:?}: …{}",
                shown[at.saturating_sub(20)..]
                    .chars()
                    .take(70)
                    .collect::<String>()
            ))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "a piece of the key in the batch results' ApiErrors: {leaks:#?}"
    );
}

/// A successful batch result carries the line's `request_id` as its response metadata
/// (`completion.response()`, `completion.request_id()`); unlike real response headers (scrubbed in
/// `Client::response`) and unlike the `ApiError` of a failed line (scrubbed by `Client::redact`), this
/// `ResponseMeta` is built from the server's text as is. README: "no `Display` or `Debug` output of [...]
/// a result's metadata [...] contains the API key".
#[test]
fn a_batch_result_s_metadata_keeps_no_key() {
    let line = format!(
        r#"{{"custom_id":"a","response":{{"status_code":200,"request_id":"echo {KEY}","body":{{"choices":[{{"index":0,"message":{{"role":"assistant","content":"4"}},"finish_reason":"stop"}}]}}}}}}"#
    );
    let (custom_id, answer) = batch_results(format!("{line}\n"))
        .into_iter()
        .next()
        .expect("a line")
        .expect("read");
    let completion = answer.expect("a completion");
    assert_eq!(custom_id, "a");
    assert_no_piece(
        "a batch result's response() (Debug)",
        &format!("{:?}", completion.response()),
    );
    assert_no_piece(
        "a batch result's request_id()",
        &format!("{:?}", completion.request_id()),
    );
}
