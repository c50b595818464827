//! Thread-free: no call of any endpoint, in any configuration, changes the number of threads of the process.
//!
//! Configurations: an IP address and `localhost` as the host, a proxy given in code (as an IP, as a
//! hostname, with credentials) and one from `HTTP_PROXY`, every timeout set and none, a cancel handle.
//! A sampler thread (started before the baseline) watches the thread count the whole time, so a thread that
//! lives only a few microseconds (ureq's resolver thread for one lookup) is seen too; a control run with a
//! plain ureq agent whose resolve phase has a timeout proves that the sampler catches such a thread.
//!
//! This file holds a single test so no other test's threads disturb the count, and so the environment
//! variable it sets is seen by no other test.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::endpoints::{endpoints, Answer};
use common::{proxy, read_request, thread_count, KEY};
use siliconflow::{CancelHandle, Client, ClientBuilder, RetryPolicy};

/// Watches the thread count from its own thread and records the highest seen.
struct Sampler {
    peak: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Sampler {
        let peak = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    peak.fetch_max(thread_count(), Ordering::SeqCst);
                    std::thread::yield_now();
                }
            })
        };
        // Let it take its first samples (itself included).
        std::thread::sleep(Duration::from_millis(20));
        Sampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// The highest count seen since the last reset, and a reset.
    fn take_peak(&self) -> usize {
        std::thread::sleep(Duration::from_millis(5));
        self.peak.swap(thread_count(), Ordering::SeqCst)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A server on one thread answering every endpoint, one connection per request.
fn server(stop: Arc<AtomicBool>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let table = endpoints();
        while !stop.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some(request) = read_request(&mut reader) else {
                continue;
            };
            let line = request.head.lines().next().unwrap_or("").to_string();
            let streaming = String::from_utf8_lossy(&request.body).contains("\"stream\":true");
            let endpoint = table.iter().find(|e| {
                line.starts_with(&format!("{} {}", e.method, e.path))
                    && (e.answer == Answer::EventStream) == streaming
            });
            let Some(endpoint) = endpoint else {
                continue;
            };
            let body = (endpoint.ok_body)();
            let content_type = match endpoint.answer {
                Answer::EventStream => "text/event-stream",
                _ => "application/json",
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

#[test]
fn no_endpoint_in_any_configuration_spawns_a_thread() {
    let stop = Arc::new(AtomicBool::new(false));
    let (port, server) = server(stop.clone());
    let proxy = proxy::start();
    let sampler = Sampler::start();

    // The control: ureq's own resolver, with a resolve timeout, looks `localhost` up on a new thread, and
    // the sampler sees it. (Without this, a sampler too slow to see anything would pass every row below.)
    let baseline = sampler.take_peak();
    let control = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let mut caught = false;
    for _ in 0..50 {
        let _ = control
            .get(format!("http://localhost:{port}/v1/none"))
            .call();
        if sampler.take_peak() > baseline {
            caught = true;
            break;
        }
    }
    assert!(caught, "the sampler must see ureq's resolver thread");
    std::thread::sleep(Duration::from_millis(50));

    let ip = format!("http://127.0.0.1:{port}/v1");
    let named = format!("http://localhost:{port}/v1");
    let base = |url: &str| {
        Client::builder()
            .api_key(KEY)
            .base_url(url)
            .retry_policy(RetryPolicy::none())
            .without_proxy()
    };
    let cancel = CancelHandle::new();
    let configurations: Vec<(&str, ClientBuilder, bool)> = vec![
        ("IP address", base(&ip), false),
        ("localhost", base(&named), false),
        (
            "every timeout set",
            base(&named)
                .connect_timeout(Duration::from_secs(5))
                .response_timeout(Duration::from_secs(5))
                .idle_timeout(Some(Duration::from_secs(5)))
                .event_timeout(Some(Duration::from_secs(5)))
                .deadline(Some(Duration::from_secs(5))),
            false,
        ),
        (
            "no timeout set",
            base(&named)
                .idle_timeout(None)
                .event_timeout(None)
                .deadline(None),
            false,
        ),
        (
            "proxy in code, as an IP",
            base(&named).proxy(format!("http://127.0.0.1:{}", proxy.port)),
            true,
        ),
        (
            "proxy in code, as a hostname, with a deadline",
            base(&named)
                .proxy(format!("http://localhost:{}", proxy.port))
                .deadline(Some(Duration::from_secs(5))),
            true,
        ),
        (
            "proxy in code, with credentials",
            base(&ip).proxy(format!("http://user:p%40ss@127.0.0.1:{}", proxy.port)),
            true,
        ),
    ];
    let mut failures = Vec::new();
    let mut check = |name: &str, client: &Client, proxied: bool| {
        for endpoint in endpoints() {
            let tunnels = proxy.tunnels.load(Ordering::SeqCst);
            let before = sampler.take_peak();
            let result = (endpoint.call)(client);
            let peak = sampler.take_peak();
            if let Err(e) = result {
                failures.push(format!("{name} / {}: {e}", endpoint.name));
            }
            if peak > before {
                failures.push(format!(
                    "{name} / {}: {before} threads before, {peak} at the peak",
                    endpoint.name
                ));
            }
            if proxied && proxy.tunnels.load(Ordering::SeqCst) == tunnels {
                failures.push(format!(
                    "{name} / {}: did not go through the proxy",
                    endpoint.name
                ));
            }
        }
    };
    for (name, builder, proxied) in configurations {
        let client = builder.build().unwrap();
        check(name, &client, proxied);
        if name.contains("credentials") {
            // `user:p%40ss` is sent decoded, as `Basic base64("user:p@ss")`.
            assert_eq!(
                proxy.last_auth.lock().unwrap().as_deref(),
                Some("Basic dXNlcjpwQHNz")
            );
        }
    }
    check(
        "a cancel handle",
        &base(&named).build().unwrap().with_cancel(&cancel),
        false,
    );
    // The environment's proxy (the `NO_PROXY` of the machine is overridden, so the row is the same
    // everywhere). Set only now, read by this test alone.
    std::env::set_var("HTTP_PROXY", format!("http://localhost:{}", proxy.port));
    let from_env = Client::builder()
        .api_key(KEY)
        .base_url(&named)
        .retry_policy(RetryPolicy::none())
        .no_proxy("")
        .build()
        .unwrap();
    std::env::remove_var("HTTP_PROXY");
    check("proxy from HTTP_PROXY", &from_env, true);
    assert_eq!(
        proxy.last_auth.lock().unwrap().as_deref(),
        None,
        "the last proxied client sent no credentials"
    );

    drop(sampler);
    stop.store(true, Ordering::SeqCst);
    drop(proxy);
    server.join().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}
