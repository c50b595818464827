//! [`ClientBuilder`]: every setting of a [`Client`], checked when it is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::HeaderValue;

use super::network::{self, ProxySetting, TlsRoots};
use super::settings::{self, saturate, Settings};
use super::{Client, Secret, Shared, API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL};
use crate::error::Error;
use crate::limits::StreamLimits;
use crate::net::key::KeySplice;
use crate::redact::Redactor;
use crate::retry::RetryPolicy;

/// Configures a [`Client`].
///
/// Every setter returns the builder (and warns if its result is dropped); [`build`](Self::build) checks
/// everything at once and fails with [`Error::InvalidConfig`] (or [`Error::MissingApiKey`]) before any
/// request is made, so a bad header or proxy never surfaces as a failure at request time.
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
///     .without_proxy()
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
    proxy: ProxySetting,
    no_proxy: Option<String>,
    tls_roots: TlsRoots,
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
            .field("proxy", &self.proxy)
            .field("no_proxy", &self.no_proxy)
            .field("tls_roots", &self.tls_roots)
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
            proxy: ProxySetting::Environment,
            no_proxy: None,
            tls_roots: TlsRoots::Bundled,
        }
    }
}

impl ClientBuilder {
    /// A builder with no key, the default base URL and the default timeouts. It does not read the
    /// environment's key or base URL; see [`ClientBuilder::from_env`].
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

    /// The API key, sent as `Authorization: Bearer <key>` (printable ASCII, no spaces).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL, up to and including the version: `https://api.siliconflow.cn/v1` (the default),
    /// `https://api.siliconflow.com/v1` (international), `https://api.deepseek.com/v1`,
    /// `http://127.0.0.1:11434/v1`, …
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `User-Agent` header (default `siliconflow-rust/<version>`; visible ASCII and spaces).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A header sent with every request (checked by [`build`](Self::build): a valid name, a value of
    /// visible ASCII and spaces; `Authorization` is refused, the key is sent by the client, and so are the
    /// headers the client sets itself, as for [`Client::with_header`]). For one request only, see
    /// [`Client::with_header`].
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long establishing a connection (TCP and TLS, through any proxy) may take (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = saturate(timeout);
        self
    }

    /// How long the response headers may take to arrive after the request was sent (default 10 min).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.settings.response_timeout = saturate(timeout);
        self
    }

    /// The longest silence allowed between two reads of any body (a stream, a JSON answer, an error
    /// body) and between two writes of a request (default 2 min; `None`: none). It restarts with every
    /// read, so a steady stream of any total length never trips it. For a streaming request it also bounds
    /// the wait for the response headers.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout.map(saturate);
        self
    }

    /// The longest time one whole event of a stream may take to arrive, and a whole non-streamed body
    /// (default 10 min; `None`: none). It fails with [`TimeoutKind::Event`](crate::TimeoutKind::Event)
    /// a server that keeps the connection busy (keep-alive comments, a byte at a time) without ever
    /// completing an event, which the idle timeout cannot see.
    #[must_use]
    pub fn event_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.event_timeout = timeout.map(saturate);
        self
    }

    /// An overall deadline for each request: connecting, sending, waiting, retries and their waits, and
    /// reading the whole body (default none). It fails with
    /// [`TimeoutKind::Deadline`](crate::TimeoutKind::Deadline) within milliseconds of its time: every read
    /// and write waits at most the time left.
    #[must_use]
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.settings.deadline = deadline.map(saturate);
        self
    }

    /// Which failures are retried and how patiently (default [`RetryPolicy::default`]: 2 retries).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// Every memory bound at once (see [`StreamLimits`]).
    #[must_use]
    pub fn limits(mut self, limits: StreamLimits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// The bound on one line or event of a stream, and on a whole JSON response body (default 8 MiB).
    #[must_use]
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.settings.limits = self.settings.limits.max_event_size(bytes);
        self
    }

    /// The bound on what one stream keeps, as allocated: its text (each byte counted with an eighth more,
    /// the room its strings grow ahead), its latest metadata, and its bookkeeping of choices and tool calls
    /// (default 64 MiB, about 56 MiB of text; `None`: none). Exceeding it fails the stream with
    /// [`Error::AccumulatedTooLarge`].
    #[must_use]
    pub fn max_accumulated_size(mut self, bytes: Option<usize>) -> Self {
        self.settings.limits = self.settings.limits.max_accumulated_size(bytes);
        self
    }

    /// The bound on the distinct choices of one stream (default 1,024); past it, [`Error::TooManyChoices`].
    #[must_use]
    pub fn max_choices(mut self, choices: usize) -> Self {
        self.settings.limits = self.settings.limits.max_choices(choices);
        self
    }

    /// The bound on the distinct tool calls of one choice, and on the tool-call fragments of one event, all
    /// its choices together (default 1,024); past it, [`Error::TooManyToolCalls`].
    #[must_use]
    pub fn max_tool_calls(mut self, calls: usize) -> Self {
        self.settings.limits = self.settings.limits.max_tool_calls(calls);
        self
    }

    /// Sends every request through this HTTP CONNECT proxy (`http://` or `https://`, optionally with
    /// `user:password@`, percent-encoded), instead of the one the environment names. SOCKS proxies are
    /// refused by [`build`](Self::build).
    ///
    /// ```
    /// let client = siliconflow::Client::builder()
    ///     .api_key("sk-example")
    ///     .proxy("http://user:secret@proxy.internal:3128")
    ///     .no_proxy("localhost,127.0.0.1,.internal")
    ///     .build()?;
    /// assert!(!format!("{client:?}").contains("secret"));
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects directly, ignoring `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY`.
    #[must_use]
    pub fn without_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Direct;
        self
    }

    /// The hosts reached directly although a proxy is set, read as curl reads `NO_PROXY` (which this
    /// overrides): comma-separated names, each covering itself and its subdomains (with or without a
    /// leading dot), IP addresses (IPv6 with or without brackets), `*.domain`, or `*` for every host.
    #[must_use]
    pub fn no_proxy(mut self, hosts: impl Into<String>) -> Self {
        self.no_proxy = Some(hosts.into());
        self
    }

    /// Trusts these root certificates (PEM, one or more `-----BEGIN CERTIFICATE-----` blocks) instead of the
    /// bundled Mozilla roots: a company's root behind a TLS-inspecting proxy, or a private server's CA. To
    /// trust the operating system's store (where a company usually installs its root) together with the
    /// public roots, use `platform_verifier()` (feature `platform-verifier`).
    #[must_use]
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = TlsRoots::Pem(pem.into());
        self
    }

    /// Verifies servers with the operating system's verifier and trust store (rustls-platform-verifier)
    /// instead of the bundled Mozilla roots.
    #[cfg(feature = "platform-verifier")]
    #[must_use]
    pub fn platform_verifier(mut self) -> Self {
        self.tls_roots = TlsRoots::Platform;
        self
    }

    /// Builds the client: checks the key, the base URL, the user agent, the headers, the proxy and the
    /// certificates, and creates the connection pool. Makes no request.
    pub fn build(self) -> Result<Client, Error> {
        let key = self
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(Error::MissingApiKey)?;
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidConfig(
                "the API key may only contain printable ASCII characters without spaces"
                    .to_string(),
            ));
        }
        // ureq gets a placeholder; the key goes onto the wire only (see `net::key`). The key is visible
        // ASCII (checked above), so `Bearer <key>` is a valid header value, as is its placeholder.
        let splice = KeySplice::new(key);
        let mut authorization = HeaderValue::from_str(splice.placeholder()).map_err(|_| {
            Error::InvalidConfig("the API key cannot be sent in an HTTP header".to_string())
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
        if !matches!(parsed.scheme_str(), Some("http" | "https"))
            || parsed.host().is_none_or(str::is_empty)
        {
            return Err(Error::InvalidConfig(format!(
                "the base URL {base_url:?} must start with http:// or https:// and name a host"
            )));
        }
        let https = parsed.scheme_str() == Some("https");
        if cfg!(not(any(feature = "rustls", feature = "native-tls"))) && https {
            return Err(Error::InvalidConfig(format!(
                "the base URL {base_url:?} is HTTPS, but siliconflow was built without TLS: enable \
                 the `rustls` (default) or `native-tls` feature"
            )));
        }

        if settings::text_header_value(&self.user_agent).is_none() {
            return Err(Error::InvalidConfig(
                "the user agent may only contain visible ASCII, spaces and tabs".to_string(),
            ));
        }
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| settings::header(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let proxy = network::proxy(&self.proxy, self.no_proxy.as_deref(), https)?;

        // Redirects are not followed: an API call that answers 3xx is an error to see, and nothing (least of
        // all the key) is ever sent to a host the caller did not name. Timeouts are set per request.
        let config = ureq::Agent::config_builder();
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        let config = config.tls_config(network::tls_config(&self.tls_roots)?);
        let config = config
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(self.user_agent.as_str())
            .proxy(proxy)
            .build();
        let (agent, connections) = crate::net::agent(config, splice);

        Ok(Client {
            shared: Arc::new(Shared {
                agent,
                authorization: Secret(authorization),
                redactor: Redactor::new(key),
                base_url,
                headers,
                connections,
                proxy: self.proxy,
            }),
            settings: self.settings,
        })
    }
}
