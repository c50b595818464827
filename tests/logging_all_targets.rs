//! No log record, from any target at any level, carries the API key. Review 4 found that ureq-proto
//! hex-dumps every byte of the request head it writes at `trace` (target `ureq_proto::util`, 16 bytes a
//! record), the `Authorization: Bearer <key>` line included, and that the crate's own attempt records
//! named a server-given URL unscrubbed. Now ureq is given a placeholder of the key's length, which the last
//! layer of the connection (above TLS) replaces with the key as the head is sent (`src/net/key.rs`); and
//! the attempt records are scrubbed. A file of its own: the logger is global.

mod common;

use std::sync::Mutex;

use common::*;
use log::{Log, Metadata, Record};

struct Capture(Mutex<Vec<(String, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        self.0
            .lock()
            .unwrap()
            .push((record.target().to_string(), record.args().to_string()));
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// Installs the logger once, serialises the tests (the logger is global) and empties the capture.
fn install() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    CAPTURE.0.lock().unwrap().clear();
    guard
}

/// The 16-byte rows' ASCII columns (ureq-proto's `Row` format: 8 hex pairs, then 16 characters).
fn ascii_column(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    // "xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx  " = 41 characters, then 16.
    (bytes.len() == 57 && bytes[39] == b' ' && bytes[40] == b' ').then(|| &line[41..])
}

#[test]
fn no_record_at_any_level_from_any_target_holds_the_key() {
    let _serial = install();

    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(stream, 200, &[], CHAT_OK);
    });
    let client = client(&base);
    client.chat(&request()).unwrap();
    server.join().unwrap();

    let records = CAPTURE.0.lock().unwrap().clone();
    // Any record holding 12 characters of the key or more (a row holds 16).
    let pieces: Vec<&str> = (0..=KEY.len() - 12).map(|i| &KEY[i..i + 12]).collect();
    let holding: Vec<_> = records
        .iter()
        .filter(|(_, text)| pieces.iter().any(|p| text.contains(p)))
        .collect();
    // The hex dump joined back up, as anyone reading the log can.
    let dump: String = records
        .iter()
        .filter_map(|(_, text)| ascii_column(text))
        .collect();
    assert!(
        holding.is_empty() && !dump.contains(KEY),
        "records holding part of the key: {holding:#?}\nthe key whole in the joined dump: {}",
        dump.contains(KEY)
    );
}

const CHAT_OK: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;

/// The crate's own `debug` record of an attempt names an external URL (a generated image's, a batch
/// result file's: URLs the *server* hands out) without its query but otherwise unscrubbed, while every
/// error built from the same URL goes through the redactor. A server that puts the key in such a URL
/// (the README: a server "that echoes the key back" has it replaced) gets it into the log.
#[test]
fn an_external_url_echoing_the_key_is_scrubbed_in_the_attempt_record() {
    let _serial = install();
    let (base, server) = raw_server(1, |_, _, stream| {
        write_response(stream, 200, &[("content-type", "image/png")], "PNG");
    });
    let origin = base.trim_end_matches("/v1");
    let url = format!("{origin}/images/{KEY}/0.png?sig=1");
    let client = client(&base);
    client.download_image(&url, &mut Vec::new()).unwrap();
    server.join().unwrap();
    let records = CAPTURE.0.lock().unwrap().clone();
    let leaking: Vec<_> = records
        .iter()
        .filter(|(target, text)| target.starts_with("siliconflow") && text.contains(KEY))
        .collect();
    assert!(leaking.is_empty(), "{leaking:#?}");
}
