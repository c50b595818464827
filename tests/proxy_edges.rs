//! Proxies at their edges. `NO_PROXY` / `no_proxy(…)` entries are read as curl reads them; review 4
//! found an IPv6 entry (`::1`) not matching the bracketed host of `http://[::1]:PORT` (ureq compares the
//! URL's host with its brackets), so the request went through the proxy: for an `http://` base URL, the
//! key in clear through it. (A bare name covering its subdomains is checked without DNS, in
//! `client::network`'s unit tests.) Upper-case schemes and a proxy at an IPv6 literal held.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::KEY;
use siliconflow::{Client, RetryPolicy};

/// A "proxy" that records the first line of each connection and closes it.
fn recording_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            record.lock().unwrap().push(line.trim().to_string());
        }
    });
    (port, seen)
}

fn client(base: &str, proxy_port: Option<u16>, no_proxy: Option<&str>) -> Client {
    let mut builder = Client::builder()
        .api_key(KEY)
        .base_url(base)
        .connect_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy::none());
    if let Some(port) = proxy_port {
        builder = builder.proxy(format!("http://127.0.0.1:{port}"));
    }
    if let Some(list) = no_proxy {
        builder = builder.no_proxy(list);
    }
    builder.build().unwrap()
}

/// `no_proxy("::1")` (curl compares the address without brackets): `http://[::1]:PORT` must go direct.
#[test]
fn no_proxy_ipv6_literal_matches_a_bracketed_host() {
    let Ok(server) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine: skipped");
        return;
    };
    let base = format!("http://[::1]:{}/v1", server.local_addr().unwrap().port());
    let direct = Arc::new(Mutex::new(0usize));
    {
        let direct = Arc::clone(&direct);
        std::thread::spawn(move || {
            for stream in server.incoming() {
                let Ok(stream) = stream else { break };
                *direct.lock().unwrap() += 1;
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
            }
        });
    }
    let (port, seen) = recording_proxy();
    let client = client(&base, Some(port), Some("localhost,::1"));
    let _ = client
        .with_deadline(Some(Duration::from_millis(500)))
        .list_models();
    std::thread::sleep(Duration::from_millis(100));
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.is_empty() && *direct.lock().unwrap() == 1,
        "no_proxy(\"::1\"), yet the request for [::1] went to the proxy: {seen:?} (direct: {})",
        direct.lock().unwrap()
    );
}

/// It held: upper-case schemes (RFC 3986 §3.1: case-insensitive) are accepted for the proxy and the base
/// URL (the `http` crate normalises them).
#[test]
fn upper_case_schemes_are_accepted() {
    let mut refused = Vec::new();
    let proxy = Client::builder()
        .api_key(KEY)
        .proxy("HTTP://127.0.0.1:3128")
        .build();
    if let Err(e) = proxy {
        refused.push(format!("proxy HTTP://127.0.0.1:3128: {e}"));
    }
    let base = Client::builder()
        .api_key(KEY)
        .base_url("HTTPS://api.siliconflow.cn/v1")
        .without_proxy()
        .build();
    if let Err(e) = base {
        refused.push(format!("base URL HTTPS://api.siliconflow.cn/v1: {e}"));
    }
    assert!(refused.is_empty(), "{refused:#?}");
}

/// It held: a proxy at an IPv6 literal is reached (brackets handled by the resolver).
#[test]
fn a_proxy_at_an_ipv6_literal_is_used() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine: skipped");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                seen.lock().unwrap().push(line.trim().to_string());
            }
        });
    }
    let client = Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9/v1")
        .proxy(format!("http://[::1]:{port}"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let _ = client
        .with_deadline(Some(Duration::from_millis(500)))
        .list_models();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(*seen.lock().unwrap(), ["CONNECT 127.0.0.1:9 HTTP/1.1"]);
}
