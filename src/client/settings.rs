//! [`Settings`]: what a clone of the client may change for its own requests, and the checks every value
//! passes (durations saturate, headers must be sendable).

use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue};

use crate::cancel::CancelHandle;
use crate::error::Error;
use crate::limits::StreamLimits;
use crate::retry::RetryPolicy;

/// Default connect timeout (TCP and TLS): 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time from sending a request to its response headers: 10 minutes, long enough for a slow
/// non-streamed reasoning answer.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default longest silence between two reads of a body (or two writes of a request): 2 minutes. A healthy
/// stream sends tokens (or keep-alive comments) far more often, however long it runs in total; a stalled one
/// fails after this.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Default longest time for one whole event of a stream (or a whole non-streamed body) to arrive once its
/// first byte may come: 10 minutes. It catches a server that keeps a connection busy without ever
/// completing an event (only keep-alive comments, or one byte at a time).
pub const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(600);

/// Durations are capped at this (about 100 years): longer is "never", and adding `Duration::MAX` to an
/// instant would overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A duration that can be added to any instant.
pub(crate) fn saturate(duration: Duration) -> Duration {
    duration.min(MAX_DURATION)
}

/// What a clone may change for its own requests ([`Client::with_deadline`](crate::Client::with_deadline)
/// and friends).
#[derive(Clone)]
pub(crate) struct Settings {
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub idle_timeout: Option<Duration>,
    pub event_timeout: Option<Duration>,
    pub deadline: Option<Duration>,
    pub retry: RetryPolicy,
    pub limits: StreamLimits,
    /// Headers and query parameters added to each request (openai-python's `extra_headers` and
    /// `extra_query`), checked when a request is made.
    pub extra_headers: Vec<(String, String)>,
    pub extra_query: Vec<(String, String)>,
    pub cancel: Option<CancelHandle>,
}

impl std::fmt::Debug for Settings {
    /// Every setting, but only the names of the extra headers and query parameters: their values may be
    /// secrets (a gateway's key in `x-api-key`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |pairs: &[(String, String)]| pairs.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        f.debug_struct("Settings")
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("event_timeout", &self.event_timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
            .field("extra_headers", &names(&self.extra_headers))
            .field("extra_query", &names(&self.extra_query))
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            event_timeout: Some(DEFAULT_EVENT_TIMEOUT),
            deadline: None,
            retry: RetryPolicy::default(),
            limits: StreamLimits::default(),
            extra_headers: Vec::new(),
            extra_query: Vec::new(),
            cancel: None,
        }
    }
}

/// Headers a caller may not set: the key is the client's to send, the framing is ureq's, and the client
/// sets the others on every request (a second value would be sent beside its own).
const RESERVED_HEADERS: [&str; 8] = [
    "authorization",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "content-type",
    "accept",
    "accept-encoding",
];

/// Checks a header the caller wants to send: a valid name that is not reserved, and a value of visible
/// ASCII, spaces and tabs (what every HTTP stack accepts). The value is never echoed: it may be a secret.
pub(crate) fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::InvalidConfig(format!("{name:?} is not a valid HTTP header name")))?;
    if RESERVED_HEADERS.contains(&header_name.as_str()) {
        let why = match header_name.as_str() {
            "authorization" => {
                "the API key is sent by the client (ClientBuilder::api_key); a second Authorization \
                 header would be ambiguous"
            }
            "content-type" | "accept" | "accept-encoding" => {
                "the client sets it for each request (the body's type, the answer it reads, \
                 `identity` encoding)"
            }
            _ => "the HTTP framing is the client's to set",
        };
        return Err(Error::InvalidConfig(format!(
            "the header {name:?} cannot be set: {why}"
        )));
    }
    let header_value = text_header_value(value)
        .ok_or_else(|| Error::InvalidConfig(format!("the value of header {name:?} cannot be sent: only visible ASCII, spaces and tabs are allowed")))?;
    Ok((header_name, header_value))
}

/// A header value of visible ASCII, spaces and tabs, or `None`.
pub(crate) fn text_header_value(value: &str) -> Option<HeaderValue> {
    let ok = value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    ok.then(|| HeaderValue::from_str(value).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_saturate() {
        assert_eq!(saturate(Duration::MAX), MAX_DURATION);
        assert!(std::time::Instant::now()
            .checked_add(MAX_DURATION)
            .is_some());
        assert_eq!(saturate(Duration::from_secs(1)), Duration::from_secs(1));
    }

    #[test]
    fn headers_are_checked() {
        assert!(header("x-team", "research lab\t1").is_ok());
        for (name, value) in [
            ("bad name", "v"),
            ("x-ok", "line\r\nbreak"),
            ("x-ok", "ключ"),
            ("Authorization", "Bearer other"),
            ("content-length", "5"),
            ("", "v"),
        ] {
            let error = header(name, value).unwrap_err();
            assert!(
                matches!(error, Error::InvalidConfig(_)),
                "{name}: {error:?}"
            );
            assert!(!error.to_string().contains("Bearer other"));
        }
    }
}
