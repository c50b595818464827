//! SiliconFlow's two response styles, read by one helper.
//!
//! Most endpoints answer with the bare object (`{"id":"batch_…","status":"completed",…}`,
//! `{"object":"list","data":[…]}`). A few — `/user/info`, `POST /files`, `GET /files` — wrap it in an
//! envelope, `{"code":20000,"message":"Ok","status":true,"data":{…}}`, and report some failures inside
//! the envelope of a `200 OK` rather than with an HTTP status.
//!
//! [`unwrap`] takes either style and returns the object the caller wants: the envelope's `data`, or the
//! bare value itself. [`decode`] does the same and deserializes the result.
//!
//! A JSON object is read as an envelope when it has a `code` key, a boolean `status`, or both `message`
//! and `data` (the shape of SiliconFlow's error bodies); bare objects of every documented endpoint have
//! none of these (a batch's `status` is a string). An envelope succeeds when its `code` is absent,
//! `null` or `20000` (number or text), its `status` is not `false`, and its `data` is present and not
//! `null`; any other envelope is a failure, reported as an [`ApiError`] with status 200, the envelope's
//! code and message, and the envelope as body.
//!
//! ```
//! use serde_json::json;
//! use siliconflow::envelope;
//!
//! let wrapped = json!({"code": 20000, "message": "Ok", "status": true, "data": {"id": "file-1"}});
//! assert_eq!(envelope::unwrap(wrapped, "POST /files").unwrap(), json!({"id": "file-1"}));
//!
//! let bare = json!({"object": "list", "data": []});
//! assert_eq!(envelope::unwrap(bare.clone(), "GET /batches").unwrap(), bare);
//!
//! let failed = json!({"code": 30001, "message": "insufficient balance", "status": false, "data": null});
//! let error = envelope::unwrap(failed, "POST /files").unwrap_err();
//! assert_eq!((error.status, error.code.as_deref()), (200, Some("30001")));
//! assert_eq!(error.message, "insufficient balance");
//! ```

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::client::{api_error, Call, Client, WithResponse};
use crate::error::{ApiError, Error, MAX_SNIPPET};
use crate::json::{from_slice_lenient, without_duplicate_keys, TopLevel};
use crate::lenient::Lenient;
use crate::meta::ResponseMeta;
use crate::redact::cut;

/// The `code` of a successful envelope.
pub const SUCCESS_CODE: u64 = 20000;

/// Whether `value` is an envelope (see the [module docs](self) for the rule).
pub fn is_envelope(value: &Value) -> bool {
    match value {
        Value::Object(map) => is_envelope_map(map),
        _ => false,
    }
}

fn is_envelope_map(map: &Map<String, Value>) -> bool {
    map.contains_key("code")
        || matches!(map.get("status"), Some(Value::Bool(_)))
        || (map.contains_key("message") && map.contains_key("data"))
}

/// The object inside `value`: an envelope's `data`, or `value` itself when it is bare.
///
/// A failed envelope is an [`ApiError`] with status 200. `endpoint` (for example `"/user/info"`) only
/// names the call in the message of a failure envelope that carries no message of its own.
pub fn unwrap(value: Value, endpoint: &str) -> Result<Value, Box<ApiError>> {
    let Value::Object(mut map) = value else {
        return Ok(value);
    };
    if !is_envelope_map(&map) {
        return Ok(Value::Object(map));
    }
    let code_ok = match map.get("code") {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_u64() == Some(SUCCESS_CODE),
        Some(Value::String(s)) => s.trim() == SUCCESS_CODE.to_string(),
        Some(_) => false,
    };
    let status_ok = !matches!(map.get("status"), Some(Value::Bool(false)));
    let has_data = map.get("data").is_some_and(|data| !data.is_null());
    if code_ok && status_ok && has_data {
        return Ok(map.remove("data").unwrap_or_default());
    }
    let code = map.get("code").and_then(|code| match code {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    });
    let message = map
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string);
    let body = serde_json::to_vec(&map).unwrap_or_default();
    Err(Box::new(failure(code, message, &body, endpoint)))
}

/// The object inside `value` (see [`unwrap`]), deserialized.
///
/// A failure envelope is [`Error::Api`] with status 200; an object that does not deserialize as `T` is
/// [`Error::MalformedChunk`] (event 0) with the object's text.
pub fn decode<T: DeserializeOwned>(value: Value, endpoint: &str) -> Result<T, Error> {
    let data = unwrap(value, endpoint).map_err(Error::Api)?;
    T::deserialize(&data).map_err(|source| Error::MalformedChunk {
        event: 0,
        data: cut(&data.to_string(), MAX_SNIPPET),
        source: source.into(),
    })
}

/// Like [`decode`], from the bytes of a response body; a body that is not JSON is
/// [`Error::MalformedChunk`].
///
/// The envelope's fields are read as borrowed JSON text and `T` straight from its `data`, so no
/// `serde_json::Value` of the body is built: memory stays about the size of the body and of `T`, whatever
/// the body holds (`T`'s lists are bounded, see [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)). A failure
/// envelope gives the same [`ApiError`] as [`unwrap`] (its `body` is the body's text, cut to 64 KiB). Like
/// the client's other JSON answers, a key given twice keeps its last value (for bodies up to 1 MiB) and
/// lone surrogates read as U+FFFD.
pub fn decode_slice<T: DeserializeOwned>(body: &[u8], endpoint: &str) -> Result<T, Error> {
    decode_body(body, endpoint, &|text| cut(text, MAX_SNIPPET))
}

/// [`decode_slice`], with `snippet` making the text of a [`Error::MalformedChunk`] (the client scrubs its
/// key out before cutting).
pub(crate) fn decode_body<T: DeserializeOwned>(
    body: &[u8],
    endpoint: &str,
    snippet: &dyn Fn(&str) -> String,
) -> Result<T, Error> {
    let malformed = |source: serde_json::Error, text: &[u8]| Error::MalformedChunk {
        event: 0,
        data: snippet(&String::from_utf8_lossy(text)),
        source: source.into(),
    };
    // Only an object can be an envelope (serde would also read an array into the struct, by position).
    if body.trim_ascii_start().first() != Some(&b'{') {
        return from_slice_lenient(body).map_err(|e| malformed(e, body));
    }
    let raw = match serde_json::from_slice::<RawEnvelope<'_>>(body) {
        Ok(raw) => raw,
        Err(error) => {
            // One of the envelope's keys given twice: read it as Python does, the last value winning.
            return match without_duplicate_keys(body, &error) {
                Some(fixed) => decode_body(&fixed, endpoint, snippet),
                None => Err(malformed(error, body)),
            };
        }
    };
    let is_null = |v: Option<&RawValue>| v.is_none_or(|v| v.get() == "null");
    let is_bool = |v: Option<&RawValue>| matches!(v.map(RawValue::get), Some("true" | "false"));
    let envelope =
        raw.code.is_some() || is_bool(raw.status) || (raw.message.is_some() && raw.data.is_some());
    if !envelope {
        return from_slice_lenient(body).map_err(|e| malformed(e, body));
    }
    let code_ok = match raw.code.map(RawValue::get) {
        None | Some("null") => true,
        Some(code) => code.trim_matches('"').trim() == SUCCESS_CODE.to_string(),
    };
    let status_ok = raw.status.map(RawValue::get) != Some("false");
    match raw.data {
        Some(data) if code_ok && status_ok && !is_null(Some(data)) => {
            from_slice_lenient(data.get().as_bytes())
                .map_err(|e| malformed(e, data.get().as_bytes()))
        }
        _ => {
            let code = raw
                .code
                .and_then(|code| serde_json::from_str::<Lenient<String>>(code.get()).ok())
                .and_then(|code| code.0);
            let message = raw
                .message
                .and_then(|message| serde_json::from_str::<String>(message.get()).ok());
            Err(Error::Api(Box::new(failure(code, message, body, endpoint))))
        }
    }
}

/// The top level of an answer that may be an envelope, borrowed from the body: each field when its key is
/// there (`null` included).
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default, deserialize_with = "crate::json::present_raw")]
    code: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "crate::json::present_raw")]
    message: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "crate::json::present_raw")]
    status: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "crate::json::present_raw")]
    data: Option<&'a RawValue>,
}

/// A failure envelope as an [`ApiError`]: status 200, the envelope's code and message (or a message
/// naming `endpoint` when it has none), the envelope as body (cut to 64 KiB).
fn failure(code: Option<String>, message: Option<String>, body: &[u8], endpoint: &str) -> ApiError {
    let mut error = ApiError::parse(200, body);
    error.code = code.filter(|code| !code.is_empty());
    error.message = match message {
        Some(message) if !message.trim().is_empty() => message,
        _ => format!("the {endpoint} answer reported a failure without a message"),
    };
    error
}

impl Client {
    /// Sends `call` and reads its JSON answer, bare or in SiliconFlow's envelope (see the
    /// [module docs](self)), as `T` with the response's metadata.
    pub(crate) fn call_enveloped<T: DeserializeOwned + WithResponse>(
        &self,
        call: Call<'_>,
        endpoint: &str,
    ) -> Result<T, Error> {
        let (body, meta) = self.call_body(call)?;
        self.decode_enveloped(&body, meta, endpoint)
    }

    /// Reads a JSON answer, bare or in SiliconFlow's envelope, as `T` with the response's metadata. An
    /// `error` object is [`Error::Api`] with the response's status; an envelope that reports a failure is
    /// [`Error::Api`] with status 200; both with the response's request id and headers. Data of another
    /// shape is [`Error::MalformedChunk`] (scrubbed, then cut).
    pub(crate) fn decode_enveloped<T: DeserializeOwned + WithResponse>(
        &self,
        body: &[u8],
        meta: ResponseMeta,
        endpoint: &str,
    ) -> Result<T, Error> {
        if TopLevel::of(body).is_error(false) {
            let error = api_error(&meta, body, self.redactor());
            return Err(self.redact(Error::Api(Box::new(error))));
        }
        let snippet = |text: &str| self.redactor().scrub_cut(text, MAX_SNIPPET);
        match decode_body::<T>(body, endpoint, &snippet) {
            Ok(mut value) => {
                value.set_response(meta);
                Ok(value)
            }
            Err(mut error) => {
                if let Error::Api(api) = &mut error {
                    // The envelope's body as kept, scrubbed before its cut (a key cut in two at 64 KiB
                    // could not be recognised afterwards).
                    api.body = self.redactor().error_text(body).trim().to_string();
                    api.request_id = meta.request_id().map(str::to_string);
                    api.headers = meta.headers().clone();
                }
                Err(self.redact(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_envelopes_unwrap_to_data() {
        for value in [
            json!({"code": 20000, "message": "Ok", "status": true, "data": {"id": "f"}}),
            json!({"code": "20000", "message": "OK", "status": true, "data": {"id": "f"}}),
            json!({"code": null, "status": true, "data": {"id": "f"}}),
            json!({"status": true, "data": {"id": "f"}}),
            json!({"code": 20000, "data": {"id": "f"}, "extra": 1}),
            json!({"message": "OK", "data": {"id": "f"}}),
        ] {
            assert_eq!(
                unwrap(value.clone(), "x").unwrap(),
                json!({"id": "f"}),
                "{value}"
            );
        }
        // Data of any shape: an array (a file list), a string.
        assert_eq!(
            unwrap(json!({"code": 20000, "status": true, "data": [1]}), "x").unwrap(),
            json!([1])
        );
    }

    #[test]
    fn bare_values_pass_through() {
        for value in [
            json!({"object": "list", "data": [], "has_more": false}),
            json!({"id": "batch_1", "status": "completed", "request_counts": {}}),
            json!({"status": "Succeed", "results": {"videos": []}}),
            json!({"results": []}),
            json!([{"id": "x"}]),
            json!("some text"),
            json!(null),
            json!({}),
        ] {
            assert!(!is_envelope(&value), "{value}");
            assert_eq!(unwrap(value.clone(), "x").unwrap(), value);
        }
    }

    #[test]
    fn failure_envelopes_are_api_errors() {
        for (value, code, message) in [
            (
                json!({"code": 30001, "message": "no", "status": false, "data": null}),
                Some("30001"),
                "no",
            ),
            (
                json!({"code": 20000, "message": "OK", "status": true, "data": null}),
                Some("20000"),
                "OK",
            ),
            (
                json!({"code": 20000, "message": "OK", "status": true}),
                Some("20000"),
                "OK",
            ),
            (
                json!({"code": 50000, "message": "boom", "data": {"id": "u"}}),
                Some("50000"),
                "boom",
            ),
            (
                json!({"code": [1], "message": "odd", "data": {"id": "u"}}),
                None,
                "odd",
            ),
            (
                json!({"code": 20000, "status": false, "data": {"id": "u"}}),
                Some("20000"),
                "the GET /files answer reported a failure without a message",
            ),
            (
                json!({"message": "Request was rejected", "data": null}),
                None,
                "Request was rejected",
            ),
        ] {
            let e = unwrap(value.clone(), "GET /files").unwrap_err();
            assert_eq!(e.status, 200);
            assert_eq!(e.code.as_deref(), code, "{value}");
            assert_eq!(e.message, message, "{value}");
            assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap(), value);
        }
    }

    #[test]
    fn decode_maps_both_kinds_of_failure() {
        #[derive(Debug, serde::Deserialize)]
        struct File {
            id: String,
        }
        let file: File = decode(
            json!({"code": 20000, "status": true, "data": {"id": "f"}}),
            "x",
        )
        .unwrap();
        assert_eq!(file.id, "f");
        let file: File = decode(json!({"id": "g"}), "x").unwrap();
        assert_eq!(file.id, "g");
        assert!(matches!(
            decode::<File>(json!({"code": 1, "message": "m"}), "x"),
            Err(Error::Api(e)) if e.message == "m"
        ));
        assert!(matches!(
            decode::<File>(
                json!({"code": 20000, "status": true, "data": {"id": 5}}),
                "x"
            ),
            Err(Error::MalformedChunk { event: 0, .. })
        ));
        let file: File = decode_slice(br#"{"status":true,"data":{"id":"h"}}"#, "x").unwrap();
        assert_eq!(file.id, "h");
        assert!(matches!(
            decode_slice::<File>(b"not json", "x"),
            Err(Error::MalformedChunk { event: 0, ref data, .. }) if data == "not json"
        ));
    }
}
