//! Compiled only in tests: the parent module declares it `#[cfg(test)] mod tests;`.
use super::*;
use crate::chat::response::FinishReason;
use serde_json::{json, Value};

const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","created":1741685413,"model":"deepseek-ai/DeepSeek-V3","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2+2"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;

/// The line read in place, and given away (as the readers do with a long line): the same answer.
fn line(value: Value) -> BatchOutputLine {
    let text = value.to_string();
    let read = parse_output_line(&text).unwrap();
    let owned = parse_owned_output_line(format!(" {text}\n")).unwrap();
    assert_eq!(owned, read, "{text}");
    read
}

#[test]
fn openai_style_success() {
    let completion: Value = serde_json::from_str(COMPLETION).unwrap();
    let parsed = line(json!({"id": "batch_req_1", "custom_id": "request-1",
        "response": {"status_code": 200, "request_id": "req-9", "body": completion}, "error": null}));
    assert_eq!(parsed.id.as_deref(), Some("batch_req_1"));
    assert_eq!(
        (parsed.status_code, parsed.request_id.as_deref()),
        (Some(200), Some("req-9"))
    );
    let (custom_id, result) = parsed.into_pair();
    assert_eq!(custom_id, "request-1");
    let completion = result.unwrap();
    assert_eq!(completion.content(), "4");
    assert_eq!(completion.reasoning_content(), "2+2");
    assert_eq!(completion.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(completion.usage.map(|u| u.total_tokens), Some(6));
}

#[test]
fn tolerated_success_shapes() {
    let completion: Value = serde_json::from_str(COMPLETION).unwrap();
    for value in [
        // The body as JSON text.
        json!({"custom_id": "a", "response": {"status_code": 200, "body": COMPLETION}}),
        // No status code.
        json!({"custom_id": "a", "response": {"body": completion}}),
        // The response is the completion itself.
        json!({"custom_id": "a", "response": completion}),
        // A status code as text.
        json!({"custom_id": "a", "response": {"status_code": "200", "body": completion}, "error": null}),
    ] {
        let parsed = line(value.clone());
        assert_eq!(
            parsed
                .result
                .map(|c| c.content().to_string())
                .ok()
                .as_deref(),
            Some("4"),
            "{value}"
        );
    }
}

#[test]
fn documented_expiry_line() {
    let parsed = line(
        json!({"id": "batch_req_123", "custom_id": "request-3", "response": null,
        "error": {"code": "batch_expired",
                  "message": "This request could not be executed before the completion window expired."}}),
    );
    assert_eq!(parsed.custom_id, "request-3");
    assert_eq!(parsed.status_code, None);
    let error = parsed.result.unwrap_err();
    assert_eq!(error.status, 0);
    assert_eq!(error.code.as_deref(), Some("batch_expired"));
    assert!(error
        .message
        .starts_with("This request could not be executed"));
    assert!(!error.is_retryable());
}

#[test]
fn failed_requests() {
    // An HTTP error status with SiliconFlow's error body.
    let parsed = line(
        json!({"custom_id": "b", "response": {"status_code": 400, "request_id": "r",
        "body": {"code": 20015, "message": "Value error, current model does not support parameter `enable_thinking`.", "data": null}}}),
    );
    let error = parsed.result.unwrap_err();
    assert_eq!((error.status, error.code.as_deref()), (400, Some("20015")));
    assert!(error.message.contains("enable_thinking"));
    assert_eq!(error.request_id.as_deref(), Some("r"));

    // An OpenAI error body, a text body, a bare string body, no body.
    for (response, status, message) in [
        (
            json!({"status_code": 500, "body": {"error": {"message": "boom", "type": "server_error"}}}),
            500,
            "boom",
        ),
        (
            json!({"status_code": 503, "body": "upstream overloaded"}),
            503,
            "upstream overloaded",
        ),
        (
            json!({"status_code": 401, "body": "\"Invalid token\""}),
            401,
            "Invalid token",
        ),
        (
            json!({"status_code": 429}),
            429,
            "the batch output line's response has no body",
        ),
        (
            json!({"status_code": 502, "body": null}),
            502,
            "the batch output line's response has no body",
        ),
        // A 200 whose body is an error.
        (
            json!({"status_code": 200, "body": {"code": 50505, "message": "Model service overloaded."}}),
            200,
            "Model service overloaded.",
        ),
        (json!({"body": [1, 2]}), 0, "[1,2]"),
    ] {
        let error = line(json!({"custom_id": "c", "response": response.clone()}))
            .result
            .unwrap_err();
        assert_eq!(
            (error.status, error.message.as_str()),
            (status, message),
            "{response}"
        );
    }

    // The line-level error as a plain string, with the response's status.
    let error = line(json!({"custom_id": "d", "response": {"status_code": 500, "request_id": "q"}, "error": "internal"}))
        .result
        .unwrap_err();
    assert_eq!(
        (
            error.status,
            error.message.as_str(),
            error.request_id.as_deref()
        ),
        (500, "internal", Some("q"))
    );

    // Neither response nor error.
    let parsed = line(json!({"custom_id": 7}));
    assert_eq!(parsed.custom_id, "7");
    assert_eq!(
        parsed.result.unwrap_err().message,
        "the batch output line has neither a response nor an error"
    );
    assert_eq!(line(json!({})).custom_id, "");
}

#[test]
fn malformed_lines() {
    for text in ["not json", "[1]", "\"s\"", "null", ""] {
        assert!(parse_output_line(text).is_err(), "{text:?}");
        assert!(
            parse_owned_output_line(text.to_string()).is_err(),
            "{text:?}"
        );
    }
    // A success body that is not a completion (a choice without a message), as an object and as text.
    for text in [
        r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"index":0}]}}}"#,
        r#"{"custom_id":"a","response":{"status_code":200,"body":"{\"choices\":[{\"index\":0}]}"}}"#,
    ] {
        assert!(parse_output_line(text).is_err(), "{text}");
        assert!(parse_owned_output_line(text.to_string()).is_err(), "{text}");
    }
}

#[test]
fn reader_skips_blank_lines_and_counts_lines() {
    let file = format!(
        "{}\r\n\n  \n{}\nnot json\n{}",
        json!({"custom_id": "a", "response": {"status_code": 200, "body": serde_json::from_str::<Value>(COMPLETION).unwrap()}}),
        json!({"custom_id": "b", "error": {"code": "batch_expired", "message": "late"}}),
        json!({"custom_id": "c", "error": "no trailing newline"}),
    );
    let items: Vec<_> = BatchOutputReader::new(file.as_bytes()).collect();
    assert_eq!(items.len(), 4);
    assert!(items[0].as_ref().unwrap().result.is_ok());
    assert_eq!(items[1].as_ref().unwrap().custom_id, "b");
    assert!(matches!(
        items[2],
        Err(BatchOutputError::Line { line: 5, .. })
    ));
    assert_eq!(items[3].as_ref().unwrap().custom_id, "c");
}

#[test]
fn reader_bounds_lines_and_reports_io_errors() {
    let long = vec![b'x'; MAX_OUTPUT_LINE + 10];
    let mut reader = BatchOutputReader::new(&long[..]);
    assert!(matches!(
        reader.next(),
        Some(Err(BatchOutputError::LineTooLong { line: 1 }))
    ));
    assert!(reader.next().is_none(), "fused after an error");

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("reset"))
        }
    }
    let mut reader = BatchOutputReader::new(io::BufReader::new(Failing));
    assert!(matches!(reader.next(), Some(Err(BatchOutputError::Io(_)))));
    assert!(reader.next().is_none());
}
