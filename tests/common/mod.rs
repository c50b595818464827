//! Test helpers: a raw TCP server for cases mockito cannot express, and small builders.
#![allow(dead_code)]

pub mod alloc;
pub mod checks;
pub mod endpoints;
pub mod proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;

use siliconflow::{ChatRequest, Client, Message};

pub const KEY: &str = "sk-test-KEY-0123456789-must-never-leak";

/// A client for `base` (`http://127.0.0.1:PORT/v1`) with the recognisable test key and no retries (the
/// retry tests set their own policy).
pub fn client(base: &str) -> Client {
    builder(base).build().expect("client")
}

/// A builder for `base` with the test key and no retries.
pub fn builder(base: &str) -> siliconflow::ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(base)
        .retry_policy(siliconflow::RetryPolicy::none())
}

pub fn request() -> ChatRequest {
    ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("你好")])
}

/// One `data:` event with a content delta for choice 0.
pub fn content_event(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

/// One `data:` event with a reasoning delta for choice 0.
pub fn reasoning_event(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": null, "reasoning_content": text}}]})
    )
}

/// The finish event of choice 0.
pub fn finish_event(reason: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    )
}

/// The request as the raw server saw it.
#[derive(Debug, Default, Clone)]
pub struct SeenRequest {
    pub head: String,
    pub body: Vec<u8>,
}

/// Reads one HTTP request (head and Content-Length body) from `reader`; `None` when the peer closed.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<SeenRequest> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(SeenRequest { head, body })
}

/// A raw server on 127.0.0.1 that accepts `connections` connections, reads one request on each, and
/// hands the request and the socket to `respond`. Returns the base URL and the thread (joined by the test
/// to collect what the server saw).
pub fn raw_server<F>(connections: usize, respond: F) -> (String, JoinHandle<Vec<SeenRequest>>)
where
    F: Fn(usize, &SeenRequest, &mut TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for n in 0..connections {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let Some(request) = read_request(&mut reader) else {
                continue;
            };
            let mut stream = stream;
            respond(n, &request, &mut stream);
            seen.push(request);
        }
        seen
    });
    (base, handle)
}

/// Like [`raw_server`], but each connection is answered on its own thread, so a slow answer does not
/// hold back the next connection.
pub fn raw_server_threaded<F>(connections: usize, respond: F) -> (String, JoinHandle<()>)
where
    F: Fn(usize, &SeenRequest, &mut TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let respond = std::sync::Arc::new(respond);
    let handle = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for n in 0..connections {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let respond = std::sync::Arc::clone(&respond);
            workers.push(std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                if let Some(request) = read_request(&mut reader) {
                    let mut stream = stream;
                    respond(n, &request, &mut stream);
                }
            }));
        }
        for worker in workers {
            let _ = worker.join();
        }
    });
    (base, handle)
}

/// Writes a status line and headers for an event stream of the given framing.
pub fn write_sse_head(stream: &mut TcpStream, framing: &str) {
    let framing = match framing {
        "chunked" => "Transfer-Encoding: chunked\r\n",
        _ => "Connection: close\r\n",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-siliconcloud-trace-id: raw-1\r\n{framing}\r\n"
    );
    let _ = stream.flush();
}

/// Writes `data` as one HTTP chunk; a client that hung up is not the server's failure.
pub fn write_chunk(stream: &mut TcpStream, data: &str) {
    let _ = write!(stream, "{:x}\r\n{data}\r\n", data.len());
    let _ = stream.flush();
}

/// The number of threads of this process (Linux).
pub fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim().parse().ok()))?
        })
        .unwrap_or(0)
}

/// A reader that returns at most the next size of `splits` (cycling) per read.
pub struct Split {
    data: Vec<u8>,
    pos: usize,
    splits: Vec<usize>,
    n: usize,
}

impl Read for Split {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let want = self.splits[self.n % self.splits.len()].max(1);
        self.n += 1;
        let len = want.min(out.len()).min(self.data.len() - self.pos);
        out[..len].copy_from_slice(&self.data[self.pos..self.pos + len]);
        self.pos += len;
        Ok(len)
    }
}

/// `data` behind a small `BufReader` whose reads are cut at `splits`.
pub fn split_reader(data: &[u8], splits: &[usize]) -> BufReader<Split> {
    BufReader::with_capacity(
        64,
        Split {
            data: data.to_vec(),
            pos: 0,
            splits: splits.to_vec(),
            n: 0,
        },
    )
}

/// The read splits every decoder case is run at: whole body, one byte, and irregular cuts.
pub const SPLITS: &[&[usize]] = &[
    &[usize::MAX],
    &[1],
    &[2],
    &[3, 1, 4, 1, 5, 9, 2, 6],
    &[7, 13, 1],
];

/// Writes a whole response with a `Content-Length` body and `Connection: close`.
pub fn write_response(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

/// A complete, short SSE answer ("ok"), close-delimited.
pub fn write_ok_stream(stream: &mut TcpStream) {
    write_sse_head(stream, "close");
    let body = content_event("ok") + &finish_event("stop") + "data: [DONE]\n\n";
    let _ = stream.write_all(body.as_bytes());
}

/// A server that serves `requests` requests in all, several per connection when the client reuses its
/// connection. `respond` answers request `n` and returns whether to keep the connection open. The thread
/// returns, for each request, the number of the connection it came on.
pub fn keepalive_server<F>(requests: usize, respond: F) -> (String, JoinHandle<Vec<usize>>)
where
    F: Fn(usize, &SeenRequest, &mut TcpStream) -> bool + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut connection = 0;
        while seen.len() < requests {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut stream = stream;
            while seen.len() < requests {
                let Some(request) = read_request(&mut reader) else {
                    break;
                };
                let keep = respond(seen.len(), &request, &mut stream);
                seen.push(connection);
                if !keep {
                    break;
                }
            }
            connection += 1;
        }
        seen
    });
    (base, handle)
}

/// The peak resident memory of this process, in KiB (Linux).
pub fn peak_rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Cancels `cancel` from another thread after `after`; the thread returns the instant it cancelled.
pub fn cancel_in(
    cancel: siliconflow::CancelHandle,
    after: std::time::Duration,
) -> JoinHandle<std::time::Instant> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let at = std::time::Instant::now();
        cancel.cancel();
        at
    })
}

/// The results of a completed batch whose output file is `file` (JSON lines, served as
/// `application/jsonl`), read through `resume_batch_job("b").results()` against a raw server.
pub fn batch_results(file: String) -> Vec<Result<siliconflow::BatchResult, siliconflow::Error>> {
    let answers = [
        (
            r#"{"id":"b","status":"completed","output_file_id":"file-out"}"#.to_string(),
            "application/json",
        ),
        (file, "application/jsonl"),
    ];
    let (base, server) = raw_server(2, move |n, _, stream| {
        let (body, kind) = &answers[n];
        write_response(stream, 200, &[("Content-Type", kind)], body);
    });
    let job = client(&base).resume_batch_job("b").expect("the batch");
    let results = job.results().collect();
    let _ = server.join();
    results
}
