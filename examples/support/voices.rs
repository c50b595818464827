//! Reference voices: `POST /v1/uploads/audio/voice` (JSON with a base64 `audio`, or multipart with a
//! `file`), `GET /v1/audio/voice/list` and `POST /v1/audio/voice/deletions`, kept in memory.

use serde_json::{json, Map, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::demo::{bad_request, check_model, json_body, lock, push_capped, required, Answer, Demo};

/// The most voices the demo keeps (the oldest go first).
const MAX_VOICES: usize = 64;

/// An uploaded voice.
pub struct Voice {
    pub model: String,
    pub custom_name: String,
    pub text: String,
    /// `speech:<customName>:<id>:<id>`, the `voice` value for speech.
    pub uri: String,
}

/// Answers an upload with `{"uri": …}`.
pub fn upload(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let is_multipart = request
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let fields = if is_multipart {
        multipart_fields(request)?
    } else {
        let body = json_body(request)?;
        let audio = required(&body, "audio")?;
        if !(audio.starts_with("data:") && audio.contains(";base64,")) {
            return Err(bad_request(
                "audio must be a base64 data URI (data:audio/mpeg;base64,…)",
            ));
        }
        body
    };
    let model = check_model(required(&fields, "model")?)?.to_string();
    let custom_name = required(&fields, "customName")?.to_string();
    let text = required(&fields, "text")?.to_string();
    if custom_name.len() > 64
        || !custom_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad_request(
            "customName may hold only letters, digits, '_' and '-' (at most 64)",
        ));
    }
    let uri = format!(
        "speech:{custom_name}:{}:{}",
        demo.new_id("cm"),
        demo.new_id("")
    );
    let voice = Voice {
        model,
        custom_name,
        text,
        uri: uri.clone(),
    };
    push_capped(&mut lock(&demo.voices), voice, MAX_VOICES);
    Ok(MockResponse::json(json!({ "uri": uri })))
}

/// The text fields of a multipart upload, which must also carry a non-empty `file`.
fn multipart_fields(request: &ReceivedRequest) -> Result<Map<String, Value>, MockResponse> {
    let parts = request
        .multipart()
        .ok_or_else(|| bad_request("The multipart body is malformed."))?;
    let has_file = parts
        .iter()
        .any(|part| part.name == "file" && !part.data.is_empty());
    if !has_file {
        return Err(bad_request("Field required: file"));
    }
    Ok(parts
        .iter()
        .filter(|part| part.filename.is_none())
        .filter_map(|part| Some((part.name.clone(), Value::from(part.text()?))))
        .collect())
}

/// `{"results": [{model, customName, text, uri}, …]}`: the uploaded voices (system voices are not
/// listed).
pub fn list(demo: &Demo) -> MockResponse {
    let results: Vec<Value> = lock(&demo.voices)
        .iter()
        .map(|voice| {
            json!({
                "model": voice.model,
                "customName": voice.custom_name,
                "text": voice.text,
                "uri": voice.uri,
            })
        })
        .collect();
    MockResponse::json(json!({ "results": results }))
}

/// Deletes the voice `{"uri": …}` names; the documented answer is a JSON string.
pub fn delete(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let uri = required(&body, "uri")?;
    let mut voices = lock(&demo.voices);
    let before = voices.len();
    voices.retain(|voice| voice.uri != uri);
    if voices.len() == before {
        return Err(bad_request(&format!("voice not found: {uri}")));
    }
    Ok(MockResponse::json(Value::from("success")))
}
