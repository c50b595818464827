//! An offline HTTP/1.1 server on `127.0.0.1` that plays SiliconFlow for your own tests (feature
//! `mock-server`, off by default).
//!
//! [`MockServer::start`] binds an ephemeral port and returns at once; [`MockServer::base_url`] is the
//! `http://127.0.0.1:PORT/v1` to give a [`Client`](crate::Client). What it answers is scripted:
//!
//! - a queue of [`MockResponse`]s consumed in order ([`MockServer::enqueue`]), optionally per method and
//!   path ([`MockServer::enqueue_for`]);
//! - and/or a handler closure `Fn(&ReceivedRequest) -> MockResponse` for dynamic answers
//!   ([`MockServer::with_handler`]), consulted when no queued response fits;
//! - a request nothing answers gets a `404` saying so.
//!
//! A response is a JSON, text or binary body with any status and headers, or an event stream built from
//! [`SseEvent`]s or replayed from a recording in the `tests/wire/*.sse` format
//! ([`MockResponse::sse_recorded`], [`MockResponse::sse_file`]); SiliconFlow's error bodies have helpers
//! ([`MockResponse::model_not_found`], [`invalid_token`](MockResponse::invalid_token),
//! [`rate_limited`](MockResponse::rate_limited), [`overloaded`](MockResponse::overloaded)). It can be
//! paced (a delay before the head, between events, per byte), framed as you choose ([`Framing`]), cut or
//! stalled at any [`BreakPoint`].
//!
//! Every request is recorded ([`MockServer::requests`]: method, path, query, headers, body, and which
//! connection it came on), readable while the server runs and after; [`MockServer::connections`] counts
//! the connections accepted, to check keep-alive reuse. The server reads keep-alive connections,
//! `Content-Length` and chunked request bodies and `Expect: 100-continue`, bounds every line, the header
//! count and the body (`413`, `431` and `400` answers, never an allocation a client can grow at will), and
//! does not panic on anything a client sends.
//!
//! **Threads.** The server is test tooling, not the client: it accepts on a thread of its own and serves
//! each connection on another. Dropping the [`MockServer`] stops it and joins every one of them (stalls
//! and pauses end at once). The [`Client`](crate::Client) itself never spawns a thread.
//!
//! # Example
//!
//! ```
//! use serde_json::json;
//! use siliconflow::mock::{MockResponse, MockServer, SseEvent};
//! use siliconflow::{ChatRequest, Client, Message};
//!
//! let server = MockServer::start()?;
//! let chunk = |text: &str, finish: Option<&str>| {
//!     SseEvent::json(&json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}))
//! };
//! server.enqueue(MockResponse::sse(vec![
//!     chunk("Hello", None),
//!     SseEvent::comment("keep-alive"),
//!     chunk(" from the mock", Some("stop")),
//!     SseEvent::done(),
//! ]));
//!
//! let client = Client::builder().api_key("sk-test").base_url(server.base_url()).build()?;
//! let request = ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("Hi")]);
//! let mut stream = client.chat_stream(&request)?;
//! for delta in &mut stream {
//!     delta?;
//! }
//! assert_eq!(stream.content(), "Hello from the mock");
//!
//! let sent = server.requests();
//! assert!(sent[0].is("POST", "/v1/chat/completions"));
//! assert_eq!(sent[0].bearer_token(), Some("sk-test"));
//! assert_eq!(sent[0].json().unwrap()["stream"], true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A handler answers by route, and can keep state of its own:
//!
//! ```
//! use serde_json::json;
//! use siliconflow::mock::{MockResponse, MockServer};
//! use siliconflow::Client;
//!
//! let server = MockServer::with_handler(|request| {
//!     if request.is("GET", "/v1/models") {
//!         MockResponse::json(json!({"object": "list", "data": [{"id": "Qwen/Qwen3-8B", "object": "model"}]}))
//!     } else {
//!         MockResponse::not_found()
//!     }
//! })?;
//! let client = Client::builder().api_key("sk-test").base_url(server.base_url()).build()?;
//! assert_eq!(client.list_models()?.ids().collect::<Vec<_>>(), ["Qwen/Qwen3-8B"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod multipart;
mod request;
mod response;
mod server;
mod write;

pub use multipart::FormPart;
pub use request::ReceivedRequest;
pub use response::{BreakPoint, Framing, MockResponse, SseEvent};

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use request::Limits;
use server::{accept_loop, lock, Handler, Scripted, Settings, Shared};

/// The default bound on one request line or header line, in bytes.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;
/// The default bound on the number of header lines of one request.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// The default bound on one request body, in bytes (after de-chunking).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// A scripted HTTP/1.1 server on `127.0.0.1:<ephemeral port>`; stops (and joins its threads) on drop.
///
/// See the [module documentation](self) for an example.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`MockServer`]: a handler, bounds, recording. [`MockServer::builder`] makes one.
///
/// ```
/// use siliconflow::mock::{MockResponse, MockServer};
///
/// let server = MockServer::builder()
///     .max_body_size(1024 * 1024)
///     .handler(|_| MockResponse::overloaded())
///     .start()?;
/// # let _ = server;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MockServerBuilder {
    settings: Settings,
    handler: Option<Arc<Handler>>,
}

impl std::fmt::Debug for MockServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServerBuilder")
            .field("settings", &self.settings)
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            settings: Settings {
                limits: Limits {
                    max_line: DEFAULT_MAX_LINE,
                    max_headers: DEFAULT_MAX_HEADERS,
                    max_body: DEFAULT_MAX_BODY,
                },
                idle_timeout: Duration::from_secs(60),
                max_connections: 256,
                record: true,
            },
            handler: None,
        }
    }
}

impl MockServerBuilder {
    /// The answer to every request that no queued response answers.
    #[must_use]
    pub fn handler(
        mut self,
        handler: impl Fn(&ReceivedRequest) -> MockResponse + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The largest request body accepted (default [`DEFAULT_MAX_BODY`]); a larger one is answered
    /// `413` without being kept.
    #[must_use]
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.settings.limits.max_body = bytes;
        self
    }

    /// The longest request line or header line accepted (default [`DEFAULT_MAX_LINE`]); a longer one
    /// is answered `431`.
    #[must_use]
    pub fn max_line_size(mut self, bytes: usize) -> Self {
        self.settings.limits.max_line = bytes.max(16);
        self
    }

    /// The most header lines accepted (default [`DEFAULT_MAX_HEADERS`]); more are answered `431`.
    #[must_use]
    pub fn max_headers(mut self, count: usize) -> Self {
        self.settings.limits.max_headers = count;
        self
    }

    /// How long a connection may wait for its next request before the server closes it (default 60 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections served at once (default 256); more are closed as soon as accepted.
    #[must_use]
    pub fn max_connections(mut self, count: usize) -> Self {
        self.settings.max_connections = count.max(1);
        self
    }

    /// Whether requests are recorded for [`MockServer::requests`] (default on). A long-running demo
    /// turns it off so memory does not grow with every request.
    #[must_use]
    pub fn record_requests(mut self, record: bool) -> Self {
        self.settings.record = record;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub fn start(self) -> io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.settings, self.handler));
        let for_thread = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name(format!("mock-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(MockServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }
}

impl MockServer {
    /// Starts a server with default settings and nothing scripted yet.
    pub fn start() -> io::Result<MockServer> {
        MockServerBuilder::default().start()
    }

    /// Starts a server that answers with `handler` whatever no queued response answers.
    pub fn with_handler(
        handler: impl Fn(&ReceivedRequest) -> MockResponse + Send + Sync + 'static,
    ) -> io::Result<MockServer> {
        MockServerBuilder::default().handler(handler).start()
    }

    /// Settings beyond the defaults: bounds, recording, a handler.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The URL of `path` on this server (`url("/v1/models")`): for requests the client does not make.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a response for the next request that no earlier queued response answers.
    pub fn enqueue(&self, response: MockResponse) {
        lock(&self.shared.queue).push_back(Scripted {
            route: None,
            response,
        });
    }

    /// Queues a response for the next request with this method and path (`"POST"`,
    /// `"/v1/chat/completions"`; the path without the query).
    pub fn enqueue_for(&self, method: &str, path: &str, response: MockResponse) {
        lock(&self.shared.queue).push_back(Scripted {
            route: Some((method.to_string(), path.to_string())),
            response,
        });
    }

    /// How many queued responses have not been sent yet.
    pub fn pending(&self) -> usize {
        lock(&self.shared.queue).len()
    }

    /// Replaces the handler (for the requests that arrive from now on).
    pub fn set_handler(
        &self,
        handler: impl Fn(&ReceivedRequest) -> MockResponse + Send + Sync + 'static,
    ) {
        *lock(&self.shared.handler) = Some(Arc::new(handler));
    }

    /// Every request received so far, in the order their bodies were complete (recorded before they
    /// are answered).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// The last request received, if any.
    pub fn last_request(&self) -> Option<ReceivedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// How many connections the server accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many requests the server refused itself (too large, malformed) without consulting the
    /// script; they are not in [`MockServer::requests`].
    pub fn rejected(&self) -> usize {
        self.shared.rejected.load(Ordering::Relaxed)
    }
}

impl MockServer {
    /// Stops the server (as dropping it does) and returns every request it recorded.
    ///
    /// ```
    /// use siliconflow::mock::{MockResponse, MockServer};
    ///
    /// let server = MockServer::with_handler(|_| MockResponse::not_found())?;
    /// let client = siliconflow::Client::builder().api_key("sk-test").base_url(server.base_url()).build()?;
    /// assert!(client.list_models().is_err());
    /// let requests = server.stop();
    /// assert_eq!(requests.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(mut self) -> Vec<ReceivedRequest> {
        self.stop_threads();
        std::mem::take(&mut *lock(&self.shared.requests))
    }

    /// Stops accepting, ends every pause and stall, shuts every connection down and joins the threads
    /// (a handler still running is waited for). Idempotent.
    fn stop_threads(&mut self) {
        self.shared.stop.set();
        if let Some(acceptor) = self.acceptor.take() {
            // Wake the accept loop, which checks the stop signal after every accept. Should that fail,
            // it stays blocked in accept, detached, rather than hanging the caller.
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok() {
                let _ = acceptor.join();
            }
        }
        let live = std::mem::take(&mut *lock(&self.shared.live));
        for connection in &live {
            let _ = connection.socket.shutdown(std::net::Shutdown::Both);
        }
        for connection in live {
            let _ = connection.thread.join();
        }
    }
}

impl Drop for MockServer {
    /// Stops the server and joins its threads (see [`MockServer::stop`]).
    fn drop(&mut self) {
        self.stop_threads();
    }
}
