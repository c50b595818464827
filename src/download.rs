//! Binary answers: generated images and videos, speech, files. They are written into any [`Write`] as they
//! arrive ([`Download`]), or, for the conveniences that return bytes, read whole up to a documented limit
//! ([`DownloadedBytes`]).
//!
//! Every read runs under the request's limits, like a chat stream: the idle timeout between two reads,
//! the overall deadline, cancellation, and the **event timeout, which bounds the whole body** (default
//! 10 minutes; raise it with [`Client::with_event_timeout`] for a very large file on a slow link).
//! Nothing is held in memory beyond one read buffer, whatever the body's size, except a JSON answer
//! where audio was expected, read whole (up to `max_event_size`) to tell an error from the rest.
//!
//! Generated images and videos live at pre-signed URLs on another host (SiliconFlow's object storage):
//! [`Client::download_image`] and [`Client::download_video`] fetch them **without the API key or any
//! header of yours**, through the same connection pool, timeouts and retries. The URLs expire (images one
//! hour after generation, videos after 10 minutes to an hour): download promptly; an expired URL answers
//! an HTTP error ([`Error::Api`]).

use std::io::{Read, Write};

use crate::body::read_error;
use crate::client::{api_error, with_response, Call, Client, Exchange, Method, Payload, Target};
use crate::error::Error;
use crate::json::TopLevel;
use crate::meta::ResponseMeta;

/// A binary body written into a writer: how many bytes, and the response it came from.
///
/// ```no_run
/// # let client = siliconflow::Client::from_env()?;
/// let mut file = std::fs::File::create("image.png").map_err(|e| siliconflow::Error::Write { source: e })?;
/// let download = client.download_image("https://example.com/outputs/1.png?Expires=…", &mut file)?;
/// println!("{} bytes of {:?}", download.bytes, download.content_type());
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Download {
    /// The number of bytes written.
    pub bytes: u64,
    pub(crate) response: ResponseMeta,
}

with_response!(Download);

impl Download {
    /// The `Content-Type` the server sent, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.response.header("content-type")
    }
}

/// A binary body read whole into memory (bounded by the call's documented limit), and the response it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DownloadedBytes {
    /// The body.
    pub data: Vec<u8>,
    pub(crate) response: ResponseMeta,
}

with_response!(DownloadedBytes);

impl DownloadedBytes {
    /// The `Content-Type` the server sent, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.response.header("content-type")
    }
}

impl Client {
    /// Downloads a generated image (a URL from [`ImageResponse::urls`](crate::ImageResponse::urls)) into
    /// `out`, as it arrives.
    ///
    /// The URL is on another host: nothing of yours is sent there (no API key, no extra headers or query
    /// parameters of the client). **The URL expires one hour after generation**; an expired one answers
    /// an HTTP error status, [`Error::Api`]. Only `http` and `https` URLs are accepted
    /// ([`Error::InvalidConfig`] otherwise). Errors, retries and timeouts are those of
    /// [`Client::chat`]; the event timeout bounds the whole download (see the
    /// [module docs](crate::download)). A failure of `out` is [`Error::Write`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, ImageRequest};
    ///
    /// let client = Client::from_env()?;
    /// let images = client.generate_images(&ImageRequest::new("Kwai-Kolors/Kolors", "a red fox in the snow"))?;
    /// for (i, url) in images.urls().enumerate() {
    ///     let mut file = std::fs::File::create(format!("fox-{i}.png")).map_err(|e| siliconflow::Error::Write { source: e })?;
    ///     client.download_image(url, &mut file)?;
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn download_image(&self, url: &str, out: &mut dyn Write) -> Result<Download, Error> {
        self.fetch_to(external(url), out, false)
    }

    /// Downloads a generated video (a URL from
    /// [`VideoStatusResponse::video_urls`](crate::VideoStatusResponse::video_urls)) into `out`, as it
    /// arrives, exactly like [`Client::download_image`]. **The URL expires** (SiliconFlow's pages say
    /// after 10 minutes and after an hour): download as soon as the job has succeeded.
    ///
    /// ```no_run
    /// # let client = siliconflow::Client::from_env()?;
    /// # let url = "https://example.com/outputs/video.mp4";
    /// let mut file = std::fs::File::create("video.mp4").map_err(|e| siliconflow::Error::Write { source: e })?;
    /// let download = client.download_video(url, &mut file)?;
    /// println!("{} bytes", download.bytes);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn download_video(&self, url: &str, out: &mut dyn Write) -> Result<Download, Error> {
        self.fetch_to(external(url), out, false)
    }

    /// Sends `call` and writes its 2xx body into `out` as it arrives. `json_errors`: an answer sent as
    /// `application/json` that is an error object is [`Error::Api`] (for endpoints whose success is never
    /// JSON), not bytes to write.
    pub(crate) fn fetch_to(
        &self,
        call: Call<'_>,
        out: &mut dyn Write,
        json_errors: bool,
    ) -> Result<Download, Error> {
        let run = || {
            let (meta, mut body) = match self.binary_exchange(call, json_errors)? {
                Binary::Body(exchange) => (exchange.meta, exchange.body),
                Binary::Json(meta, bytes) => {
                    out.write_all(&bytes)
                        .map_err(|e| Error::Write { source: e })?;
                    return Ok(Download {
                        bytes: bytes.len() as u64,
                        response: meta,
                    });
                }
            };
            let bytes = body.copy_to(out)?;
            out.flush().map_err(|e| Error::Write { source: e })?;
            Ok(Download {
                bytes,
                response: meta,
            })
        };
        run().map_err(|e| self.redact(e))
    }

    /// Sends `call` and reads its whole 2xx body, failing with [`Error::BodyTooLarge`] past `limit`
    /// bytes. `json_errors` as for [`fetch_to`](Self::fetch_to).
    pub(crate) fn fetch_bytes(
        &self,
        call: Call<'_>,
        limit: u64,
        json_errors: bool,
    ) -> Result<DownloadedBytes, Error> {
        let run = || {
            let exchange = match self.binary_exchange(call, json_errors)? {
                Binary::Body(exchange) => *exchange,
                Binary::Json(meta, data) => {
                    if data.len() as u64 > limit {
                        return Err(Error::BodyTooLarge { limit });
                    }
                    return Ok(DownloadedBytes {
                        data,
                        response: meta,
                    });
                }
            };
            let Exchange { meta, mut body, .. } = exchange;
            let length = meta
                .header("content-length")
                .and_then(|n| n.trim().parse::<u64>().ok());
            if length.is_some_and(|n| n > limit) {
                // Announced past the limit: nothing is read.
                return Err(Error::BodyTooLarge { limit });
            }
            match read_capped(&mut body, limit, length).map_err(read_error)? {
                Some(data) => Ok(DownloadedBytes {
                    data,
                    response: meta,
                }),
                None => Err(Error::BodyTooLarge { limit }),
            }
        };
        run().map_err(|e| self.redact(e))
    }

    /// Sends `call`; with `json_errors`, a JSON answer is read (bounded by `max_event_size`) and returned
    /// whole, or as [`Error::Api`] when it is an error object.
    fn binary_exchange(&self, call: Call<'_>, json_errors: bool) -> Result<Binary, Error> {
        let mut exchange = self.execute(call)?;
        if !(json_errors && exchange.meta.is_mime("application/json")) {
            return Ok(Binary::Body(Box::new(exchange)));
        }
        let bytes = exchange.body.read_bounded(self.limits().max_event_size)?;
        // An error object, or SiliconFlow's `code` + `message` (the chat rule: no audio has `choices`).
        if TopLevel::of(&bytes).is_error(true) {
            return Err(Error::Api(Box::new(api_error(
                &exchange.meta,
                &bytes,
                self.redactor(),
            ))));
        }
        Ok(Binary::Json(exchange.meta, bytes))
    }
}

/// A binary answer: its body still to read, or a JSON answer already read.
enum Binary {
    Body(Box<Exchange>),
    Json(ResponseMeta, Vec<u8>),
}

/// `GET` of an absolute URL on another host, with no key and no header of the caller's.
pub(crate) fn external(url: &str) -> Call<'_> {
    Call {
        method: Method::Get,
        target: Target::External(url),
        payload: Payload::Empty,
        accept: "*/*",
        // A file that exists already: its head comes at once, so the idle timeout bounds the wait.
        streaming: true,
    }
}

/// The first read's buffer when the length is not announced.
const FIRST_READ: usize = 64 * 1024;

/// Reads `reader` to its end into a buffer that never holds more than `limit + 1` bytes (`Ok(None)` past
/// `limit`): sized to `length` when announced, otherwise doubled, each growth capped at the limit, so a
/// body one byte over 64 MiB costs 64 MiB, not the 128 MiB `read_to_end`'s doubling would reach.
fn read_capped(
    reader: &mut impl Read,
    limit: u64,
    length: Option<u64>,
) -> std::io::Result<Option<Vec<u8>>> {
    // At most `limit + 1` bytes are ever held: past `usize::MAX` (32-bit targets) the cap is what memory
    // allows anyway.
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let first = length.map_or(FIRST_READ, |n| {
        // The announced length, and room to see one byte more (a body longer than announced fails in
        // the HTTP layer; the byte keeps this reader's own check honest).
        usize::try_from(n).map_or(cap, |n| n.saturating_add(1))
    });
    let mut data = vec![0u8; first.min(cap)];
    let mut len = 0;
    loop {
        if len == data.len() {
            if data.len() >= cap {
                return Ok(None);
            }
            let grown = data.len().saturating_mul(2).max(FIRST_READ).min(cap);
            // Exactly: `resize` alone would grow the capacity by doubling (64 MiB + 1 -> 128 MiB).
            data.reserve_exact(grown - data.len());
            data.resize(grown, 0);
        }
        match reader.read(&mut data[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if len as u64 > limit {
        return Ok(None);
    }
    data.truncate(len);
    data.shrink_to_fit();
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// A server that answers each of `answers` connections with `body` (after reading the request head).
    fn serve(body: Vec<u8>, content_type: &'static str, answers: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/outputs/a.bin", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for _ in 0..answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let mut out = stream;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).unwrap();
                out.write_all(&body).unwrap();
            }
        });
        url
    }

    fn client() -> Client {
        Client::builder()
            .api_key("sk-test-download")
            .retry_policy(crate::retry::RetryPolicy::none())
            .build()
            .unwrap()
    }

    /// Gives `data` a few bytes at a time.
    struct Dribble<'a>(&'a [u8], usize);

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.1 = self.1 % 7 + 1;
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_capped_holds_at_most_the_limit_and_a_byte() {
        for limit in [0u64, 1, 100, 70_000, 200_000] {
            for size in [0usize, 1, 99, 100, 101, 65_536, 70_000, 70_001, 150_000] {
                let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
                for length in [None, Some(size as u64), Some(size as u64 / 2)] {
                    let got = read_capped(&mut Dribble(&body, 0), limit, length).unwrap();
                    let case = format!("limit {limit}, size {size}, length {length:?}");
                    if size as u64 <= limit {
                        let data = got.unwrap_or_else(|| panic!("{case}"));
                        assert_eq!(data, body, "{case}");
                        assert!(
                            data.capacity() <= size.max(1),
                            "{case}: {}",
                            data.capacity()
                        );
                    } else {
                        assert!(got.is_none(), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn bytes_past_the_limit_are_body_too_large() {
        let url = serve(vec![5u8; 2000], "audio/mpeg", 3);
        let client = client();
        let result = client.fetch_bytes(external(&url), 1999, false);
        assert!(
            matches!(result, Err(Error::BodyTooLarge { limit: 1999 })),
            "{result:?}"
        );
        let whole = client.fetch_bytes(external(&url), 2000, false).unwrap();
        assert_eq!(whole.data, vec![5u8; 2000]);
        assert_eq!(whole.content_type(), Some("audio/mpeg"));
        let mut out = Vec::new();
        assert_eq!(
            client
                .fetch_to(external(&url), &mut out, false)
                .unwrap()
                .bytes,
            2000
        );
    }

    #[test]
    fn a_json_answer_that_is_not_an_error_is_the_body() {
        let url = serve(
            br#"{"audio":"not an error"}"#.to_vec(),
            "application/json",
            2,
        );
        let client = client();
        let bytes = client.fetch_bytes(external(&url), 1000, true).unwrap();
        assert_eq!(bytes.data, br#"{"audio":"not an error"}"#);
        let mut out = Vec::new();
        client.fetch_to(external(&url), &mut out, true).unwrap();
        assert_eq!(out, bytes.data);
    }
}
