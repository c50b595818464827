//! Review 2: an `ApiError`'s `Display` is bounded only in its message.
//!
//! README (Failures): "HTTP 400, 401, 403, 404, 422 and other 4xx [...] `Error::Api(ApiError)`; its
//! `Display` is about 1 KiB at most". `ApiError`'s `Display` cuts the message to 1 KiB but appends the
//! provider `code`, `type`, `param` and the request id whole: a server sending a 15 KB `code` or a
//! 30 KB `x-request-id` header makes a log line of that size.

mod common;

use common::*;

#[test]
fn an_api_error_displays_in_about_a_kib_whatever_its_code_type_param_and_request_id() {
    let long = "x".repeat(15_000);
    let body = serde_json::json!({"error": {"message": "bad request", "code": long, "type": long, "param": long}})
        .to_string();
    let trace = "t".repeat(30_000);
    let (base, server) = raw_server(1, move |_, _, stream| {
        write_response(
            stream,
            400,
            &[
                ("Content-Type", "application/json"),
                ("x-siliconcloud-trace-id", &trace),
            ],
            &body,
        );
    });
    let error = client(&base).chat(&request()).unwrap_err();
    let _ = server.join();
    let shown = error.to_string();
    eprintln!("Display of the ApiError: {} bytes", shown.len());
    assert!(
        shown.len() < 1200,
        "the error displays in {} bytes",
        shown.len()
    );
}
