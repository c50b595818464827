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

use crate::client::{Call, Client, WithResponse};
use crate::error::{ApiError, Error, MAX_ERROR_BODY, MAX_SNIPPET};
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
    Err(Box::new(failure(&map, endpoint)))
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
/// the body holds.
pub fn decode_slice<T: DeserializeOwned>(body: &[u8], endpoint: &str) -> Result<T, Error> {
    let malformed = |source: serde_json::Error, text: &[u8]| Error::MalformedChunk {
        event: 0,
        data: cut(&String::from_utf8_lossy(text), MAX_SNIPPET),
        source: source.into(),
    };
    // Only an object can be an envelope (serde would also read an array into the struct, by position).
    if body.trim_ascii_start().first() != Some(&b'{') {
        return crate::json::from_slice_lenient(body).map_err(|e| malformed(e, body));
    }
    let raw = match serde_json::from_slice::<RawEnvelope<'_>>(body) {
        Ok(raw) => raw,
        // Not an object (a bare array or string), or an object serde refuses (a key given twice): the
        // general path reads it.
        Err(_) => {
            let value = serde_json::from_slice::<Value>(body).map_err(|e| malformed(e, body))?;
            return decode(value, endpoint);
        }
    };
    let is_null = |v: Option<&RawValue>| v.is_none_or(|v| v.get() == "null");
    let is_bool = |v: Option<&RawValue>| matches!(v.map(RawValue::get), Some("true" | "false"));
    let envelope =
        raw.code.is_some() || is_bool(raw.status) || (raw.message.is_some() && raw.data.is_some());
    if !envelope {
        return crate::json::from_slice_lenient(body).map_err(|e| malformed(e, body));
    }
    let code_ok = match raw.code.map(RawValue::get) {
        None | Some("null") => true,
        Some(code) => code.trim_matches('"').trim() == SUCCESS_CODE.to_string(),
    };
    let status_ok = raw.status.map(RawValue::get) != Some("false");
    match raw.data {
        Some(data) if code_ok && status_ok && !is_null(Some(data)) => {
            crate::json::from_slice_lenient(data.get().as_bytes())
                .map_err(|e| malformed(e, data.get().as_bytes()))
        }
        _ => {
            // A failure envelope is small; the general path builds its error.
            let value = serde_json::from_slice::<Value>(&body[..body.len().min(MAX_ERROR_BODY)])
                .unwrap_or(Value::Null);
            match unwrap(value, endpoint) {
                Err(error) => Err(Error::Api(error)),
                // Only a failure envelope too large to read here: its start says what it is.
                Ok(_) => Err(Error::Api(Box::new(failure(&Map::new(), endpoint)))),
            }
        }
    }
}

/// The top level of an answer that may be an envelope, borrowed from the body.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// A failure envelope as an [`ApiError`]: status 200, its code and message, the envelope as body.
fn failure(map: &Map<String, Value>, endpoint: &str) -> ApiError {
    let body = serde_json::to_vec(map).unwrap_or_default();
    let mut error = ApiError::parse(200, &body);
    let has_message = matches!(map.get("message"), Some(Value::String(m)) if !m.trim().is_empty());
    if !has_message {
        error.message = format!("the {endpoint} answer reported a failure without a message");
    }
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
        let (value, meta) = self.call_json::<Value>(call, false)?;
        self.decode_enveloped(value, meta, endpoint)
    }

    /// Reads a JSON answer, bare or in SiliconFlow's envelope, as `T` with the response's metadata. An
    /// envelope that reports a failure is [`Error::Api`] with status 200 and the response's request id
    /// and headers; data of another shape is [`Error::MalformedChunk`] (scrubbed, then cut).
    pub(crate) fn decode_enveloped<T: DeserializeOwned + WithResponse>(
        &self,
        value: Value,
        meta: ResponseMeta,
        endpoint: &str,
    ) -> Result<T, Error> {
        let decoded = unwrap(value, endpoint)
            .map_err(Error::Api)
            .and_then(|data| {
                T::deserialize(&data).map_err(|source| Error::MalformedChunk {
                    event: 0,
                    data: self.redactor().scrub_cut(&data.to_string(), MAX_SNIPPET),
                    source: source.into(),
                })
            });
        match decoded {
            Ok(mut value) => {
                value.set_response(meta);
                Ok(value)
            }
            Err(mut error) => {
                if let Error::Api(api) = &mut error {
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
