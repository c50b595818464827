//! The loopback server: std only, a thread per connection, the body written in 64 KiB slices.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::body::{
    content_delta, push_event, push_http_chunk, reasoning_delta, Body, DONE_EVENT, FINISH_DELTA,
    ROLE_DELTA,
};

// ---- The loopback server ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Framing {
    Chunked,
    Close,
}

impl Framing {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Framing::Chunked => "chunked",
            Framing::Close => "close",
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Paced {
    pub(crate) events: u64,
    pub(crate) interval: Duration,
}

pub(crate) struct ServerState {
    pub(crate) body: Body,
    /// The short and the long stream of the scale benchmark (models `scale-short`, `scale-long`).
    pub(crate) scale_short: Body,
    pub(crate) scale_long: Body,
    pub(crate) paced: Paced,
    /// The clock both sides measure latency against.
    pub(crate) base: Instant,
}

/// Starts the server; every connection gets a thread. Paths:
/// `/{chunked|close}/{bulk|paced|scale}/v1/...`; the scale benchmark's model (`scale-short`, `scale-long`)
/// picks its stream.
pub(crate) fn start_server(state: Arc<ServerState>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(connection) = connection else { continue };
            let state = Arc::clone(&state);
            thread::spawn(move || {
                // A client that stops reading after `[DONE]` may reset the connection: not an error here.
                let _ = serve(connection, &state);
            });
        }
    });
    addr
}

/// Answers requests on one connection until the client closes it (chunked responses keep it alive).
pub(crate) fn serve(connection: TcpStream, state: &ServerState) -> io::Result<()> {
    connection.set_nodelay(true)?;
    let mut reader = BufReader::new(connection.try_clone()?);
    let mut writer = connection;
    let mut line = Vec::new();
    loop {
        // The request line, the headers, then exactly Content-Length bytes of body.
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let request_line = String::from_utf8_lossy(&line).into_owned();
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut content_length = 0usize;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let header = String::from_utf8_lossy(&line);
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut request_body = vec![0; content_length];
        reader.read_exact(&mut request_body)?;

        let framing = if path.starts_with("/chunked/") {
            Framing::Chunked
        } else {
            Framing::Close
        };
        let head: &[u8] = match framing {
            Framing::Chunked => {
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                  Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
            }
            Framing::Close => {
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                  Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
            }
        };
        writer.write_all(head)?;
        if path.contains("/paced/") {
            serve_paced(&mut writer, framing, state)?;
        } else {
            // The scale benchmark names the stream it wants in the model.
            let model = |name: &[u8]| request_body.windows(name.len()).any(|w| w == name);
            let body = if model(b"\"scale-short\"") {
                &state.scale_short
            } else if model(b"\"scale-long\"") {
                &state.scale_long
            } else {
                &state.body
            };
            let bytes = match framing {
                Framing::Chunked => &body.chunked,
                Framing::Close => &body.plain,
            };
            for piece in bytes.chunks(64 * 1024) {
                writer.write_all(piece)?;
            }
        }
        if framing == Framing::Close {
            writer.flush()?;
            return writer.shutdown(Shutdown::Both);
        }
    }
}

/// A short stream whose text deltas are the server's send time (ns since `base`), one event per write.
pub(crate) fn serve_paced(
    writer: &mut TcpStream,
    framing: Framing,
    state: &ServerState,
) -> io::Result<()> {
    let mut event = Vec::with_capacity(1024);
    let mut frame = Vec::with_capacity(1024);
    let mut send = |event: &mut Vec<u8>, writer: &mut TcpStream| -> io::Result<()> {
        let bytes = match framing {
            Framing::Chunked => {
                frame.clear();
                push_http_chunk(&mut frame, event);
                &frame[..]
            }
            Framing::Close => &event[..],
        };
        writer.write_all(bytes)?;
        event.clear();
        Ok(())
    };
    let Paced { events, interval } = state.paced;
    let reasoning = events / 2;
    push_event(&mut event, ROLE_DELTA, "null", 0, None);
    send(&mut event, writer)?;
    let start = Instant::now();
    for i in 0..events {
        let due = start + interval * (i as u32 + 1);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let sent = state.base.elapsed().as_nanos().to_string();
        let completion = i + 1;
        if i < reasoning {
            let delta = reasoning_delta(&sent);
            push_event(&mut event, &delta, "null", completion, Some(completion));
        } else {
            let delta = content_delta(&sent);
            push_event(&mut event, &delta, "null", completion, Some(reasoning));
        }
        send(&mut event, writer)?;
    }
    push_event(
        &mut event,
        FINISH_DELTA,
        "\"stop\"",
        events,
        Some(reasoning),
    );
    send(&mut event, writer)?;
    event.extend_from_slice(DONE_EVENT);
    send(&mut event, writer)?;
    if framing == Framing::Chunked {
        writer.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}
