//! Sending one request: its attempts and retries, each under the request's limits, each logged.
//!
//! This is the one place that talks to ureq. Every phase of an attempt runs inside the request's
//! [`Limits`] (see [`crate::net::scope`]): connecting, sending the head and the body, waiting for the
//! response head, reading any body (through [`ResponseBody`]). ureq's own timeouts cover only the connect
//! (TCP and TLS) and the wait for the response head; the deadline, the idle and event timeouts and
//! cancellation are enforced by the socket transport on every read and write.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ureq::http::header::{ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use ureq::http::{HeaderName, HeaderValue, Response};
use ureq::RequestBuilder;

use super::response::api_error;
use super::{settings, Client};
use crate::body::ResponseBody;
use crate::error::{Error, TimeoutKind, MAX_ERROR_BODY};
use crate::meta::ResponseMeta;
use crate::net::resolver::LookupFailed;
use crate::net::scope::{self, Limits, Stop};
use crate::net::ConnectFailed;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A path under the base URL (`chat/completions`, `models?type=text`), sent with the key, the builder's
    /// headers and the request's extra headers and query.
    Api(&'a str),
    /// An absolute `http(s)` URL on another host (a generated image), sent without the key or any header of
    /// the caller's: nothing of the caller's identity leaves for a host the caller did not configure.
    External(&'a str),
}

/// A request body read from a source (a multipart form): its type, its length when known, and a reader
/// from its start for each attempt.
pub(crate) trait Upload {
    /// The `Content-Type` header value.
    fn content_type(&self) -> String;
    /// The body's length, when every part's is known (else it is sent chunked).
    fn content_length(&self) -> Option<u64>;
    /// A reader of the whole body from its start.
    fn reader(&mut self) -> io::Result<Box<dyn Read + '_>>;
    /// Whether [`reader`](Self::reader) can start again after a reader has been used (bytes and files
    /// can, a caller's one-shot reader cannot).
    fn replayable(&self) -> bool;
}

/// The body of a request.
pub(crate) enum Payload<'a> {
    Empty,
    Json(Vec<u8>),
    Upload(&'a mut dyn Upload),
}

/// One request to send, with its retries.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub target: Target<'a>,
    pub payload: Payload<'a>,
    /// The `Accept` header.
    pub accept: &'static str,
    /// A streamed answer: the idle timeout also bounds the wait for the response head.
    pub streaming: bool,
}

impl<'a> Call<'a> {
    /// `GET` of a path under the base URL, for a JSON answer.
    pub(crate) fn get(path: &'a str) -> Self {
        Call {
            method: Method::Get,
            target: Target::Api(path),
            payload: Payload::Empty,
            accept: "application/json",
            streaming: false,
        }
    }

    /// `POST` of a JSON body to a path under the base URL, for a JSON answer.
    pub(crate) fn post_json(path: &'a str, body: Vec<u8>) -> Self {
        Call {
            method: Method::Post,
            target: Target::Api(path),
            payload: Payload::Json(body),
            accept: "application/json",
            streaming: false,
        }
    }
}

/// A successful (2xx) response: its metadata and its body, ready to be read under the request's limits.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub meta: ResponseMeta,
    pub body: ResponseBody,
    /// When the request was first sent, and how long its response head took (retries included).
    pub started: Instant,
    pub head_after: Duration,
}

/// What an attempt ended with, besides the error: whether it read any of a one-shot upload.
struct Attempt {
    upload_touched: bool,
}

impl Client {
    /// Sends `call`, retrying what the [`RetryPolicy`](crate::RetryPolicy) allows, and returns the 2xx
    /// response. HTTP error statuses become [`Error::Api`] with the body read and parsed. Errors are
    /// scrubbed of the key.
    pub(crate) fn execute(&self, mut call: Call<'_>) -> Result<Exchange, Error> {
        self.execute_inner(&mut call)
            .map_err(|e| self.shared.redactor.error(e))
    }

    fn execute_inner(&self, call: &mut Call<'_>) -> Result<Exchange, Error> {
        let s = &self.settings;
        let started = Instant::now();
        let deadline = s.deadline.and_then(|d| started.checked_add(d));
        let url = self.url(call.target)?;
        let extra = match call.target {
            Target::Api(_) => s
                .extra_headers
                .iter()
                .map(|(name, value)| settings::header(name, value))
                .collect::<Result<Vec<_>, _>>()?,
            Target::External(_) => Vec::new(),
        };
        // A URL or an id in the path may come from the server (an image's URL, a result file's id):
        // scrubbed like an error.
        let mut what = format!("{} {}", call.method.as_str(), log_path(call.target));
        self.shared.redactor.scrub(&mut what);
        let mut retry = 0;
        loop {
            log::debug!("{what}: attempt {}", retry + 1);
            let mut attempt = Attempt {
                upload_touched: false,
            };
            let error = match self.attempt(call, &url, &extra, deadline, &mut attempt) {
                Ok(mut exchange) => {
                    exchange.started = started;
                    exchange.head_after = started.elapsed();
                    log::debug!(
                        "{what}: HTTP {} after {:?}, request id {}",
                        exchange.meta.status(),
                        exchange.head_after,
                        exchange.meta.request_id().unwrap_or("-")
                    );
                    return Ok(exchange);
                }
                Err(error) => self.shared.redactor.error(error),
            };
            let request_id = error
                .api_error()
                .and_then(|e| e.request_id.clone())
                .unwrap_or_else(|| "-".to_string());
            let replayable = match &call.payload {
                Payload::Upload(upload) => upload.replayable() || !attempt.upload_touched,
                _ => true,
            };
            // Everything here failed before the response: an idle or event timeout too (a stalled upload, a
            // streaming request's head that does not come) is worth another attempt.
            let before_response = matches!(
                error,
                Error::Timeout(TimeoutKind::Idle | TimeoutKind::Event)
            );
            let delay = ((error.is_retryable() || before_response) && replayable)
                .then(|| s.retry.delay(retry, error.retry_after()))
                .flatten();
            let Some(delay) = delay else {
                log::info!(
                    "{what}: failed (attempt {}, request id {request_id}): {error}",
                    retry + 1
                );
                return Err(error);
            };
            if deadline.is_some_and(|d| Instant::now().checked_add(delay).is_none_or(|t| t >= d)) {
                log::info!(
                    "{what}: failed (attempt {}, request id {request_id}), no time left for a retry \
                     before the deadline: {error}",
                    retry + 1
                );
                return Err(error);
            }
            log::warn!(
                "{what}: attempt {} failed (request id {request_id}): {error}; retrying in {delay:?}",
                retry + 1
            );
            self.pause(delay)?;
            retry += 1;
        }
    }

    /// The URL of a target, with the request's extra query parameters for API paths.
    fn url(&self, target: Target<'_>) -> Result<String, Error> {
        match target {
            Target::Api(path) => {
                api_path_is_whole(path)?;
                let mut url = format!("{}/{}", self.shared.base_url, path);
                crate::query::append(
                    &mut url,
                    self.settings
                        .extra_query
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                );
                Ok(url)
            }
            Target::External(url) => {
                let parsed = url
                    .parse::<ureq::http::Uri>()
                    .map_err(|_| Error::InvalidConfig(format!("{url:?} is not a valid URL")))?;
                if !matches!(parsed.scheme_str(), Some("http" | "https"))
                    || parsed.host().is_none_or(str::is_empty)
                {
                    return Err(Error::InvalidConfig(format!(
                        "{url:?} is not an http(s) URL with a host"
                    )));
                }
                Ok(url.to_string())
            }
        }
    }

    /// One attempt: connect, send, wait for the head, all under the request's limits.
    fn attempt(
        &self,
        call: &mut Call<'_>,
        url: &str,
        extra: &[(HeaderName, HeaderValue)],
        deadline: Option<Instant>,
        attempt: &mut Attempt,
    ) -> Result<Exchange, Error> {
        let s = &self.settings;
        let mut limits = Limits {
            deadline,
            read_idle: if call.streaming { s.idle_timeout } else { None },
            write_idle: s.idle_timeout,
            // The whole request (head and body) must be sent within the event timeout: a server that
            // takes the bytes one at a time cannot keep the send going for ever.
            write_unit: s.event_timeout.and_then(|t| Instant::now().checked_add(t)),
            cancel: s.cancel.clone(),
            ..Limits::default()
        };
        if let Err(stop) = limits.bound(false) {
            return Err(stop_error(stop));
        }
        let agent = &self.shared.agent;
        let (result, stop) = match (call.method, &mut call.payload) {
            (Method::Get, _) => {
                let request = self.prepare(agent.get(url), call.target, call.accept, extra);
                scope::scoped(&mut limits, || request.call())
            }
            (Method::Delete, _) => {
                let request = self.prepare(agent.delete(url), call.target, call.accept, extra);
                scope::scoped(&mut limits, || request.call())
            }
            (Method::Post, Payload::Empty) => {
                let request = self.prepare(agent.post(url), call.target, call.accept, extra);
                scope::scoped(&mut limits, || request.send_empty())
            }
            (Method::Post, Payload::Json(body)) => {
                let request = self
                    .prepare(agent.post(url), call.target, call.accept, extra)
                    .header(CONTENT_TYPE, "application/json");
                scope::scoped(&mut limits, || request.send(&body[..]))
            }
            (Method::Post, Payload::Upload(upload)) => {
                let mut request = self
                    .prepare(agent.post(url), call.target, call.accept, extra)
                    .header(CONTENT_TYPE, upload.content_type());
                if let Some(length) = upload.content_length() {
                    request = request.header(CONTENT_LENGTH, length);
                }
                let reader = upload.reader().map_err(|e| Error::Upload { source: e })?;
                let mut reader = Touched {
                    inner: reader,
                    touched: &mut attempt.upload_touched,
                };
                scope::scoped(&mut limits, || {
                    request.send(ureq::SendBody::from_reader(&mut reader))
                })
            }
        };
        let response = result.map_err(|e| match stop {
            Some(stop) => stop_error(stop),
            None => send_error(e),
        })?;
        self.response(response, deadline)
    }

    /// Adds the headers and ureq's phase timeouts.
    fn prepare<B>(
        &self,
        request: RequestBuilder<B>,
        target: Target<'_>,
        accept: &'static str,
        extra: &[(HeaderName, HeaderValue)],
    ) -> RequestBuilder<B> {
        let shared = &self.shared;
        let s = &self.settings;
        // `identity`: no compression layer may hold text back, and this client decodes none.
        let mut request = request
            .header(ACCEPT, accept)
            .header(ACCEPT_ENCODING, "identity");
        if let Target::Api(_) = target {
            request = request.header(AUTHORIZATION, shared.authorization.0.clone());
            for (name, value) in shared.headers.iter().chain(extra) {
                request = request.header(name, value);
            }
        }
        request
            .config()
            .timeout_connect(Some(s.connect_timeout))
            .timeout_recv_response(Some(s.response_timeout))
            .build()
    }

    /// Turns a response head into an [`Exchange`] (2xx) or an [`Error::Api`] (the body read, bounded).
    fn response(
        &self,
        response: Response<ureq::Body>,
        deadline: Option<Instant>,
    ) -> Result<Exchange, Error> {
        let s = &self.settings;
        let mut meta = ResponseMeta::from_response(&response);
        self.shared.redactor.headers(meta.headers_mut());
        let encoding = meta
            .header("content-encoding")
            .filter(|e| !e.eq_ignore_ascii_case("identity"))
            .map(str::to_string);
        let limits = Limits {
            deadline,
            read_idle: s.idle_timeout,
            cancel: s.cancel.clone(),
            ..Limits::default()
        };
        let body = ResponseBody::new(response.into_body().into_reader(), limits, s.event_timeout);
        let success = (200..300).contains(&meta.status());
        if let Some(encoding) = encoding {
            let reason = format!(
                "the response body is compressed ({encoding}) although `Accept-Encoding: identity` \
                 was sent; this client does not decompress"
            );
            if success {
                return Err(Error::Protocol {
                    reason,
                    source: None,
                });
            }
            let mut error = api_error(&meta, &[], &self.shared.redactor);
            error.message = reason;
            return Err(Error::Api(Box::new(error)));
        }
        if success {
            return Ok(Exchange {
                meta,
                body,
                started: Instant::now(),
                head_after: Duration::ZERO,
            });
        }
        let mut body = body;
        let margin = self.shared.redactor.margin();
        let raw = body.read_prefix(MAX_ERROR_BODY + margin)?;
        Err(Error::Api(Box::new(api_error(
            &meta,
            &raw,
            &self.shared.redactor,
        ))))
    }
}

/// The path shown in logs: an API path as is, an external URL without its query (which may hold a
/// signature).
fn log_path(target: Target<'_>) -> &str {
    match target {
        Target::Api(path) => path,
        Target::External(url) => url.split('?').next().unwrap_or(url),
    }
}

/// A reader that notes whether it was read at all (a one-shot upload that was not can still be retried).
struct Touched<'r, R> {
    inner: R,
    touched: &'r mut bool,
}

impl<R: Read> Read for Touched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The caller's source is outside the socket's bounds: a deadline or event timeout that passed, or
        // a cancel, while its last read blocked stops the upload before it is read again.
        let stop = scope::with_current(|limits| limits.map_or(Ok(None), |l| l.bound(false)));
        if let Err(stop) = stop {
            scope::record(stop);
            return Err(scope::io_error(stop));
        }
        *self.touched = true;
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), UploadFailed(e)))
    }
}

/// The payload of the I/O error of an upload whose source failed (a file that could not be read): the
/// caller's failure, not the network's.
#[derive(Debug)]
struct UploadFailed(io::Error);

impl std::fmt::Display for UploadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading the upload failed: {}", self.0)
    }
}

impl std::error::Error for UploadFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The error for an operation one of the request's limits stopped.
pub(crate) fn stop_error(stop: Stop) -> Error {
    match stop {
        Stop::Timeout(kind) => Error::Timeout(kind),
        Stop::Cancelled => Error::Cancelled,
        Stop::WouldBlock => Error::Transport {
            source: Box::new(scope::io_error(stop)),
        },
    }
}

/// Maps a failure to connect, send a request or receive its head.
fn send_error(error: ureq::Error) -> Error {
    use std::io::ErrorKind as Kind;
    use ureq::Timeout;
    match error {
        ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<UploadFailed>()) => {
            Error::Upload { source: e }
        }
        ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<ConnectFailed>()) => {
            Error::Connect {
                source: Box::new(e),
            }
        }
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => {
            Error::Timeout(TimeoutKind::Connect)
        }
        ureq::Error::Timeout(_) => Error::Timeout(TimeoutKind::Response),
        ureq::Error::Io(e)
            if e.get_ref().is_some_and(|inner| inner.is::<LookupFailed>())
                || matches!(
                    e.kind(),
                    Kind::ConnectionRefused
                        | Kind::AddrNotAvailable
                        | Kind::NetworkUnreachable
                        | Kind::HostUnreachable
                        | Kind::NetworkDown
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
        e @ (ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_)) => Error::InvalidConfig(e.to_string()),
        e @ ureq::Error::LargeResponseHeader(..) => Error::Protocol {
            reason: "the response head is larger than the 64 KiB limit".to_string(),
            source: Some(Box::new(e)),
        },
        e @ (ureq::Error::Protocol(_) | ureq::Error::BodyExceedsLimit(_)) => Error::Protocol {
            reason: "the response is not valid HTTP/1.1".to_string(),
            source: Some(Box::new(e)),
        },
        other => Error::Transport {
            source: Box::new(other),
        },
    }
}

/// Refuses an API path with an empty, `.` or `..` segment: the ids put in paths (a batch's, a file's) are
/// percent-encoded, but `.` is a character a path may hold, so an id that is `.`, `..` or empty would make
/// a dot segment or an empty one, which servers, proxies and gateways that normalise paths resolve to
/// another endpoint (`batches/../cancel` is `cancel`), with the key.
fn api_path_is_whole(path: &str) -> Result<(), Error> {
    let path = path.split('?').next().unwrap_or(path);
    match path
        .split('/')
        .find(|s| s.is_empty() || *s == "." || *s == "..")
    {
        Some(segment) => {
            Err(Error::InvalidConfig(format!(
            "an id in the request path ({path:?}) is {}: it would change which endpoint is called",
            if segment.is_empty() { "empty" } else { "a dot segment" }
        )))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_paths_with_an_empty_or_dot_segment_are_refused() {
        for path in [
            "batches/",
            "batches/.",
            "batches/..",
            "batches/../cancel",
            "files//content",
            "files/./content",
        ] {
            assert!(
                matches!(super::api_path_is_whole(path), Err(Error::InvalidConfig(_))),
                "{path}"
            );
        }
        for path in [
            "chat/completions",
            "batches/b-1",
            "batches/..%2Fx/cancel",
            "files/a.b/content",
            "models?type=.",
        ] {
            assert!(super::api_path_is_whole(path).is_ok(), "{path}");
        }
    }

    use super::*;
    use crate::cancel::CancelHandle;
    use crate::net::scope::Limits;
    use std::time::Duration;

    /// Counts the reads that reach the caller's source.
    struct Counted(usize);

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0 += 1;
            buf[0] = b'x';
            Ok(1)
        }
    }

    fn read_once(limits: Limits) -> (io::Result<usize>, Option<Stop>, usize, bool) {
        let mut limits = limits;
        let mut touched = false;
        let mut reader = Touched {
            inner: Counted(0),
            touched: &mut touched,
        };
        let (result, stop) = scope::scoped(&mut limits, || reader.read(&mut [0u8; 4]));
        let reads = reader.inner.0;
        (result, stop, reads, touched)
    }

    #[test]
    fn a_passed_limit_stops_the_upload_before_its_source_is_read_again() {
        let cancel = CancelHandle::new();
        cancel.cancel();
        let past = Instant::now().checked_sub(Duration::from_millis(1));
        for (limits, expected) in [
            (
                Limits {
                    cancel: Some(cancel),
                    ..Limits::default()
                },
                Stop::Cancelled,
            ),
            (
                Limits {
                    deadline: past,
                    ..Limits::default()
                },
                Stop::Timeout(TimeoutKind::Deadline),
            ),
            (
                Limits {
                    write_unit: past,
                    ..Limits::default()
                },
                Stop::Timeout(TimeoutKind::Event),
            ),
        ] {
            let (result, stop, reads, touched) = read_once(limits);
            assert!(result.is_err(), "{expected:?}");
            assert_eq!(stop, Some(expected));
            assert_eq!((reads, touched), (0, false), "{expected:?}");
        }
        let (result, stop, reads, touched) = read_once(Limits::default());
        assert_eq!((result.unwrap(), stop, reads, touched), (1, None, 1, true));
    }
}
