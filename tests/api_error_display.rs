//! An `ApiError`'s `Display` is about 1 KiB at most (README, Failures), whatever the server puts in its
//! code, type, param and request id header (each cut to 64 bytes), not only in its message. Review 2
//! found a 15 KB `code` and a 30 KB trace id shown whole (75 KB).

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
