//! No panic from any input of the public API: random (and hostile) strings and durations for every builder
//! setting and every per-request setting, each built and, when it builds, used for a request against a
//! loopback server. Every outcome must be a typed error or a success; `catch_unwind` turns any panic into a
//! failure naming the inputs (the seed reproduces it).

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::endpoints::CHAT_STREAM_BODY;
use common::read_request;
use siliconflow::{
    CancelHandle, ChatRequest, ChatStream, Client, Message, RetryPolicy, StreamLimits,
};

/// splitmix64: reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Pieces of strings that break things: line breaks, NULs, non-ASCII, URL syntax, escapes, long runs.
const PIECES: &[&str] = &[
    "",
    " ",
    "a",
    "Z",
    "9",
    "-",
    "_",
    "\r\n",
    "\n",
    "\r",
    "\0",
    "\t",
    "\u{7f}",
    "é",
    "你好",
    "🦀",
    "\u{202e}",
    ":",
    "/",
    "//",
    "://",
    "@",
    "%",
    "%zz",
    "%41",
    "?",
    "#",
    "[",
    "]",
    "[::1]",
    "\"",
    "\\",
    "\\u0000",
    "http",
    "https",
    "socks5",
    "ftp",
    "127.0.0.1",
    "localhost",
    ":0",
    ":65535",
    ":99999",
    "Bearer ",
    "sk-",
    "authorization",
    "Host",
    "content-length",
    "x-ok",
    ",",
    "*",
    ".internal",
];

fn string(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(8) {
        out.push_str(PIECES[rng.below(PIECES.len())]);
    }
    if rng.chance(3) {
        out.push_str(&"x".repeat(rng.below(100_000)));
    }
    out
}

fn duration(rng: &mut Rng) -> Duration {
    match rng.below(8) {
        0 => Duration::ZERO,
        1 => Duration::MAX,
        2 => Duration::from_secs(u64::MAX / 2),
        3 => Duration::from_nanos(1),
        4 => Duration::from_millis(rng.below(50) as u64),
        5 => Duration::new(u64::MAX, 999_999_999),
        _ => Duration::from_millis(200 + rng.below(2000) as u64),
    }
}

fn maybe_duration(rng: &mut Rng) -> Option<Duration> {
    (!rng.chance(20)).then(|| duration(rng))
}

fn size(rng: &mut Rng) -> usize {
    match rng.below(5) {
        0 => 0,
        1 => usize::MAX,
        2 => 1,
        _ => rng.below(1 << 20),
    }
}

/// A server that answers every request with a short event stream, until stopped.
fn server(stop: Arc<AtomicBool>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if read_request(&mut reader).is_none() {
                continue;
            }
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CHAT_STREAM_BODY}",
                CHAT_STREAM_BODY.len()
            );
        }
    });
    (base, handle)
}

#[test]
fn random_configurations_give_typed_errors_or_success_never_a_panic() {
    let stop = Arc::new(AtomicBool::new(false));
    let (base, server) = server(stop.clone());
    let mut built = 0;
    let mut requested = 0;
    for seed in 0..400u64 {
        let mut rng = Rng(seed);
        let base = base.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut builder = Client::builder()
                .api_key(if rng.chance(70) {
                    "sk-valid-key-0123456789".to_string()
                } else {
                    string(&mut rng)
                })
                .base_url(if rng.chance(85) {
                    base.clone()
                } else {
                    string(&mut rng)
                })
                .without_proxy();
            if rng.chance(15) {
                builder = builder.user_agent(string(&mut rng));
            }
            if rng.chance(15) {
                builder = builder.header(string(&mut rng), string(&mut rng));
            }
            if rng.chance(8) {
                builder = builder.proxy(string(&mut rng));
            }
            if rng.chance(8) {
                builder = builder.no_proxy(string(&mut rng));
            }
            if rng.chance(8) {
                builder = builder.root_certificates_pem(string(&mut rng).into_bytes());
            }
            // A retry waits its backoff as configured: a huge backoff is tried with a short deadline (which
            // must then end the retries without overflowing an instant), a short one without.
            let retries = rng.below(3) as u32;
            let huge_backoff = retries > 0 && rng.chance(50);
            let (initial, max) = if huge_backoff {
                (duration(&mut rng), Duration::MAX)
            } else {
                (
                    Duration::from_millis(rng.below(20) as u64),
                    Duration::from_millis(20),
                )
            };
            let deadline = if huge_backoff {
                Some(Duration::from_millis(rng.below(3000) as u64))
            } else {
                maybe_duration(&mut rng)
            };
            builder = builder
                .connect_timeout(duration(&mut rng))
                .response_timeout(duration(&mut rng))
                .idle_timeout(maybe_duration(&mut rng))
                .event_timeout(maybe_duration(&mut rng))
                .deadline(deadline)
                .max_event_size(size(&mut rng))
                .max_accumulated_size(Some(size(&mut rng)))
                .max_choices(size(&mut rng))
                .max_tool_calls(size(&mut rng))
                .retry_policy(
                    RetryPolicy::default()
                        .max_retries(retries)
                        .backoff(initial, max)
                        .max_server_delay(duration(&mut rng)),
                );
            let client = match builder.build() {
                Ok(client) => client,
                Err(_) => return (false, false),
            };
            let per_request_deadline = if huge_backoff {
                deadline
            } else {
                maybe_duration(&mut rng)
            };
            let mut client = client
                .with_deadline(per_request_deadline)
                .with_idle_timeout(maybe_duration(&mut rng))
                .with_event_timeout(maybe_duration(&mut rng))
                .with_connect_timeout(duration(&mut rng))
                .with_response_timeout(duration(&mut rng))
                .with_limits(StreamLimits::default().max_event_size(size(&mut rng)));
            if rng.chance(30) {
                client = client.with_header(string(&mut rng), string(&mut rng));
            }
            if rng.chance(30) {
                client = client.with_query(string(&mut rng), string(&mut rng));
            }
            if rng.chance(20) {
                let cancel = CancelHandle::new();
                if rng.chance(50) {
                    cancel.cancel();
                }
                client = client.with_cancel(&cancel);
            }
            let request = ChatRequest::new(string(&mut rng), vec![Message::user(string(&mut rng))]);
            let _ = format!("{client:?}");
            let result = if rng.chance(50) {
                client
                    .chat_stream(&request)
                    .map(|mut s| s.by_ref().for_each(drop))
            } else {
                client.chat(&request).map(drop)
            };
            if let Err(error) = result {
                let _ = format!("{error} {error:?}");
            }
            (true, true)
        }));
        match outcome {
            Ok((b, r)) => {
                built += usize::from(b);
                requested += usize::from(r);
            }
            Err(_) => panic!("seed {seed}: a panic from the public API"),
        }
    }
    // The decoder with any limits over a short stream.
    for seed in 0..200u64 {
        let mut rng = Rng(seed);
        let limits = StreamLimits::default()
            .max_event_size(size(&mut rng))
            .max_accumulated_size(Some(size(&mut rng)))
            .max_choices(size(&mut rng))
            .max_tool_calls(size(&mut rng));
        let outcome = catch_unwind(|| {
            let mut stream =
                ChatStream::from_reader(CHAT_STREAM_BODY.as_bytes()).with_limits(limits);
            stream.by_ref().for_each(drop);
            let _ = stream.into_completion();
        });
        assert!(outcome.is_ok(), "seed {seed}: a panic from the decoder");
    }
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    assert!(
        built > 100 && requested > 100,
        "built {built}, requested {requested}: the inputs are not exercising the client"
    );
}
