//! [`ResponseMeta`]: the status, headers and request id of a response, on every result, stream and error.
//!
//! The request id is what support asks for. SiliconFlow sends it as `x-siliconcloud-trace-id`; OpenAI,
//! DeepSeek and most gateways as `x-request-id`; and gateways that forward the provider's headers rename
//! them (LiteLLM prefixes them with `llm_provider-`). [`ResponseMeta::request_id`] searches, in this order:
//!
//! 1. `x-siliconcloud-trace-id`
//! 2. `x-request-id`
//! 3. any header named `<prefix>-x-siliconcloud-trace-id` (for example `llm_provider-x-siliconcloud-trace-id`)
//! 4. any header named `<prefix>-x-request-id`
//!
//! Every other header stays readable through [`ResponseMeta::header`] and [`ResponseMeta::headers`].

use std::fmt;
use std::time::Duration;

/// The names searched for the request id, most specific first; see [`ResponseMeta::request_id`].
pub const REQUEST_ID_HEADERS: [&str; 2] = ["x-siliconcloud-trace-id", "x-request-id"];

/// The most header bytes kept (names and values); ureq already refuses response heads over 64 KiB.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Response headers: names lower-cased, values as text (bytes that are not UTF-8 replaced), in the order
/// the server sent them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

impl Headers {
    /// Headers from name/value pairs (names are lower-cased).
    ///
    /// ```
    /// use siliconflow::Headers;
    ///
    /// let headers = Headers::from_pairs([("X-Request-Id", "req-1"), ("content-type", "application/json")]);
    /// assert_eq!(headers.get("x-request-id"), Some("req-1"));
    /// assert_eq!(headers.len(), 2);
    /// ```
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Headers {
        Headers {
            entries: pairs
                .into_iter()
                .map(|(n, v)| (n.as_ref().to_ascii_lowercase(), v.as_ref().to_string()))
                .collect(),
        }
    }

    pub(crate) fn from_http(map: &ureq::http::HeaderMap) -> Headers {
        let mut entries = Vec::with_capacity(map.len());
        let mut bytes = 0;
        for (name, value) in map {
            bytes += name.as_str().len() + value.len();
            if bytes > MAX_HEADER_BYTES {
                break;
            }
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            entries.push((name.as_str().to_string(), value));
        }
        Headers { entries }
    }

    /// The first value of the header `name` (any case), trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every value of the header `name` (any case), trimmed, empty ones skipped.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every header, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every name and value, for scrubbing.
    pub(crate) fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> + '_ {
        self.entries.iter_mut().flat_map(|(n, v)| [n, v])
    }

    /// The value of `name`, or of a header ending in `-name` (a gateway's renamed copy).
    fn get_or_prefixed(&self, name: &str) -> Option<&str> {
        self.get(name).or_else(|| {
            self.entries
                .iter()
                .filter(|(n, _)| {
                    n.len() > name.len() + 1
                        && n.as_bytes()[n.len() - name.len() - 1] == b'-'
                        && n.as_bytes()[n.len() - name.len()..]
                            .eq_ignore_ascii_case(name.as_bytes())
                })
                .map(|(_, v)| v.trim())
                .find(|v| !v.is_empty())
        })
    }

    /// The request id (see [`ResponseMeta::request_id`] for the names searched).
    pub fn request_id(&self) -> Option<&str> {
        REQUEST_ID_HEADERS
            .iter()
            .find_map(|name| self.get(name))
            .or_else(|| {
                REQUEST_ID_HEADERS
                    .iter()
                    .find_map(|name| self.get_or_prefixed(name))
            })
    }
}

/// What the server said about a response besides its body: status, headers, request id.
///
/// Every successful result ([`ChatCompletion::response`](crate::ChatCompletion::response) and the other
/// endpoints' results), every stream ([`ChatStream::response`](crate::ChatStream::response)) and every
/// [`ApiError`](crate::ApiError) carries one.
///
/// ```
/// use siliconflow::{Headers, ResponseMeta};
///
/// let meta = ResponseMeta::new(200, Headers::from_pairs([
///     ("llm_provider-x-siliconcloud-trace-id", "trace-7"), // renamed by a LiteLLM gateway
///     ("x-ratelimit-remaining-requests", "59"),
/// ]));
/// assert_eq!(meta.request_id(), Some("trace-7"));
/// assert_eq!(meta.rate_limit().remaining_requests, Some(59));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseMeta {
    status: u16,
    headers: Headers,
}

impl ResponseMeta {
    /// Metadata for a response with this status and these headers.
    pub fn new(status: u16, headers: Headers) -> ResponseMeta {
        ResponseMeta { status, headers }
    }

    pub(crate) fn from_response<B>(response: &ureq::http::Response<B>) -> ResponseMeta {
        ResponseMeta {
            status: response.status().as_u16(),
            headers: Headers::from_http(response.headers()),
        }
    }

    /// The HTTP status (0 when there was no HTTP response: a stream read from a reader).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every response header.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    pub(crate) fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The first value of one header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Whether the `Content-Type` is `mime` (compared without its parameters, ignoring case).
    pub(crate) fn is_mime(&self, mime: &str) -> bool {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(mime))
    }

    /// The request id to quote to support. The names searched, in this order:
    ///
    /// 1. `x-siliconcloud-trace-id` (SiliconFlow)
    /// 2. `x-request-id` (OpenAI, DeepSeek, most gateways)
    /// 3. any header named `<prefix>-x-siliconcloud-trace-id` (a gateway's renamed copy, for example
    ///    LiteLLM's `llm_provider-x-siliconcloud-trace-id`)
    /// 4. any header named `<prefix>-x-request-id`
    pub fn request_id(&self) -> Option<&str> {
        self.headers.request_id()
    }

    /// The rate-limit headers, for servers that send them (OpenAI and gateways do; SiliconFlow documents
    /// none).
    pub fn rate_limit(&self) -> RateLimit {
        let number = |name: &str| {
            self.headers
                .get_or_prefixed(name)
                .and_then(|v| v.parse::<u64>().ok())
        };
        let text = |name: &str| self.headers.get_or_prefixed(name).map(str::to_string);
        RateLimit {
            limit_requests: number("x-ratelimit-limit-requests"),
            remaining_requests: number("x-ratelimit-remaining-requests"),
            reset_requests: text("x-ratelimit-reset-requests"),
            limit_tokens: number("x-ratelimit-limit-tokens"),
            remaining_tokens: number("x-ratelimit-remaining-tokens"),
            reset_tokens: text("x-ratelimit-reset-tokens"),
        }
    }
}

/// The OpenAI-style rate-limit headers of a response (`x-ratelimit-*`, also under a gateway's prefix);
/// each `None` when not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `x-ratelimit-limit-requests`.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`, as sent (for example `1s` or `6m0s`).
    pub reset_requests: Option<String>,
    /// `x-ratelimit-limit-tokens`.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`, as sent.
    pub reset_tokens: Option<String>,
}

impl RateLimit {
    /// Whether the server sent any rate-limit header.
    pub fn is_empty(&self) -> bool {
        *self == RateLimit::default()
    }
}

/// The wait a response asks for before a retry: `retry-after-ms`, else `Retry-After` in seconds or as an
/// HTTP date. A wait of zero, or a date already past, is no request at all (the backoff applies).
pub(crate) fn retry_after(headers: &Headers, now_unix: u64) -> Option<Duration> {
    let seconds = |text: &str| {
        let value = text.parse::<f64>().ok()?;
        (value > 0.0 && value < 1e9).then(|| Duration::from_secs_f64(value))
    };
    if let Some(ms) = headers.get("retry-after-ms").and_then(seconds) {
        return Some(ms / 1000);
    }
    let text = headers.get("retry-after")?;
    seconds(text).or_else(|| {
        let at = crate::retry::parse_http_date(text)?;
        (at > now_unix).then(|| Duration::from_secs(at - now_unix))
    })
}

/// The `x-should-retry` header: `Some(true)` asks for a retry, `Some(false)` forbids one.
pub(crate) fn should_retry(headers: &Headers) -> Option<bool> {
    match headers.get("x-should-retry") {
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_prefers_exact_names_then_gateway_copies() {
        let h = Headers::from_pairs([
            ("llm_provider-x-siliconcloud-trace-id", "renamed"),
            ("X-Request-Id", "req"),
        ]);
        assert_eq!(h.request_id(), Some("req"));
        let h = Headers::from_pairs([
            ("llm_provider-x-request-id", "b"),
            ("llm_provider-x-siliconcloud-trace-id", "a"),
        ]);
        assert_eq!(h.request_id(), Some("a"));
        let h = Headers::from_pairs([("x-siliconcloud-trace-id", " "), ("x-request-id", "r")]);
        assert_eq!(h.request_id(), Some("r"), "blank values are skipped");
        assert_eq!(
            Headers::from_pairs([("not-x-request-idx", "n")]).request_id(),
            None
        );
        assert_eq!(
            Headers::from_pairs([("xx-request-id", "n")]).request_id(),
            None,
            "the prefix is separated by a dash"
        );
    }

    #[test]
    fn retry_after_forms() {
        let h = |pairs: &[(&str, &str)]| Headers::from_pairs(pairs.iter().copied());
        assert_eq!(
            retry_after(&h(&[("retry-after-ms", "250")]), 0),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&h(&[("Retry-After", "2")]), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after(&h(&[("Retry-After", "0")]), 0), None);
        let date = "Wed, 25 Nov 2026 13:44:49 GMT"; // 1795614289
        assert_eq!(
            retry_after(&h(&[("Retry-After", date)]), 1_795_614_280),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            retry_after(&h(&[("Retry-After", date)]), 1_795_614_289),
            None,
            "a date now or past asks for nothing"
        );
        assert_eq!(retry_after(&h(&[("Retry-After", "soon")]), 0), None);
    }

    #[test]
    fn rate_limit_headers() {
        let meta = ResponseMeta::new(
            429,
            Headers::from_pairs([
                ("x-ratelimit-limit-requests", "60"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]),
        );
        let limit = meta.rate_limit();
        assert_eq!(limit.limit_requests, Some(60));
        assert_eq!(limit.reset_tokens.as_deref(), Some("6m0s"));
        assert!(!limit.is_empty());
        assert!(ResponseMeta::default().rate_limit().is_empty());
    }
}
