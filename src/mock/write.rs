//! Sending a [`MockResponse`]: the head, the body in its framing and pacing, and the break-off.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::mock::response::{BreakPoint, Framing, Interruption, MockResponse};

/// How often a stalled connection looks whether its client left or the server is stopping.
const STALL_POLL: Duration = Duration::from_millis(20);

/// The server's stop signal: set once on drop; every pause and stall ends when it is.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    pub(crate) fn set(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits `delay` (a delay too long to reckon waits for the stop); `false` when the server began
    /// stopping instead.
    pub(crate) fn pause(&self, delay: Duration) -> bool {
        let end = Instant::now().checked_add(delay);
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            stopped = match end {
                Some(end) if now >= end => return true,
                Some(end) => {
                    self.wake
                        .wait_timeout(stopped, end - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .wake
                    .wait(stopped)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    KeepOpen,
    Close,
}

/// What the connection knows about the request being answered.
pub(crate) struct Exchange<'a> {
    /// The client allows another request on this connection.
    pub(crate) keep_alive: bool,
    /// A `HEAD` request: the head only.
    pub(crate) head_only: bool,
    /// The `x-siliconcloud-trace-id` to send unless the response sets one.
    pub(crate) trace_id: &'a str,
    pub(crate) stop: &'a Stop,
}

/// Sends `response` on `stream`, paced and broken off as it says.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    response: &MockResponse,
    exchange: &Exchange<'_>,
) -> io::Result<After> {
    if !exchange.stop.pause(response.parts.head_delay) {
        return Ok(After::Close);
    }
    let interruption = response.parts.interruption;
    if interruption.map(Interruption::point) == Some(BreakPoint::BeforeHead) {
        return interrupt(stream, interruption, exchange.stop);
    }
    let has_body = !exchange.head_only && !matches!(response.parts.status, 100..=199 | 204 | 304);
    let framing = response.parts.framing;
    let close = !exchange.keep_alive || framing == Framing::CloseDelimited;
    stream.write_all(render_head(response, exchange.trace_id, close).as_bytes())?;
    stream.flush()?;
    if !has_body {
        if interruption.is_some() {
            return interrupt(stream, interruption, exchange.stop);
        }
        return Ok(if close { After::Close } else { After::KeepOpen });
    }

    let chunked = framing == Framing::Chunked;
    let mut sent = 0usize;
    for (i, piece) in response.parts.pieces.iter().enumerate() {
        if i > 0 && !exchange.stop.pause(response.parts.event_delay) {
            return Ok(After::Close);
        }
        // How much of this piece goes out before the break point, if it falls in this piece.
        let part = match interruption.map(Interruption::point) {
            Some(BreakPoint::AfterEvents(n)) if i == n => Some(0),
            Some(BreakPoint::MidEvent(n)) if i == n => Some(piece.len() / 2),
            Some(BreakPoint::AfterBytes(n)) if sent + piece.len() > n => Some(n - sent),
            _ => None,
        };
        let Some(part) = part else {
            write_piece(
                stream,
                piece,
                chunked,
                response.parts.byte_delay,
                exchange.stop,
            )?;
            sent += piece.len();
            continue;
        };
        write_piece(
            stream,
            &piece[..part],
            chunked,
            response.parts.byte_delay,
            exchange.stop,
        )?;
        return interrupt(stream, interruption, exchange.stop);
    }
    if interruption.is_some() {
        // A break point at or past the end of the body: before a chunked body's last chunk.
        return interrupt(stream, interruption, exchange.stop);
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n")?;
        stream.flush()?;
    }
    Ok(if close { After::Close } else { After::KeepOpen })
}

/// The status line and headers. The framing header is left out when the response sets its own.
fn render_head(response: &MockResponse, trace_id: &str, close: bool) -> String {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.parts.status,
        reason(response.parts.status)
    );
    for (name, value) in &response.parts.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let has = |name: &str| response.header_value(name).is_some();
    if !has("x-siliconcloud-trace-id") {
        head.push_str(&format!("x-siliconcloud-trace-id: {trace_id}\r\n"));
    }
    if !has("content-length") && !has("transfer-encoding") {
        match response.parts.framing {
            Framing::ContentLength => {
                let length: usize = response.parts.pieces.iter().map(Vec::len).sum();
                head.push_str(&format!("Content-Length: {length}\r\n"));
            }
            Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
            Framing::CloseDelimited => {}
        }
    }
    if close && !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Writes one piece of the body (as one chunk when chunked), or byte by byte `byte_delay` apart.
fn write_piece(
    stream: &mut TcpStream,
    piece: &[u8],
    chunked: bool,
    byte_delay: Duration,
    stop: &Stop,
) -> io::Result<()> {
    if piece.is_empty() {
        // An empty chunk would end a chunked body.
        return Ok(());
    }
    let units: Vec<&[u8]> = if byte_delay.is_zero() {
        vec![piece]
    } else {
        piece.chunks(1).collect()
    };
    for (i, unit) in units.into_iter().enumerate() {
        if i > 0 && !stop.pause(byte_delay) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "server stopping",
            ));
        }
        let mut out = Vec::with_capacity(unit.len() + 12);
        if chunked {
            out.extend_from_slice(format!("{:x}\r\n", unit.len()).as_bytes());
        }
        out.extend_from_slice(unit);
        if chunked {
            out.extend_from_slice(b"\r\n");
        }
        stream.write_all(&out)?;
        stream.flush()?;
    }
    Ok(())
}

/// Cuts or stalls the connection; either way it is not reused.
fn interrupt(
    stream: &mut TcpStream,
    interruption: Option<Interruption>,
    stop: &Stop,
) -> io::Result<After> {
    stream.flush()?;
    match interruption {
        Some(Interruption::Stall(_)) => stall(stream, stop),
        _ => {
            let _ = stream.shutdown(Shutdown::Write);
        }
    }
    Ok(After::Close)
}

/// Holds the connection open, reading and dropping what the client sends, until it closes the
/// connection or the server stops.
fn stall(stream: &mut TcpStream, stop: &Stop) {
    if stream.set_read_timeout(Some(STALL_POLL)).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while !stop.is_set() {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_pause_ends_when_the_server_stops_even_an_endless_one() {
        let stop = Arc::new(Stop::default());
        assert!(stop.pause(Duration::from_millis(1)));
        let setter = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            setter.set();
        });
        assert!(!stop.pause(Duration::MAX));
        assert!(!stop.pause(Duration::ZERO));
        thread.join().unwrap();
    }

    #[test]
    fn heads_carry_the_framing_unless_the_response_sets_its_own() {
        let chunked = MockResponse::sse(vec![]);
        let head = render_head(&chunked, "t-1", false);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("Transfer-Encoding: chunked\r\n"));
        assert!(head.contains("x-siliconcloud-trace-id: t-1\r\n"));
        assert!(!head.contains("Connection"));
        let lying = MockResponse::text("abc")
            .header("Content-Length", "99")
            .status(299);
        let head = render_head(&lying, "t", true);
        assert!(head.starts_with("HTTP/1.1 299 Status\r\n"));
        assert!(head.contains("Content-Length: 99\r\n") && !head.contains("Content-Length: 3"));
        assert!(head.ends_with("Connection: close\r\n\r\n"));
    }
}
