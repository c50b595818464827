//! A failed batch request whose body is JSON text holding the key escaped twice: scrubbed from every
//! `Debug` and `Display` of the results. (Written by review 3; it held.)

mod common;

use common::*;

fn unicode_escaped(text: &str) -> String {
    text.bytes().map(|b| format!("\\u{b:04x}")).collect()
}

/// A failed batch request whose response `body` is JSON *text* (supported: "a `body` holding JSON text")
/// and whose error message holds the key, every character `\u`-escaped inside that text (so the line
/// carries it as `\\u0073…`).
#[test]
fn a_key_inside_a_json_text_body_is_scrubbed() {
    let inner = format!(
        r#"{{"error":{{"message":"echo {}","type":"{}","code":"{}"}}}}"#,
        unicode_escaped(KEY),
        unicode_escaped(KEY),
        unicode_escaped(KEY)
    );
    let line = serde_json::json!({"custom_id": "b", "response": {"status_code": 400, "request_id": "r", "body": inner}})
        .to_string();
    let results = batch_results(format!("{line}\n"));
    let shown = format!("{results:?}");
    let displayed: String = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|(_, a)| a.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    println!("{shown:.600}\n{displayed:.600}");
    assert!(
        !shown.contains(KEY) && !displayed.contains(KEY),
        "key shown: {shown:.600}"
    );
    assert!(!shown.contains(&unicode_escaped(KEY)), "escaped key shown");
}
