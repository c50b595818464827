//! What a response turns into: a JSON result carrying its [`ResponseMeta`], or an [`ApiError`].

use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::send::Call;
use super::Client;
use crate::error::{ApiError, Error, MAX_SNIPPET};
use crate::json::{from_slice_lenient, TopLevel};
use crate::meta::{self, ResponseMeta};
use crate::redact::Redactor;

/// A result that carries the metadata of the response it came from.
pub(crate) trait WithResponse {
    /// Stores the metadata.
    fn set_response(&mut self, meta: ResponseMeta);
}

/// Implements [`WithResponse`] and the public `response()` / `request_id()` accessors for result types
/// with a `response: ResponseMeta` field.
macro_rules! with_response {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::client::WithResponse for $ty {
                fn set_response(&mut self, meta: $crate::meta::ResponseMeta) {
                    self.response = meta;
                }
            }

            impl $ty {
                /// The status, headers and request id of the response this came from (empty for a value
                /// built or deserialized by hand).
                pub fn response(&self) -> &$crate::meta::ResponseMeta {
                    &self.response
                }

                /// The request id of the response this came from, to quote to support.
                pub fn request_id(&self) -> Option<&str> {
                    self.response.request_id()
                }
            }
        )*
    };
}
pub(crate) use with_response;

impl Client {
    /// Sends `call` and reads its whole body (bounded by `max_event_size`, every read under the request's
    /// limits) as the JSON `T`. `chat`: SiliconFlow's `code` + `message` without `choices` is an error too.
    pub(crate) fn call_json<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        chat: bool,
    ) -> Result<(T, ResponseMeta), Error> {
        let run = || {
            let mut exchange = self.execute(call)?;
            let body = exchange
                .body
                .read_bounded(self.settings.limits.max_event_size)?;
            let value = parse_body(&body, &exchange.meta, chat, &self.shared.redactor)?;
            Ok((value, exchange.meta))
        };
        run().map_err(|e| self.redact(e))
    }

    /// Sends `call` and reads its whole body (bounded by `max_event_size`, every read under the request's
    /// limits), for answers parsed by their endpoint (an envelope, a list of lines).
    pub(crate) fn call_body(&self, call: Call<'_>) -> Result<(Vec<u8>, ResponseMeta), Error> {
        let run = || {
            let mut exchange = self.execute(call)?;
            let body = exchange
                .body
                .read_bounded(self.settings.limits.max_event_size)?;
            Ok((body, exchange.meta))
        };
        run().map_err(|e| self.redact(e))
    }

    /// `GET {base}/{path}` and the JSON answer, with the same errors, retries and limits as chat.
    pub(crate) fn get_json<T: DeserializeOwned + WithResponse>(
        &self,
        path: &str,
    ) -> Result<T, Error> {
        let (mut value, meta) = self.call_json::<T>(Call::get(path), false)?;
        value.set_response(meta);
        Ok(value)
    }

    /// `POST {base}/{path}` with a JSON body and the JSON answer, with the same errors, retries and limits
    /// as chat.
    pub(crate) fn post_json<B: Serialize, T: DeserializeOwned + WithResponse>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body).map_err(Error::Serialize)?;
        let (mut value, meta) = self.call_json::<T>(Call::post_json(path, body), false)?;
        value.set_response(meta);
        Ok(value)
    }
}

/// Parses a whole JSON answer: an error object in it is [`Error::Api`], a body of another shape is
/// [`Error::MalformedChunk`] naming it (scrubbed, then cut).
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: &[u8],
    meta: &ResponseMeta,
    chat: bool,
    redactor: &Redactor,
) -> Result<T, Error> {
    if TopLevel::of(body).is_error(chat) {
        return Err(Error::Api(Box::new(api_error(meta, body, redactor))));
    }
    from_slice_lenient(body).map_err(|source| Error::MalformedChunk {
        event: 0,
        data: redactor.scrub_cut(&String::from_utf8_lossy(body), MAX_SNIPPET),
        source: source.into(),
    })
}

/// The [`ApiError`] of a response: its body scrubbed whole, then parsed and cut, with the response's
/// request id, headers and retry advice.
pub(crate) fn api_error(meta: &ResponseMeta, body: &[u8], redactor: &Redactor) -> ApiError {
    // Cut where the text as given reaches 64 KiB (a key past the cut stays out, whatever the scrubbing
    // before it shortened), every key before the cut scrubbed.
    let text = redactor.error_text(body);
    let mut error = ApiError::parse(meta.status(), text.as_bytes());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    error.retry_after = meta::retry_after(meta.headers(), now);
    error.should_retry = meta::should_retry(meta.headers());
    error.request_id = meta.request_id().map(str::to_string);
    error.headers = meta.headers().clone();
    error
}
