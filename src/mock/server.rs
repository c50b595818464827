//! The accept loop and the connection loop: one thread per connection, requests read one after the
//! other (keep-alive), each answered from the script.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::mock::request::{read_body, read_head, Limits, Parsed, ReceivedRequest, Rejection};
use crate::mock::response::MockResponse;
use crate::mock::write::{reason, write_response, After, Exchange, Stop};

/// A handler: the answer to a request nothing queued answers.
pub(crate) type Handler = dyn Fn(&ReceivedRequest) -> MockResponse + Send + Sync + 'static;

/// How long a write may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// After refusing a request, the most bytes of it read and dropped so that the client can finish
/// sending and read the refusal, and for how long.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// The read buffer of a connection.
const READ_BUFFER: usize = 16 * 1024;

/// A queued response and the route it is for (`None`: any request).
pub(crate) struct Scripted {
    pub(crate) route: Option<(String, String)>,
    pub(crate) response: MockResponse,
}

impl Scripted {
    fn answers(&self, request: &ReceivedRequest) -> bool {
        match &self.route {
            Some((method, path)) => request.is(method, path),
            None => true,
        }
    }
}

/// A connection being served: its thread, and a handle on its socket to shut it down on stop.
pub(crate) struct Live {
    pub(crate) thread: JoinHandle<()>,
    pub(crate) socket: TcpStream,
}

/// The settings of a server, fixed when it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) limits: Limits,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) record: bool,
}

/// What the server's threads share with the [`MockServer`](crate::mock::MockServer) handle.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) queue: Mutex<VecDeque<Scripted>>,
    pub(crate) handler: Mutex<Option<Arc<Handler>>>,
    pub(crate) requests: Mutex<Vec<ReceivedRequest>>,
    pub(crate) connections: AtomicUsize,
    pub(crate) rejected: AtomicUsize,
    pub(crate) responses: AtomicU64,
    pub(crate) stop: Stop,
    pub(crate) live: Mutex<Vec<Live>>,
}

/// Locks a mutex, also after a panic elsewhere (the data stays consistent: every critical section
/// here is a push, a remove or a clone).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(settings: Settings, handler: Option<Arc<Handler>>) -> Shared {
        Shared {
            settings,
            queue: Mutex::new(VecDeque::new()),
            handler: Mutex::new(handler),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            responses: AtomicU64::new(0),
            stop: Stop::default(),
            live: Mutex::new(Vec::new()),
        }
    }

    /// The first queued response for this request, else the handler's answer, else a 404 saying
    /// nothing was scripted.
    fn respond(&self, request: &ReceivedRequest) -> MockResponse {
        {
            let mut queue = lock(&self.queue);
            if let Some(at) = queue.iter().position(|s| s.answers(request)) {
                if let Some(scripted) = queue.remove(at) {
                    return scripted.response;
                }
            }
        }
        let handler = lock(&self.handler).clone();
        match handler {
            // A panicking handler answers 500 instead of taking the connection down unanswered.
            Some(handler) => {
                catch_unwind(AssertUnwindSafe(|| handler(request))).unwrap_or_else(|_| {
                    MockResponse::text("the mock server's handler panicked").status(500)
                })
            }
            None => MockResponse::text(format!(
                "no response scripted for {} {} (siliconflow::mock)",
                request.method, request.path
            ))
            .status(404),
        }
    }

    fn next_trace_id(&self) -> String {
        format!(
            "mock-{}",
            self.responses.fetch_add(1, Ordering::Relaxed) + 1
        )
    }
}

/// Accepts connections until the server stops, serving each on a thread of its own.
pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.is_set() {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, for example: back off instead of spinning.
            Err(_) => {
                if !shared.stop.pause(Duration::from_millis(20)) {
                    return;
                }
                continue;
            }
        };
        let number = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let mut live = lock(&shared.live);
        // Forget the connections that ended: their threads have returned.
        live.retain(|connection| !connection.thread.is_finished());
        if live.len() >= shared.settings.max_connections {
            continue; // Dropped: the client sees the connection closed.
        }
        let Ok(socket) = stream.try_clone() else {
            continue;
        };
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("mock-connection-{number}"))
            .spawn(move || serve(stream, number, &for_thread));
        // A failed spawn drops the connection: the client sees it closed.
        if let Ok(thread) = spawned {
            live.push(Live { thread, socket });
        }
    }
}

/// Answers requests on one connection until either side closes it.
fn serve(stream: TcpStream, number: usize, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(shared.settings.idle_timeout));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let (Ok(server), Ok(read_half)) = (stream.local_addr(), stream.try_clone()) else {
        return;
    };
    let mut reader = BufReader::with_capacity(READ_BUFFER, read_half);
    let mut writer = stream;
    while !shared.stop.is_set() {
        match serve_one(&mut reader, &mut writer, number, server, shared) {
            Ok(After::KeepOpen) => {}
            Ok(After::Close) | Err(_) => break,
        }
    }
    // Close it now: the server's own handle on the socket (kept to stop it) would hold it open.
    let _ = writer.shutdown(Shutdown::Both);
}

/// Reads one request and answers it.
fn serve_one(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    number: usize,
    server: SocketAddr,
    shared: &Shared,
) -> io::Result<After> {
    let limits = &shared.settings.limits;
    let head = match read_head(reader, limits)? {
        Parsed::Got(head) => head,
        Parsed::Closed => return Ok(After::Close),
        Parsed::Rejected(rejection) => return refuse(reader, writer, rejection, shared),
    };
    if head.expects_continue {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let body = match read_body(reader, head.body, limits)? {
        Parsed::Got(body) => body,
        Parsed::Closed => return Ok(After::Close),
        Parsed::Rejected(rejection) => return refuse(reader, writer, rejection, shared),
    };
    let request = ReceivedRequest {
        method: head.method,
        path: head.path,
        query: head.query,
        version: head.version,
        headers: head.headers,
        body,
        connection: number,
        server,
    };
    if shared.settings.record {
        lock(&shared.requests).push(request.clone());
    }
    let response = shared.respond(&request);
    let trace_id = shared.next_trace_id();
    let exchange = Exchange {
        keep_alive: request.keep_alive(),
        head_only: request.method.eq_ignore_ascii_case("HEAD"),
        trace_id: &trace_id,
        stop: &shared.stop,
    };
    write_response(writer, &response, &exchange)
}

/// Answers a request the server will not read (`400`, `413`, `431`, …) and closes the connection,
/// first reading and dropping (within bounds) what the client is still sending, so that it can finish
/// its request and read the answer instead of meeting a reset.
fn refuse(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    rejection: Rejection,
    shared: &Shared,
) -> io::Result<After> {
    shared.rejected.fetch_add(1, Ordering::Relaxed);
    let status = rejection.status;
    let response = MockResponse::text(format!("{status} {}", reason(status))).status(status);
    let trace_id = shared.next_trace_id();
    let exchange = Exchange {
        keep_alive: false,
        head_only: false,
        trace_id: &trace_id,
        stop: &shared.stop,
    };
    write_response(writer, &response, &exchange)?;
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let mut sink = vec![0u8; 64 * 1024];
    let mut drained = 0u64;
    while drained < DRAIN_BYTES && started.elapsed() < DRAIN_TIME && !shared.stop.is_set() {
        match reader.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    Ok(After::Close)
}
