//! [`Client`] and [`ClientBuilder`]: configuration, and the one place that sends HTTP requests.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::http::header::{ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE};
use ureq::http::{HeaderName, HeaderValue, Response};
use ureq::RequestBuilder;

use crate::body::{map_io_error, ResponseBody};
use crate::chat::{ChatCompletion, ChatRequest, ChatStream};
use crate::error::{ApiError, DeadlineExceeded, Error, Redactor, TimeoutKind, MAX_ERROR_BODY};
use crate::retry::{parse_http_date, RetryPolicy};
use crate::sse::{SseDecoder, DEFAULT_MAX_EVENT_SIZE};

/// SiliconFlow's API base URL, the default.
pub const DEFAULT_BASE_URL: &str = "https://api.siliconflow.cn/v1";

/// The environment variable [`Client::from_env`] reads the API key from.
pub const API_KEY_ENV: &str = "SILICONFLOW_API_KEY";

/// The environment variable [`Client::from_env`] reads an optional base URL from.
pub const BASE_URL_ENV: &str = "SILICONFLOW_BASE_URL";

/// Default connect timeout (TCP and TLS): 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time from sending a request to its response headers: 10 minutes, long enough for a slow
/// non-streamed reasoning answer.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default longest silence between two reads of a streamed body: 2 minutes. A healthy stream sends tokens
/// (or keep-alive comments) far more often, however long it runs in total; a stalled one fails after this.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone)]
struct Secret(HeaderValue);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A blocking client for SiliconFlow's OpenAI-compatible API, or any server that speaks the same protocol.
///
/// Cheap to clone and `Send + Sync`: every clone shares one connection pool, so a program can run many
/// streams from its own threads. The client itself never spawns a thread.
///
/// ```no_run
/// use siliconflow::{ChatRequest, Client, Message};
///
/// let client = Client::from_env()?; // SILICONFLOW_API_KEY, optional SILICONFLOW_BASE_URL
/// let request = ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("你好")]);
/// let mut stream = client.chat_stream(&request)?;
/// for delta in &mut stream {
///     let delta = delta?;
///     if let Some(text) = &delta.reasoning_content {
///         print!("{text}");
///     }
///     if let Some(text) = &delta.content {
///         print!("{text}");
///     }
/// }
/// println!("\n{} reasoning bytes, {} answer bytes", stream.reasoning_content().len(), stream.content().len());
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    settings: Settings,
}

/// What every clone shares: the connection pool and the identity.
struct Shared {
    agent: ureq::Agent,
    authorization: Secret,
    redactor: Redactor,
    base_url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// What a clone may change for its own requests ([`Client::with_deadline`] and friends).
#[derive(Debug, Clone)]
struct Settings {
    connect_timeout: Duration,
    response_timeout: Duration,
    idle_timeout: Option<Duration>,
    deadline: Option<Duration>,
    retry: RetryPolicy,
    max_event_size: usize,
    max_accumulated_size: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            deadline: None,
            retry: RetryPolicy::default(),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_accumulated_size: None,
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("Client")
            .field("base_url", &shared.base_url)
            .field("api_key", &shared.authorization)
            .field(
                "headers",
                &shared.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use siliconflow::Client;
///
/// let client = Client::builder()
///     .api_key("sk-example")
///     .base_url("http://127.0.0.1:11434/v1") // Ollama, vLLM, DeepSeek, OpenAI, …
///     .idle_timeout(Some(Duration::from_secs(60)))
///     .header("x-team", "research")
///     .build()?;
/// assert!(!format!("{client:?}").contains("sk-example"));
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    user_agent: String,
    headers: Vec<(String, String)>,
    settings: Settings,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("user_agent", &self.user_agent)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            base_url: None,
            user_agent: concat!("siliconflow-rust/", env!("CARGO_PKG_VERSION")).to_string(),
            headers: Vec::new(),
            settings: Settings::default(),
        }
    }
}

impl ClientBuilder {
    /// A builder with no key, the default base URL and the default timeouts. It does not read the
    /// environment; see [`ClientBuilder::from_env`].
    pub fn new() -> Self {
        ClientBuilder::default()
    }

    /// A builder with the key from `SILICONFLOW_API_KEY` and the base URL from `SILICONFLOW_BASE_URL`, when
    /// they are set and not empty.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ClientBuilder {
            api_key: var(API_KEY_ENV),
            base_url: var(BASE_URL_ENV),
            ..ClientBuilder::default()
        }
    }

    /// The API key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL, up to and including the version: `https://api.siliconflow.cn/v1` (the default),
    /// `https://api.deepseek.com/v1`, `http://127.0.0.1:11434/v1`, …
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `User-Agent` header (default `siliconflow-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A header sent with every request (checked by [`build`](Self::build)).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long establishing a connection (TCP and TLS) may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long the response headers may take to arrive after the request was sent (default 10 min).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.settings.response_timeout = timeout;
        self
    }

    /// The longest silence allowed between two reads of a streamed body (default 2 min; `None`: wait
    /// forever). It restarts with every read, so a steady stream of any total length never trips it. For
    /// a streaming request it also bounds the wait for the response headers.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// An overall deadline for each request: connecting, retries and their waits, and reading the whole
    /// body (default none). It fails with [`TimeoutKind::Deadline`]. Each read is bounded by the time left,
    /// so a stalled read cannot outlive the deadline by more than the idle timeout allows.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.settings.deadline = deadline;
        self
    }

    /// Which failures are retried and how patiently (default [`RetryPolicy::default`]: 2 retries).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// The bound on one line or event of a stream, and on a whole JSON response body (default 8 MiB).
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.settings.max_event_size = bytes.max(1);
        self
    }

    /// A bound on the text one stream accumulates (content, reasoning and tool-call arguments of every
    /// choice; default none). Exceeding it fails the stream with [`Error::AccumulatedTooLarge`].
    pub fn max_accumulated_size(mut self, bytes: Option<usize>) -> Self {
        self.settings.max_accumulated_size = bytes;
        self
    }

    /// Builds the client: checks the key, the base URL and the headers, and creates the connection pool.
    pub fn build(self) -> Result<Client, Error> {
        let key = self
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(Error::MissingApiKey)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            Error::InvalidConfig(
                "the API key contains characters that cannot be sent in an HTTP header".to_string(),
            )
        })?;
        authorization.set_sensitive(true);

        let base_url = self
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim()
            .trim_end_matches('/')
            .to_string();
        let parsed = base_url.parse::<ureq::http::Uri>().map_err(|e| {
            Error::InvalidConfig(format!("the base URL {base_url:?} is not a valid URL: {e}"))
        })?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(Error::InvalidConfig(format!(
                "the base URL {base_url:?} must start with http:// or https:// and name a host"
            )));
        }
        if cfg!(not(any(feature = "rustls", feature = "native-tls")))
            && parsed.scheme_str() == Some("https")
        {
            return Err(Error::InvalidConfig(format!(
                "the base URL {base_url:?} is HTTPS, but siliconflow was built without TLS: enable \
                 the `rustls` (default) or `native-tls` feature"
            )));
        }

        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::InvalidConfig(format!("{name:?} is not a valid HTTP header name"))
            })?;
            let header_value = HeaderValue::from_str(value).map_err(|_| {
                Error::InvalidConfig(format!("the value of header {name:?} cannot be sent"))
            })?;
            headers.push((header_name, header_value));
        }

        // Timeouts are set per request (see `Client::send`), and only phase timeouts that do not make ureq
        // resolve DNS on a spawned thread: never a global, per-call or resolve timeout (DESIGN.md, "Timeouts").
        // Redirects are not followed: an API call that answers 3xx is an error to see, and nothing (least of
        // all the key) is ever sent to a host the caller did not name.
        let config = ureq::Agent::config_builder();
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        let config = config.tls_config(tls_config());
        let agent: ureq::Agent = config
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(self.user_agent.as_str())
            .build()
            .into();

        Ok(Client {
            shared: Arc::new(Shared {
                agent,
                authorization: Secret(authorization),
                redactor: Redactor::new(key),
                base_url,
                headers,
            }),
            settings: self.settings,
        })
    }
}

/// rustls when that feature is on (the default), else the platform's TLS with `native-tls`.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
fn tls_config() -> ureq::tls::TlsConfig {
    #[cfg(feature = "rustls")]
    let provider = ureq::tls::TlsProvider::Rustls;
    #[cfg(not(feature = "rustls"))]
    let provider = ureq::tls::TlsProvider::NativeTls;
    ureq::tls::TlsConfig::builder().provider(provider).build()
}

impl Client {
    /// A client configured from `SILICONFLOW_API_KEY` and the optional `SILICONFLOW_BASE_URL`.
    ///
    /// Fails with [`Error::MissingApiKey`] when the key is unset or empty.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env().build()
    }

    /// A builder for a client configured in code.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// A client for the same server and pool whose requests use this idle timeout (`None`: none).
    ///
    /// The `with_*` methods are how a single request gets its own timeouts or retries: the returned
    /// client shares the connection pool and is as cheap as a clone.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let client = siliconflow::Client::builder().api_key("k").build()?;
    /// let patient = client
    ///     .with_idle_timeout(Some(Duration::from_secs(600)))
    ///     .with_deadline(Some(Duration::from_secs(1800)));
    /// # let _ = patient;
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn with_idle_timeout(&self, timeout: Option<Duration>) -> Client {
        self.with(|s| s.idle_timeout = timeout)
    }

    /// A client whose requests use this overall deadline (`None`: none). See [`ClientBuilder::deadline`].
    pub fn with_deadline(&self, deadline: Option<Duration>) -> Client {
        self.with(|s| s.deadline = deadline)
    }

    /// A client whose requests use this connect timeout.
    pub fn with_connect_timeout(&self, timeout: Duration) -> Client {
        self.with(|s| s.connect_timeout = timeout)
    }

    /// A client whose requests use this response-headers timeout.
    pub fn with_response_timeout(&self, timeout: Duration) -> Client {
        self.with(|s| s.response_timeout = timeout)
    }

    /// A client whose requests use this retry policy ([`RetryPolicy::none`] disables retries).
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Client {
        self.with(|s| s.retry = policy)
    }

    /// A client whose streams use these size bounds. See [`ClientBuilder::max_event_size`] and
    /// [`ClientBuilder::max_accumulated_size`].
    pub fn with_limits(
        &self,
        max_event_size: usize,
        max_accumulated_size: Option<usize>,
    ) -> Client {
        self.with(|s| {
            s.max_event_size = max_event_size.max(1);
            s.max_accumulated_size = max_accumulated_size;
        })
    }

    fn with(&self, change: impl FnOnce(&mut Settings)) -> Client {
        let mut client = self.clone();
        change(&mut client.settings);
        client
    }

    /// Sends `request` with `stream: true` and returns the stream of deltas, read on this thread as the
    /// caller iterates.
    ///
    /// Errors before the stream starts: [`Error::Api`] for an HTTP error status (body parsed),
    /// [`Error::Connect`], [`Error::Timeout`], [`Error::Transport`], each after the retries the
    /// [`RetryPolicy`] allows. A server that answers with a whole `application/json` completion instead of
    /// events gives a stream that replays it. Once the stream is returned nothing is retried.
    pub fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.chat_stream_inner(request)
            .map_err(|e| self.shared.redactor.error(e))
    }

    fn chat_stream_inner(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let body = request.to_body(true)?;
        let started = Instant::now();
        let (response, deadline) = self.send("chat/completions", Some(&body), true)?;
        let headers = started.elapsed();
        let status = response.status().as_u16();
        let request_id = request_id(&response);
        let is_json = mime_is(&response, "application/json");
        let mut reader = response.into_body().into_reader();
        if is_json {
            let completion = self.read_completion(&mut reader, status, &request_id, deadline)?;
            let decoder = SseDecoder::new(ResponseBody::new(reader, deadline));
            return Ok(
                ChatStream::from_completion(decoder, completion, status, request_id)
                    .timed(started, headers),
            );
        }
        Ok(self
            .stream(reader, deadline, status, request_id)
            .timed(started, headers))
    }

    /// Sends `request` with `stream: false` and returns the whole completion.
    ///
    /// A server that answers with an event stream anyway is read to the end and accumulated.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatCompletion, Error> {
        self.chat_inner(request)
            .map_err(|e| self.shared.redactor.error(e))
    }

    fn chat_inner(&self, request: &ChatRequest) -> Result<ChatCompletion, Error> {
        let body = request.to_body(false)?;
        let (response, deadline) = self.send("chat/completions", Some(&body), false)?;
        let status = response.status().as_u16();
        let request_id = request_id(&response);
        let is_sse = mime_is(&response, "text/event-stream");
        let mut reader = response.into_body().into_reader();
        if is_sse {
            let mut stream = self.stream(reader, deadline, status, request_id);
            for delta in &mut stream {
                delta?;
            }
            return Ok(stream.into_completion());
        }
        self.read_completion(&mut reader, status, &request_id, deadline)
    }

    /// The chat stream over a response body, with this client's limits.
    fn stream(
        &self,
        reader: ureq::BodyReader<'static>,
        deadline: Option<Instant>,
        status: u16,
        request_id: Option<String>,
    ) -> ChatStream {
        let decoder = SseDecoder::new(ResponseBody::new(reader, deadline))
            .with_max_event_size(self.settings.max_event_size);
        ChatStream::from_decoder(decoder, status, request_id)
            .with_max_accumulated_size(self.settings.max_accumulated_size)
            .for_http(self.shared.redactor.clone())
    }

    /// Reads a JSON body (bounded) that should be a completion; an error object in it is an error.
    fn read_completion(
        &self,
        reader: &mut ureq::BodyReader<'static>,
        status: u16,
        request_id: &Option<String>,
        deadline: Option<Instant>,
    ) -> Result<ChatCompletion, Error> {
        let body = self.read_json_body(reader, deadline)?;
        parse_json_body(&body, status, request_id, true)
    }

    /// Scrubs the API key out of an error built outside the request path.
    pub(crate) fn redact(&self, error: Error) -> Error {
        self.shared.redactor.error(error)
    }

    /// `GET {base}/{path}` and the JSON answer, with the same errors and retries as chat.
    pub(crate) fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.json_call(path, None)
    }

    /// `POST {base}/{path}` with a JSON body and the JSON answer, with the same errors and retries as chat.
    pub(crate) fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body).map_err(Error::Serialize)?;
        self.json_call(path, Some(&body))
    }

    fn json_call<T: DeserializeOwned>(&self, path: &str, body: Option<&[u8]>) -> Result<T, Error> {
        let call = || {
            let (response, deadline) = self.send(path, body, false)?;
            let status = response.status().as_u16();
            let request_id = request_id(&response);
            let mut reader = response.into_body().into_reader();
            let body = self.read_json_body(&mut reader, deadline)?;
            parse_json_body(&body, status, &request_id, false)
        };
        call().map_err(|e| self.shared.redactor.error(e))
    }

    /// Reads a whole (non-streamed) body, bounded by the event size limit.
    fn read_json_body(
        &self,
        reader: &mut ureq::BodyReader<'static>,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, Error> {
        let limit = self.settings.max_event_size;
        let mut body = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| read_failed(map_io_error(e, deadline)))?;
        if body.len() > limit {
            return Err(Error::EventTooLarge { limit });
        }
        Ok(body)
    }

    /// Sends a request (a POST when `body` is given, else a GET), retrying what the policy allows, and
    /// returns a 2xx response with the request's deadline. HTTP error statuses become [`Error::Api`].
    fn send(
        &self,
        path: &str,
        body: Option<&[u8]>,
        stream: bool,
    ) -> Result<(Response<ureq::Body>, Option<Instant>), Error> {
        let settings = &self.settings;
        let deadline = settings.deadline.map(|d| Instant::now() + d);
        let mut retry = 0;
        loop {
            let error = match self.attempt(path, body, stream, deadline) {
                Ok(response) => return Ok((response, deadline)),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            let Some(delay) = settings.retry.delay(retry, error.retry_after()) else {
                return Err(error);
            };
            if deadline.is_some_and(|d| Instant::now() + delay >= d) {
                return Err(error);
            }
            std::thread::sleep(delay);
            retry += 1;
        }
    }

    /// One attempt: every timeout bounded by the time left before the deadline.
    fn attempt(
        &self,
        path: &str,
        body: Option<&[u8]>,
        stream: bool,
        deadline: Option<Instant>,
    ) -> Result<Response<ureq::Body>, Error> {
        let settings = &self.settings;
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(Error::Timeout(TimeoutKind::Deadline)),
            },
            None => None,
        };
        let bound = |timeout: Duration| left.map_or(timeout, |left| timeout.min(left));
        // The per-read timeout is the idle timeout for a stream; a non-streamed answer arrives all at
        // once after the response timeout's wait, so only the deadline bounds its reads.
        let per_read = if stream {
            settings.idle_timeout.map(bound).or(left)
        } else {
            left
        };
        let url = format!("{}/{}", self.shared.base_url, path);
        let result = match body {
            Some(body) => {
                let request = self
                    .shared
                    .agent
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json");
                self.prepare(request, stream, bound, per_read).send(body)
            }
            None => {
                let request = self.shared.agent.get(&url);
                self.prepare(request, stream, bound, per_read).call()
            }
        };
        let response = result.map_err(|e| {
            if deadline.is_some_and(|d| Instant::now() >= d) && matches!(e, ureq::Error::Timeout(_))
            {
                return Error::Timeout(TimeoutKind::Deadline);
            }
            send_error(e)
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        Err(Error::Api(Box::new(api_error(response))))
    }

    /// Adds the headers and the per-request timeouts.
    fn prepare<B>(
        &self,
        request: RequestBuilder<B>,
        stream: bool,
        bound: impl Fn(Duration) -> Duration,
        per_read: Option<Duration>,
    ) -> RequestBuilder<B> {
        let shared = &self.shared;
        let settings = &self.settings;
        let mut request = request.header(AUTHORIZATION, shared.authorization.0.clone());
        request = if stream {
            // `identity`: no compression layer may hold text back.
            request
                .header(ACCEPT, "text/event-stream")
                .header(ACCEPT_ENCODING, "identity")
        } else {
            request.header(ACCEPT, "application/json")
        };
        for (name, value) in &shared.headers {
            request = request.header(name, value);
        }
        request
            .config()
            .timeout_connect(Some(bound(settings.connect_timeout)))
            .timeout_recv_response(Some(bound(settings.response_timeout)))
            .timeout_per_read(per_read)
            .build()
    }
}

/// Parses a whole JSON answer: an error object in a 2xx body is [`Error::Api`], a body of another shape is
/// [`Error::MalformedChunk`] naming it. `chat`: SiliconFlow's `code` + `message` without `choices` is an
/// error too (other endpoints, like `/user/info`, wrap successes in `code` + `message`).
fn parse_json_body<T: DeserializeOwned>(
    body: &[u8],
    status: u16,
    request_id: &Option<String>,
    chat: bool,
) -> Result<T, Error> {
    let malformed = |source| Error::MalformedChunk {
        event: 0,
        data: crate::error::truncate(&String::from_utf8_lossy(body), 512),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    if let serde_json::Value::Object(map) = &value {
        if ApiError::is_error_payload(map, chat) {
            let mut error = ApiError::parse(status, body);
            error.request_id.clone_from(request_id);
            return Err(Error::Api(Box::new(error)));
        }
    }
    serde_json::from_value(value).map_err(malformed)
}

/// Reads (a bounded prefix of) an error response's body and parses it.
fn api_error(response: Response<ureq::Body>) -> ApiError {
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let retry_after = retry_after(&response);
    let should_retry = match header(&response, "x-should-retry") {
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    let mut body = Vec::new();
    // A body that fails half-way still has a useful prefix; the status is what matters.
    let _ = response
        .into_body()
        .into_reader()
        .take(MAX_ERROR_BODY as u64)
        .read_to_end(&mut body);
    let mut error = ApiError::parse(status, &body);
    error.request_id = request_id;
    error.retry_after = retry_after;
    error.should_retry = should_retry;
    error
}

fn header<'r>(response: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `x-siliconcloud-trace-id`, else `x-request-id`.
fn request_id(response: &Response<ureq::Body>) -> Option<String> {
    header(response, "x-siliconcloud-trace-id")
        .or_else(|| header(response, "x-request-id"))
        .map(str::to_string)
}

/// `retry-after-ms`, else `Retry-After` in seconds or as an HTTP date.
fn retry_after(response: &Response<ureq::Body>) -> Option<Duration> {
    let seconds = |text: &str| {
        let value = text.parse::<f64>().ok()?;
        (0.0..1e9)
            .contains(&value)
            .then(|| Duration::from_secs_f64(value))
    };
    if let Some(ms) = header(response, "retry-after-ms").and_then(seconds) {
        return Some(ms / 1000);
    }
    let text = header(response, "retry-after")?;
    seconds(text).or_else(|| {
        let at = parse_http_date(text)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(Duration::from_secs(at.saturating_sub(now)))
    })
}

fn mime_is(response: &Response<ureq::Body>, mime: &str) -> bool {
    response
        .body()
        .mime_type()
        .is_some_and(|m| m.eq_ignore_ascii_case(mime))
}

fn read_failed(error: std::io::Error) -> Error {
    if let Some(kind) = DeadlineExceeded::timeout_of(&error) {
        return Error::Timeout(kind);
    }
    Error::Transport {
        source: Box::new(error),
    }
}

/// Maps a failure to send a request or receive its headers.
fn send_error(error: ureq::Error) -> Error {
    use std::io::ErrorKind as Kind;
    use ureq::Timeout;
    match error {
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => {
            Error::Timeout(TimeoutKind::Connect)
        }
        ureq::Error::Timeout(_) => Error::Timeout(TimeoutKind::Response),
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                Kind::ConnectionRefused
                    | Kind::AddrNotAvailable
                    | Kind::NetworkUnreachable
                    | Kind::HostUnreachable
                    | Kind::NotFound
            ) =>
        {
            Error::Connect {
                source: Box::new(e),
            }
        }
        ureq::Error::Io(e) if e.kind() == Kind::TimedOut => Error::Timeout(TimeoutKind::Response),
        e @ (ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Tls(_)
        | ureq::Error::TlsRequired) => Error::Connect {
            source: Box::new(e),
        },
        #[cfg(feature = "rustls")]
        e @ ureq::Error::Rustls(_) => Error::Connect {
            source: Box::new(e),
        },
        #[cfg(feature = "native-tls")]
        e @ ureq::Error::NativeTls(_) => Error::Connect {
            source: Box::new(e),
        },
        e @ (ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl) => {
            Error::InvalidConfig(e.to_string())
        }
        other => Error::Transport {
            source: Box::new(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_blank_keys_are_errors() {
        assert!(matches!(
            Client::builder().build(),
            Err(Error::MissingApiKey)
        ));
        assert!(matches!(
            Client::builder().api_key("  ").build(),
            Err(Error::MissingApiKey)
        ));
    }

    #[test]
    fn key_with_a_newline_is_rejected_without_echoing_it() {
        let err = Client::builder()
            .api_key("sk-secret\nInjected: yes")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)));
        assert!(!format!("{err} {err:?}").contains("sk-secret"));
    }

    #[test]
    fn bad_base_urls_and_headers_are_config_errors() {
        for url in [
            "ftp://x/v1",
            "not a url",
            "http://",
            "api.siliconflow.cn/v1",
        ] {
            let err = Client::builder()
                .api_key("k")
                .base_url(url)
                .build()
                .unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{url}: {err:?}");
        }
        let err = Client::builder()
            .api_key("k")
            .header("bad header", "v")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)));
    }

    #[test]
    fn base_url_is_normalised_and_defaults_to_siliconflow() {
        let client = Client::builder().api_key("k").build().unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);
        let client = Client::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:8080/v1/")
            .build()
            .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:8080/v1");
    }

    #[test]
    fn https_needs_a_tls_feature() {
        let result = Client::builder()
            .api_key("k")
            .base_url("https://example.com/v1")
            .build();
        if cfg!(any(feature = "rustls", feature = "native-tls")) {
            assert!(result.is_ok());
        } else {
            assert!(matches!(result, Err(Error::InvalidConfig(m)) if m.contains("without TLS")));
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = Client::builder().api_key("sk-do-not-print-me");
        assert!(!format!("{builder:?}").contains("sk-do-not-print-me"));
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk-do-not-print-me"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn client_is_send_sync_and_stream_is_send() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send::<ChatStream>();
        send_sync::<Error>();
    }
}
