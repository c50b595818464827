//! HTTPS on loopback: a rustls server with a certificate from a private test CA (`tests/tls/`, valid from
//! 2020 to 2120). The client trusts it only when given the CA (`root_certificates_pem`); streams, `[DONE]`
//! and connection reuse, cancellation, the deadline and a CONNECT proxy all work over TLS.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cancel_in, content_event, finish_event, proxy, request, KEY};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use siliconflow::{CancelHandle, Client, Error, RetryPolicy, StreamEnd, TimeoutKind};

const CA: &[u8] = include_bytes!("tls/ca.pem");

fn server_config() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(include_bytes!("tls/server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("tls/server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// What the TLS server does with each request on a connection.
#[derive(Clone, Copy)]
enum Answer {
    /// A whole stream, chunked, with the end of the body right after `[DONE]`.
    Stream,
    /// One event, then nothing for 3 s.
    Stall,
}

/// An HTTPS server on 127.0.0.1 answering `connections` connections (keep-alive: many requests each).
/// Returns the port, the number of requests served, and the thread.
fn tls_server(
    connections: usize,
    answer: Answer,
) -> (u16, Arc<AtomicUsize>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let config = server_config();
    let count = served.clone();
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            serve(rustls::StreamOwned::new(connection, tcp), answer, &count);
        }
    });
    (port, served, handle)
}

/// Answers requests on one TLS connection until the client closes it.
fn serve(
    mut tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    answer: Answer,
    count: &AtomicUsize,
) {
    loop {
        // The request head, then its Content-Length body.
        let mut reader = BufReader::new(&mut tls);
        let mut length = 0usize;
        // The key arrives whole through TLS (the client gives ureq a placeholder and puts the key in its
        // place above TLS, as the head is sent).
        let mut authorized = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if name.eq_ignore_ascii_case("authorization") {
                    authorized = value.trim() == format!("Bearer {KEY}");
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() || !authorized {
            return;
        }
        count.fetch_add(1, Ordering::SeqCst);
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nx-siliconcloud-trace-id: tls-1\r\n\r\n";
        let chunk = |data: &str| format!("{:x}\r\n{data}\r\n", data.len());
        match answer {
            Answer::Stream => {
                let events = content_event("secure") + &finish_event("stop") + "data: [DONE]\n\n";
                let out = format!("{head}{}0\r\n\r\n", chunk(&events));
                if tls
                    .write_all(out.as_bytes())
                    .and_then(|()| tls.flush())
                    .is_err()
                {
                    return;
                }
            }
            Answer::Stall => {
                let out = format!("{head}{}", chunk(&content_event("partial")));
                let _ = tls.write_all(out.as_bytes()).and_then(|()| tls.flush());
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
        }
    }
}

fn builder(port: u16) -> siliconflow::ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(format!("https://localhost:{port}/v1"))
        .retry_policy(RetryPolicy::none())
        .without_proxy()
}

#[test]
fn a_private_root_is_trusted_only_when_given_and_streams_reuse_the_connection() {
    // Without the CA the handshake fails: a connect error, nothing sent.
    let (port, served, server) = tls_server(1, Answer::Stream);
    let error = builder(port)
        .build()
        .unwrap()
        .chat_stream(&request())
        .unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(served.load(Ordering::SeqCst), 0);
    // The server's accept loop waits for a second connection that never comes: end it.
    let _ = TcpStream::connect(("127.0.0.1", port));
    let _ = server.join();

    let (port, served, server) = tls_server(1, Answer::Stream);
    let client = builder(port).root_certificates_pem(CA).build().unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let mut stream = client.chat_stream(&request()).unwrap();
        assert!(stream.by_ref().all(|d| d.is_ok()));
        assert_eq!(stream.content(), "secure");
        assert_eq!(stream.end(), Some(StreamEnd::Done));
        assert_eq!(stream.request_id(), Some("tls-1"));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
    // Three requests, one connection: the end of each body was read after `[DONE]` over TLS.
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert_eq!(client.connections_opened(), 1);
    drop(client);
    server.join().unwrap();
}

#[test]
fn cancel_and_deadline_end_a_stalled_tls_stream_promptly() {
    let (port, _, server) = tls_server(1, Answer::Stall);
    let cancel = CancelHandle::new();
    let client = builder(port)
        .root_certificates_pem(CA)
        .build()
        .unwrap()
        .with_cancel(&cancel);
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("partial")
    );
    let canceller = cancel_in(cancel, Duration::from_millis(200));
    let error = stream.next().unwrap().unwrap_err();
    let at = canceller.join().unwrap();
    assert!(matches!(error, Error::Cancelled), "{error:?}");
    assert!(at.elapsed() < Duration::from_millis(100));
    drop(stream);
    server.join().unwrap();

    let (port, _, server) = tls_server(1, Answer::Stall);
    let deadline = Duration::from_millis(700);
    let client = builder(port)
        .root_certificates_pem(CA)
        .deadline(Some(deadline))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    let error = stream.by_ref().find_map(Result::err).unwrap();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Deadline)),
        "{error:?}"
    );
    assert!(
        start.elapsed() < deadline + Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    drop(stream);
    server.join().unwrap();
}

#[test]
fn https_through_a_connect_proxy() {
    let (port, served, server) = tls_server(1, Answer::Stream);
    let proxy = proxy::start();
    let client = builder(port)
        .root_certificates_pem(CA)
        .proxy(format!("http://127.0.0.1:{}", proxy.port))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|d| d.is_ok()));
    assert_eq!(stream.content(), "secure");
    assert_eq!(proxy.tunnels.load(Ordering::SeqCst), 1);
    assert_eq!(served.load(Ordering::SeqCst), 1);
    drop(stream);
    drop(client);
    drop(proxy);
    server.join().unwrap();
}
