//! The mock server never panics on what a client sends (README: "never panics on bad input"): malformed
//! framing, odd lengths and chunk sizes, invalid UTF-8, broken multipart bodies. (Written by review 3; it
//! held.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use siliconflow::mock::{MockResponse, MockServer};

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn inputs() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello".to_vec(),
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
        b"POST /?%ff%fe=%e4%b8 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\na\r\n0\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;\"\r\na\r\n0\r\nx\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n".to_vec(),
        b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nHEAD / HTTP/1.0\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
        b"\r\n\r\n\r\nGET /\xc3 HTTP/1.1\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\n: empty\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\rX: y\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=\"\\\r\nContent-Length: 10\r\n\r\n--\\\r\n\r\n--".to_vec(),
        b"POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 44\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nContent-Type: multipart/form-data;boundary=b;boundary\r\nContent-Length: 5\r\n\r\n--b--".to_vec(),
    ];
    // Pseudo-random bytes around an HTTP head.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: &[u8] = b"GETPOST /?%:;=\"\\\r\n0123456789abcdefABCDEF-+,HTTP/1.1chunkedContent-LengthTransfer-Encoding\xff\xc3";
    for _ in 0..300 {
        let len = (next() % 200) as usize;
        let mut v = b"POST /v1/x?a=%4 HTTP/1.1\r\n".to_vec();
        for _ in 0..len {
            v.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        out.push(v);
    }
    out
}

#[test]
fn hostile_requests_do_not_panic_the_mock_server() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let server = MockServer::with_handler(|request| {
        // What a handler typically does with a request.
        let _ = request.query_param("a");
        let _ = request.multipart();
        let _ = request.json();
        let _ = request.bearer_token();
        MockResponse::text("ok")
    })
    .unwrap();
    let addr = server
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    for input in inputs() {
        let mut socket = TcpStream::connect(&addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let _ = socket.write_all(&input);
        let _ = socket.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = socket.read_to_end(&mut sink);
    }
    drop(server);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the mock server panicked");
}
