//! The fault matrix: every phase of every endpoint under every setting ends, with the error the settings
//! say, at the time they say.
//!
//! Rows are phase × endpoint × setting. The phases are what a hostile or broken server does (never reads
//! the request, never answers, stalls mid-body, trickles bytes forever, stalls in an error body, holds the
//! connection after `[DONE]`); a binary answer (audio, an image, a file) goes through the same phases as a
//! JSON one, its head bounded like a stream's. The settings each set one limit short (300–400 ms) and every other limit to
//! a longer backstop, so each row proves which limit fired, and that nothing waits without one. The
//! endpoints come from `common::endpoints()`: a new endpoint gets every row.
//!
//! Run with `--nocapture` to print the table.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::endpoints::{endpoints, Answer, Endpoint};
use common::{read_request, KEY};
use siliconflow::{CancelHandle, Client, Error, RetryPolicy, TimeoutKind};

/// What the server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Never completes the TCP handshake (its accept queue is full, so SYNs are dropped).
    Connect,
    /// Accepts the connection and never reads: a large request cannot be sent.
    Send,
    /// Reads the request and never answers.
    Head,
    /// Sends the head and part of the body, then nothing.
    Body,
    /// Sends the head, then one byte of the body every 50 ms, never completing anything.
    Trickle,
    /// Event streams: sends the head, then a keep-alive comment every 50 ms, never an event.
    Pings,
    /// Answers 500 with a body it never finishes.
    ErrorBody,
    /// Event streams: sends the whole stream up to `[DONE]`, then holds the connection open.
    AfterDone,
}

/// The limit a row sets short; every other one is a backstop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setting {
    Idle,
    Event,
    Deadline,
    Cancel,
}

const SHORT: Duration = Duration::from_millis(300);
/// A request body larger than the socket buffers of a peer that does not read.
const BIG: usize = 6 << 20;
const DEADLINE: Duration = Duration::from_millis(400);
const IDLE_BACKSTOP: Duration = Duration::from_millis(1500);
const RESPONSE_BACKSTOP: Duration = Duration::from_millis(2000);
const CONNECT_BACKSTOP: Duration = Duration::from_millis(1000);
const EVENT_BACKSTOP: Duration = Duration::from_millis(2500);

/// What a row must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Timeout(TimeoutKind, Duration),
    Cancelled(Duration),
    /// The error status, with the body prefix that arrived.
    Api(Duration),
    /// Success, at once.
    Ok,
}

/// The table's rule: which limit ends each phase under each setting, and when.
fn expect(phase: Phase, setting: Setting, endpoint: &Endpoint) -> Option<Expect> {
    use Setting::*;
    use TimeoutKind as K;
    // Streams and binary downloads: the idle timeout bounds the wait for their head.
    let streaming = endpoint.answer != Answer::Json;
    let (idle, event) = match setting {
        Idle => (SHORT, EVENT_BACKSTOP),
        Event => (IDLE_BACKSTOP, SHORT),
        _ => (IDLE_BACKSTOP, EVENT_BACKSTOP),
    };
    if phase == Phase::Connect {
        // A connect in progress cannot be woken: a cancel takes effect when the connect timeout ends it.
        return Some(match setting {
            Deadline => Expect::Timeout(K::Deadline, DEADLINE),
            Cancel => Expect::Cancelled(CONNECT_BACKSTOP),
            _ => Expect::Timeout(K::Connect, CONNECT_BACKSTOP),
        });
    }
    match setting {
        Deadline => return applies(phase, endpoint).then_some(expect_deadline(phase)),
        Cancel => {
            return applies(phase, endpoint).then_some(if phase == Phase::AfterDone {
                Expect::Ok
            } else {
                Expect::Cancelled(SHORT)
            })
        }
        _ => {}
    }
    if !applies(phase, endpoint) {
        return None;
    }
    Some(match phase {
        // Each write is bounded by the idle timeout, the whole send by the event timeout.
        Phase::Send if event < idle => Expect::Timeout(K::Event, event),
        Phase::Send => Expect::Timeout(K::Idle, idle),
        // A stream's (or a streamed download's) head is bounded by the idle timeout too; a JSON answer's
        // by the response timeout (a non-streamed reasoning answer may think for minutes before its
        // head).
        Phase::Head if streaming => Expect::Timeout(K::Idle, idle),
        Phase::Head => Expect::Timeout(K::Response, RESPONSE_BACKSTOP),
        Phase::Body if idle < event => Expect::Timeout(K::Idle, idle),
        Phase::Body => Expect::Timeout(K::Event, event),
        // Bytes keep coming, so only the event timeout (or the deadline) can end it: for a binary body,
        // the event timeout bounds the whole body.
        Phase::Trickle | Phase::Pings => Expect::Timeout(K::Event, event),
        // The error is what matters: the status and the prefix that arrived are returned.
        Phase::ErrorBody => Expect::Api(idle.min(event)),
        Phase::AfterDone => Expect::Ok,
        Phase::Connect => unreachable!("handled above"),
    })
}

fn expect_deadline(phase: Phase) -> Expect {
    if phase == Phase::AfterDone {
        Expect::Ok
    } else {
        Expect::Timeout(TimeoutKind::Deadline, DEADLINE)
    }
}

/// Whether a phase exists for an endpoint.
fn applies(phase: Phase, endpoint: &Endpoint) -> bool {
    match phase {
        Phase::Send => endpoint.call_big.is_some(),
        Phase::Pings | Phase::AfterDone => endpoint.answer == Answer::EventStream,
        _ => true,
    }
}

/// A listener whose accept queue is full: a connect to it never completes (the kernel drops its SYNs). The
/// listener and the connections filling its queue live as long as the test.
fn black_hole() -> &'static str {
    static BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(stream);
            assert!(fillers.len() < 10_000, "the accept queue never filled");
        }
        Box::leak(Box::new((listener, fillers)));
        format!("http://{addr}/v1")
    })
}

/// A server for one row: accepts one connection and behaves as `phase` says until `stop` is set.
fn server(
    phase: Phase,
    endpoint: &Endpoint,
    stop: Arc<AtomicBool>,
) -> (String, std::thread::JoinHandle<()>) {
    if phase == Phase::Connect {
        return (black_hole().to_string(), std::thread::spawn(|| {}));
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let ok = (endpoint.ok_body)();
    let sse = endpoint.answer == Answer::EventStream;
    let answer = endpoint.answer;
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        // A client stopped before it connects (a cancel during its preparation) never comes.
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if !stop.load(Ordering::SeqCst) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).unwrap();
        let hold = |stop: &AtomicBool| {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        if phase == Phase::Send {
            hold(&stop); // never read
            return;
        }
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        if read_request(&mut reader).is_none() {
            return;
        }
        let mut out = stream;
        let content_type = match answer {
            Answer::EventStream => "text/event-stream",
            Answer::Binary => "application/octet-stream",
            Answer::Json => "application/json",
        };
        match phase {
            Phase::Send | Phase::Connect => {}
            Phase::Head => hold(&stop),
            Phase::Body => {
                if sse {
                    head(&mut out, 200, content_type, None);
                    let first = ok.split_inclusive("\n\n").next().unwrap_or("");
                    chunk(&mut out, first.as_bytes());
                } else {
                    head(&mut out, 200, content_type, Some(ok.len()));
                    let _ = out.write_all(&ok.as_bytes()[..ok.len() / 2]);
                }
                hold(&stop);
            }
            Phase::Trickle => {
                let bytes: &[u8] = if sse {
                    b"data: {\"choices\":[{\"delta\":{\"content\":\""
                } else {
                    b"{\"data\":"
                };
                if sse {
                    head(&mut out, 200, content_type, None);
                } else {
                    head(&mut out, 200, content_type, Some(1 << 20));
                }
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let byte = [bytes.get(i).copied().unwrap_or(b' ')];
                    let ok = if sse {
                        chunk(&mut out, &byte)
                    } else {
                        out.write_all(&byte).is_ok()
                    };
                    if !ok {
                        return;
                    }
                    i += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Phase::Pings => {
                head(&mut out, 200, content_type, None);
                while !stop.load(Ordering::SeqCst) {
                    if !chunk(&mut out, b": ping\n\n") {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Phase::ErrorBody => {
                head(&mut out, 500, "application/json", Some(1000));
                let _ = out.write_all(br#"{"code":50505,"mess"#);
                hold(&stop);
            }
            Phase::AfterDone => {
                head(&mut out, 200, content_type, None);
                chunk(&mut out, ok.as_bytes());
                hold(&stop); // no terminating chunk
            }
        }
    });
    (base, handle)
}

fn head(out: &mut TcpStream, status: u16, content_type: &str, length: Option<usize>) {
    let framing = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_string(),
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nx-siliconcloud-trace-id: row\r\n{framing}\r\n\r\n"
    );
}

fn chunk(out: &mut TcpStream, data: &[u8]) -> bool {
    write!(out, "{:x}\r\n", data.len()).is_ok()
        && out.write_all(data).is_ok()
        && out.write_all(b"\r\n").is_ok()
}

/// The client of a row: the setting short, every other limit a backstop, no retries.
fn client(base: &str, setting: Setting, cancel: &CancelHandle) -> Client {
    let mut builder = Client::builder()
        .api_key(KEY)
        .base_url(base)
        .retry_policy(RetryPolicy::none())
        .idle_timeout(Some(IDLE_BACKSTOP))
        .response_timeout(RESPONSE_BACKSTOP)
        .connect_timeout(CONNECT_BACKSTOP)
        .event_timeout(Some(EVENT_BACKSTOP));
    builder = match setting {
        Setting::Idle => builder.idle_timeout(Some(SHORT)),
        Setting::Event => builder.event_timeout(Some(SHORT)),
        Setting::Deadline => builder.deadline(Some(DEADLINE)),
        Setting::Cancel => builder,
    };
    let client = builder.build().unwrap();
    if setting == Setting::Cancel {
        client.with_cancel(cancel)
    } else {
        client
    }
}

/// A row's outcome.
struct Row {
    phase: Phase,
    endpoint: &'static str,
    setting: Setting,
    expected: Expect,
    got: String,
    elapsed: Duration,
    pass: bool,
}

fn run_row(phase: Phase, endpoint: &Endpoint, setting: Setting) -> Option<Row> {
    let expected = expect(phase, setting, endpoint)?;
    if let Ok(only) = std::env::var("MATRIX_ONLY") {
        if only != format!("{phase:?}/{}/{setting:?}", endpoint.name) {
            return None;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (base, server) = server(phase, endpoint, Arc::clone(&stop));
    let cancel = CancelHandle::new();
    let client = client(&base, setting, &cancel);
    // Building a large request takes a while in a debug build: it happens before the request's clock
    // starts, so it is measured (on a copy) and allowed for.
    let prep = if phase == Phase::Send {
        let start = Instant::now();
        let request =
            siliconflow::ChatRequest::new("m", vec![siliconflow::Message::user("x".repeat(BIG))]);
        drop(serde_json::to_vec(&serde_json::to_value(&request).unwrap()).unwrap());
        start.elapsed() * 2
    } else {
        Duration::ZERO
    };
    let canceller = (setting == Setting::Cancel).then(|| {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(SHORT);
            cancel.cancel();
        })
    });
    let start = Instant::now();
    if std::env::var_os("MATRIX_TRACE").is_some() {
        eprintln!("start {phase:?}/{}/{setting:?}", endpoint.name);
    }
    let result = match phase {
        Phase::Send => (endpoint.call_big.unwrap())(&client, BIG),
        _ => (endpoint.call)(&client),
    };
    let elapsed = start.elapsed();
    if std::env::var_os("MATRIX_TRACE").is_some() {
        eprintln!(
            "end {phase:?}/{}/{setting:?} {elapsed:?} {:?}",
            endpoint.name,
            result.as_ref().err()
        );
    }
    stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    if let Some(canceller) = canceller {
        let _ = canceller.join();
    }
    // Generous: proves which limit fired, not a speed; the deadline is held to its promise.
    let on_time = |at: Duration, slack: Duration| {
        elapsed + Duration::from_millis(30) >= at && elapsed <= at + prep + slack
    };
    let pass = match (&expected, &result) {
        (Expect::Timeout(kind, at), Err(Error::Timeout(got))) if kind == got => {
            let slack = match kind {
                TimeoutKind::Deadline => Duration::from_millis(150),
                // A peer that does not read still lets the kernel take bytes for a while (socket
                // buffers, window probes): each write makes progress until it stops, so the idle
                // timeout fires an unknown time after the first stalled write.
                _ if phase == Phase::Send => Duration::from_secs(6),
                _ => Duration::from_millis(700),
            };
            on_time(*at, slack)
        }
        (Expect::Cancelled(at), Err(Error::Cancelled)) => on_time(*at, Duration::from_millis(150)),
        (Expect::Api(at), Err(Error::Api(e))) => {
            e.status == 500 && on_time(*at, Duration::from_millis(700))
        }
        (Expect::Ok, Ok(())) => elapsed < Duration::from_millis(250),
        _ => false,
    };
    let got = match &result {
        Ok(()) => "Ok".to_string(),
        Err(Error::Timeout(kind)) => format!("Timeout({kind:?})"),
        Err(Error::Api(e)) => format!("Api({})", e.status),
        Err(other) => format!("{other:?}").chars().take(80).collect(),
    };
    Some(Row {
        phase,
        endpoint: endpoint.name,
        setting,
        expected,
        got,
        elapsed,
        pass,
    })
}

#[test]
fn every_phase_of_every_endpoint_ends_as_its_settings_say() {
    let phases = [
        Phase::Connect,
        Phase::Send,
        Phase::Head,
        Phase::Body,
        Phase::Trickle,
        Phase::Pings,
        Phase::ErrorBody,
        Phase::AfterDone,
    ];
    let settings = [
        Setting::Idle,
        Setting::Event,
        Setting::Deadline,
        Setting::Cancel,
    ];
    let all = endpoints();
    // Rows wait, they do not compute: run them side by side, a few dozen at a time.
    let mut rows = Vec::new();
    let mut cases: Vec<(Phase, usize, Setting)> = Vec::new();
    for &phase in &phases {
        for e in 0..all.len() {
            for &setting in &settings {
                cases.push((phase, e, setting));
            }
        }
    }
    black_hole(); // filled before the rows start
                  // The rows that send a large body compute more: fewer at a time, grouped by setting so that the
                  // slow ones (the idle backstop under the event setting) wait side by side.
    cases.retain(|&(phase, e, setting)| expect(phase, setting, &all[e]).is_some());
    let (mut send, others): (Vec<_>, Vec<_>) = cases.into_iter().partition(|c| c.0 == Phase::Send);
    send.sort_by_key(|c| format!("{:?}", c.2));
    for batch in send.chunks(6).chain(others.chunks(64)) {
        let handles: Vec<_> = batch
            .iter()
            .map(|&(phase, e, setting)| {
                std::thread::spawn(move || run_row(phase, &endpoints()[e], setting))
            })
            .collect();
        for handle in handles {
            if let Some(row) = handle.join().expect("row thread") {
                rows.push(row);
            }
        }
    }
    println!("| phase | endpoint | setting | expected | got | after |");
    println!("| --- | --- | --- | --- | --- | ---: |");
    for row in &rows {
        println!(
            "| {:?} | {} | {:?} | {:?} | {} | {} ms{} |",
            row.phase,
            row.endpoint,
            row.setting,
            row.expected,
            row.got,
            row.elapsed.as_millis(),
            if row.pass { "" } else { " FAILED" }
        );
    }
    let failed: Vec<_> = rows.iter().filter(|r| !r.pass).collect();
    assert!(
        failed.is_empty(),
        "{} of {} rows failed: {}",
        failed.len(),
        rows.len(),
        failed
            .iter()
            .map(|r| format!(
                "{:?}/{}/{:?}: expected {:?}, got {} after {:?}",
                r.phase, r.endpoint, r.setting, r.expected, r.got, r.elapsed
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    // Every endpoint has rows for every phase that applies to it.
    for endpoint in &all {
        assert!(rows.iter().any(|r| r.endpoint == endpoint.name));
    }
}

/// The defaults leave no phase unbounded: the idle and event timeouts are on, so a stalled or trickling
/// server fails every call eventually (the table above proves each limit ends each phase).
#[test]
fn the_defaults_bound_every_phase() {
    let debug = format!("{:?}", Client::builder().api_key(KEY).build().unwrap());
    assert!(debug.contains("idle_timeout: Some(120s)"), "{debug}");
    assert!(debug.contains("event_timeout: Some(600s)"), "{debug}");
    assert!(debug.contains("response_timeout: 600s"), "{debug}");
    assert!(debug.contains("connect_timeout: 10s"), "{debug}");
    let _ = std::io::empty().read(&mut [0u8; 0]);
}
