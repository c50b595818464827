//! [`Client`] and [`ClientBuilder`]: configuration, and the one place that sends HTTP requests.
//!
//! - [`builder`]: [`ClientBuilder`], checked at `build()`.
//! - [`settings`]: what each request may change (timeouts, retries, limits, headers, cancellation).
//! - [`network`]: proxy and TLS settings.
//! - [`send`]: one request with its retries, under its limits, with its logging; the response body.
//! - [`response`]: what a response turns into: a parsed JSON result, an [`ApiError`](crate::ApiError).
//! - [`poll`]: waiting for an asynchronous job (a video, a batch), with a backoff and cancellable pauses.
//! - [`upload`]: a multipart form as a request body, re-sent on a retry when it can be.

mod builder;
mod network;
mod poll;
mod response;
mod send;
mod settings;
mod upload;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue};

pub use builder::ClientBuilder;
pub use poll::PollOptions;
pub(crate) use response::{api_error, parse_body, with_response, WithResponse};
pub(crate) use send::{Call, Exchange, Method, Payload, Target};
pub use settings::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT,
};

use crate::cancel::CancelHandle;
use crate::limits::StreamLimits;
use crate::redact::Redactor;
use crate::retry::RetryPolicy;
use network::ProxySetting;
use settings::{saturate, Settings};

/// SiliconFlow's API base URL, the default.
pub const DEFAULT_BASE_URL: &str = "https://api.siliconflow.cn/v1";

/// The environment variable [`Client::from_env`] reads the API key from.
pub const API_KEY_ENV: &str = "SILICONFLOW_API_KEY";

/// The environment variable [`Client::from_env`] reads an optional base URL from.
pub const BASE_URL_ENV: &str = "SILICONFLOW_BASE_URL";

/// The `Authorization` header value, kept out of every `Debug` and `Display`.
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
/// streams from its own threads. The client never spawns a thread: names are resolved, connections made and
/// bodies read on the calling thread.
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
    connections: Arc<AtomicU64>,
    proxy: ProxySetting,
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
            .field("proxy", &shared.proxy)
            .field("settings", &self.settings)
            .finish()
    }
}

impl Client {
    /// A client configured from `SILICONFLOW_API_KEY` and the optional `SILICONFLOW_BASE_URL`.
    ///
    /// Fails with [`Error::MissingApiKey`](crate::Error::MissingApiKey) when the key is unset or empty.
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// # let _ = client;
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, crate::Error> {
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

    /// The memory bounds this client's requests use.
    pub fn limits(&self) -> StreamLimits {
        self.settings.limits
    }

    /// How many connections this client and its clones have opened (each reused connection counts once):
    /// a way to check that the pool is doing its job.
    pub fn connections_opened(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// A client for the same server and pool whose requests use this idle timeout (`None`: none).
    ///
    /// The `with_*` methods are how a single request gets its own timeouts, retries, headers or
    /// cancellation: the returned client shares the connection pool and is as cheap as a clone. Using the
    /// result is the point, so dropping it is warned about.
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
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_idle_timeout(&self, timeout: Option<Duration>) -> Client {
        self.with(|s| s.idle_timeout = timeout.map(saturate))
    }

    /// A client whose requests use this event timeout (`None`: none). See
    /// [`ClientBuilder::event_timeout`].
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_event_timeout(&self, timeout: Option<Duration>) -> Client {
        self.with(|s| s.event_timeout = timeout.map(saturate))
    }

    /// A client whose requests use this overall deadline (`None`: none). See [`ClientBuilder::deadline`].
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_deadline(&self, deadline: Option<Duration>) -> Client {
        self.with(|s| s.deadline = deadline.map(saturate))
    }

    /// A client whose requests use this connect timeout.
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_connect_timeout(&self, timeout: Duration) -> Client {
        self.with(|s| s.connect_timeout = saturate(timeout))
    }

    /// A client whose requests use this response-headers timeout.
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_response_timeout(&self, timeout: Duration) -> Client {
        self.with(|s| s.response_timeout = saturate(timeout))
    }

    /// A client whose requests use this retry policy ([`RetryPolicy::none`] disables retries).
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Client {
        self.with(|s| s.retry = policy)
    }

    /// A client whose requests use these memory bounds (see [`StreamLimits`]).
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_limits(&self, limits: StreamLimits) -> Client {
        self.with(|s| s.limits = limits)
    }

    /// A client whose requests also send this header (like openai-python's `extra_headers`). It is checked
    /// when a request is made: an invalid name or value, `Authorization` (the key is the client's to send),
    /// or a header the client sets itself (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`,
    /// `Content-Type`, `Accept`, `Accept-Encoding`) fails the request with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) before anything is sent.
    ///
    /// ```
    /// # let client = siliconflow::Client::builder().api_key("k").build()?;
    /// let traced = client.with_header("x-trace-id", "job-42").with_query("api-version", "2024-10-01");
    /// # let _ = traced;
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_header(&self, name: impl Into<String>, value: impl Into<String>) -> Client {
        let (name, value) = (name.into(), value.into());
        self.with(|s| s.extra_headers.push((name, value)))
    }

    /// A client whose requests also carry this query parameter (like openai-python's `extra_query`),
    /// percent-encoded.
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_query(&self, name: impl Into<String>, value: impl Into<String>) -> Client {
        let (name, value) = (name.into(), value.into());
        self.with(|s| s.extra_query.push((name, value)))
    }

    /// A client whose requests can be cancelled from another thread with `handle` (see [`CancelHandle`]).
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn with_cancel(&self, handle: &CancelHandle) -> Client {
        let handle = handle.clone();
        self.with(|s| s.cancel = Some(handle))
    }

    /// A client whose requests carry no [`CancelHandle`]: after a handle was cancelled (its requests
    /// then fail at once), the cleanup that must still go out, such as
    /// [`Client::cancel_batch`] after a wait was stopped.
    #[must_use = "the returned client has the setting; this client is unchanged"]
    pub fn without_cancel(&self) -> Client {
        self.with(|s| s.cancel = None)
    }

    fn with(&self, change: impl FnOnce(&mut Settings)) -> Client {
        let mut client = self.clone();
        change(&mut client.settings);
        client
    }

    /// Scrubs the API key out of an error built outside the request path.
    pub(crate) fn redact(&self, error: crate::Error) -> crate::Error {
        self.shared.redactor.error(error)
    }

    /// The key scrubber, for texts built outside the request path.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.shared.redactor
    }
}

#[cfg(test)]
mod tests;
