//! Logging through the `log` facade: each attempt at `debug`, each retry at `warn` with its wait, each
//! failure with its request id; never the key, never a body. A file of its own: the logger is global.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::*;
use log::{Level, Log, Metadata, Record};
use siliconflow::RetryPolicy;

struct Capture(Mutex<Vec<(Level, String, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        if record.target().starts_with("siliconflow") {
            self.0.lock().unwrap().push((
                record.level(),
                record.target().to_string(),
                record.args().to_string(),
            ));
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn attempts_retries_and_failures_are_logged_without_the_key() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    // A 503 echoing the key, then a stream; then a 400 that is not retried.
    let (base, server) = raw_server(3, |n, seen, stream| {
        let auth = seen
            .head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization"))
            .unwrap_or("")
            .to_string();
        match n {
            0 => write_response(
                stream,
                503,
                &[("x-siliconcloud-trace-id", "trace-503")],
                &format!("{{\"message\":\"busy {auth}\"}}"),
            ),
            1 => write_ok_stream(stream),
            _ => write_response(
                stream,
                400,
                &[("x-request-id", "req-400")],
                r#"{"code":20012,"message":"Model does not exist."}"#,
            ),
        }
    });
    let client = builder(&base)
        .retry_policy(
            RetryPolicy::default()
                .backoff(Duration::from_millis(20), Duration::from_millis(20))
                .jitter(false),
        )
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert!(client.chat(&request()).is_err());
    server.join().unwrap();

    let records = CAPTURE.0.lock().unwrap().clone();
    let find = |level: Level, parts: &[&str]| {
        records
            .iter()
            .any(|(l, _, m)| *l == level && parts.iter().all(|p| m.contains(p)))
    };
    let all = format!("{records:#?}");
    assert!(
        find(Level::Debug, &["POST chat/completions", "attempt 1"]),
        "{all}"
    );
    assert!(
        find(
            Level::Warn,
            &[
                "attempt 1 failed",
                "trace-503",
                "HTTP 503",
                "retrying in 20ms"
            ]
        ),
        "{all}"
    );
    assert!(find(Level::Debug, &["attempt 2"]), "{all}");
    assert!(find(Level::Debug, &["HTTP 200", "raw-1"]), "{all}");
    assert!(
        find(Level::Info, &["failed", "req-400", "Model does not exist"]),
        "{all}"
    );
    assert!(!all.contains(KEY), "the key in a log record: {all}");
    assert!(
        all.contains("<redacted>"),
        "the echoed key was scrubbed: {all}"
    );
}
