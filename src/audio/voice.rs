//! Reference voices for cloned speech: upload (`POST /uploads/audio/voice`), list
//! (`GET /audio/voice/list`), delete (`POST /audio/voice/deletions`).
//!
//! Uploading needs a real-name-verified account. A sample should be one speaker, 8–10 s, clean (mp3 at
//! 192 kbps or more; mp3, wav, pcm and opus are accepted). Two upload encodings are documented, both
//! typed here:
//! - JSON, [`VoiceUploadRequest`], with the audio as a base64 data URI;
//! - multipart, [`VoiceUploadForm`], with the audio as a file part (no base64 inflation).
//!
//! Either answers an [`UploadedVoice`] whose [`uri`](UploadedVoice::uri) is the `voice` value for
//! speech with the same model.
//!
//! ```
//! use siliconflow::audio::voice::{UploadedVoice, VoiceList, VoiceUploadRequest};
//! use siliconflow::MediaInput;
//!
//! let upload = VoiceUploadRequest::new(
//!     "FunAudioLLM/CosyVoice2-0.5B",
//!     "my-voice",
//!     "What the sample says.",
//!     MediaInput::from_bytes(b"ID3...", "audio/mpeg"),
//! );
//! let json = serde_json::to_value(&upload).unwrap();
//! assert_eq!(json["customName"], "my-voice");
//!
//! let voice: UploadedVoice = serde_json::from_str(r#"{"uri":"speech:my-voice:cm04pf7az00061413w7kz5qxs:mjtkgbyuunvtybnsvbxd"}"#).unwrap();
//! assert!(voice.uri.starts_with("speech:my-voice:"));
//!
//! let list: VoiceList = serde_json::from_str(r#"{"results":[{"model":"FunAudioLLM/CosyVoice2-0.5B",
//!     "customName":"my-voice","text":"What the sample says.","uri":"speech:my-voice:a:b"}]}"#).unwrap();
//! assert_eq!(list.results[0].custom_name, "my-voice");
//! ```

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::bounded::{collect, Bounded, Entry};
use crate::client::{api_error, with_response, Call, Client, WithResponse};
use crate::error::Error;
use crate::extra::with_extra;
use crate::json::Key;
use crate::json::TopLevel;
use crate::media::MediaInput;
use crate::meta::ResponseMeta;
use crate::multipart::{FilePart, Form};
use crate::raw::RawJson;
use crate::serde_util::null_as_default;

/// Whether a custom voice name uses only `A–Z a–z 0–9 _ -` and is not empty. The server's rules are
/// undocumented; this is the safe subset (the name becomes part of the voice URI).
pub fn is_safe_custom_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A voice upload as JSON: the audio as a base64 data URI (`data:audio/mpeg;base64,…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VoiceUploadRequest {
    /// The speech model the voice is for (`FunAudioLLM/CosyVoice2-0.5B`); it works only with that model.
    pub model: String,
    /// Your name for the voice (`customName`); it becomes part of the URI.
    #[serde(rename = "customName")]
    pub custom_name: String,
    /// The transcript of the sample.
    pub text: String,
    /// The sample, as a base64 data URI ([`MediaInput::from_bytes`] or [`MediaInput::from_path`]).
    pub audio: MediaInput,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VoiceUploadRequest {
    /// An upload of `audio` (a data URI) named `custom_name` for `model`, with its transcript `text`.
    pub fn new(
        model: impl Into<String>,
        custom_name: impl Into<String>,
        text: impl Into<String>,
        audio: impl Into<MediaInput>,
    ) -> Self {
        VoiceUploadRequest {
            model: model.into(),
            custom_name: custom_name.into(),
            text: text.into(),
            audio: audio.into(),
            extra: Map::new(),
        }
    }

    /// Sets a field this crate has no method for; it is sent at the top level of the JSON body.
    #[must_use]
    pub fn extra_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }
}

/// A voice upload as `multipart/form-data`: the same text fields, and the sample as a `file` part.
///
/// ```
/// use siliconflow::audio::voice::VoiceUploadForm;
/// use siliconflow::multipart::FilePart;
///
/// let upload = VoiceUploadForm::new(
///     "FunAudioLLM/CosyVoice2-0.5B",
///     "my-voice",
///     "What the sample says.",
///     FilePart::bytes(b"ID3...".to_vec()).file_name("sample.mp3").content_type("audio/mpeg"),
/// );
/// let form = upload.into_form();
/// assert!(form.content_type().starts_with("multipart/form-data"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct VoiceUploadForm {
    /// The speech model the voice is for.
    pub model: String,
    /// Your name for the voice (`customName` on the wire).
    pub custom_name: String,
    /// The transcript of the sample.
    pub text: String,
    /// The sample.
    pub file: FilePart,
    /// Text fields this crate does not know yet, sent as extra form parts.
    pub extra: Vec<(String, String)>,
}

impl VoiceUploadForm {
    /// An upload of `file` named `custom_name` for `model`, with its transcript `text`.
    pub fn new(
        model: impl Into<String>,
        custom_name: impl Into<String>,
        text: impl Into<String>,
        file: FilePart,
    ) -> Self {
        VoiceUploadForm {
            model: model.into(),
            custom_name: custom_name.into(),
            text: text.into(),
            file,
            extra: Vec::new(),
        }
    }

    /// Adds a text field this crate has no method for.
    #[must_use]
    pub fn extra_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The multipart body: `model`, `customName`, `text`, the extra fields, then `file`.
    pub fn into_form(self) -> Form {
        let mut form = Form::new()
            .text("model", self.model)
            .text("customName", self.custom_name)
            .text("text", self.text);
        for (name, value) in self.extra {
            form = form.text(name, value);
        }
        form.file("file", self.file)
    }
}

with_extra! {
    /// The answer of a voice upload.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UploadedVoice {
        /// The voice URI, `speech:<name>:<id>:<id>`: the `voice` of a speech request.
        #[serde(default, deserialize_with = "null_as_default")]
        pub uri: String,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(UploadedVoice);

with_extra! {
    /// One uploaded voice, as `GET /audio/voice/list` describes it.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Voice {
        /// The model the voice works with.
        #[serde(default, deserialize_with = "null_as_default")]
        pub model: String,
        /// Its name (`customName`; `custom_name` is accepted too).
        #[serde(
            rename = "customName",
            alias = "custom_name",
            default,
            deserialize_with = "null_as_default"
        )]
        pub custom_name: String,
        /// The transcript of its sample.
        #[serde(default, deserialize_with = "null_as_default")]
        pub text: String,
        /// Its URI: the `voice` of a speech request, and the key to delete it.
        #[serde(default, deserialize_with = "null_as_default")]
        pub uri: String,
    }
}

/// The answer of `GET /audio/voice/list`: your uploaded voices (system voices are not listed).
///
/// Read tolerantly: `{"results": [...]}` (documented), `{"result": [...]}` (which several clients also
/// read), `null` or absent lists, and a bare array; at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)
/// voices.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct VoiceList {
    /// The voices.
    pub results: Vec<Voice>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(VoiceList);

impl Entry for Voice {
    const WHAT: &'static str = "voices";
}

impl<'de> Deserialize<'de> for VoiceList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VoiceListVisitor)
    }
}

struct VoiceListVisitor;

impl<'de> Visitor<'de> for VoiceListVisitor {
    type Value = VoiceList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of voices")
    }

    /// `results`, else `result` (kept as text until `results` is known to be missing or `null`).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VoiceList, A::Error> {
        let mut results: Option<Vec<Voice>> = None;
        let mut result: Option<RawJson> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                "results" => results = map.next_value::<Option<Bounded<Voice>>>()?.map(|l| l.0),
                "result" => result = map.next_value::<Option<RawJson>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let results = match (results, result) {
            (Some(results), _) => results,
            (None, Some(result)) => {
                serde_json::from_str::<Bounded<Voice>>(result.get())
                    .map_err(serde::de::Error::custom)?
                    .0
            }
            (None, None) => Vec::new(),
        };
        Ok(VoiceList {
            results,
            response: ResponseMeta::default(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<VoiceList, A::Error> {
        Ok(VoiceList {
            results: collect(seq)?,
            response: ResponseMeta::default(),
        })
    }

    fn visit_unit<E>(self) -> Result<VoiceList, E> {
        Ok(VoiceList::default())
    }
}

impl VoiceList {
    /// The voice named `custom_name`, if listed.
    pub fn find(&self, custom_name: &str) -> Option<&Voice> {
        self.results
            .iter()
            .find(|voice| voice.custom_name == custom_name)
    }
}

/// The body of `POST /audio/voice/deletions`: `{"uri": "speech:…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeleteVoiceRequest {
    /// The URI of the voice to delete.
    pub uri: String,
}

impl DeleteVoiceRequest {
    /// A request to delete the voice `uri`.
    pub fn new(uri: impl Into<String>) -> Self {
        DeleteVoiceRequest { uri: uri.into() }
    }
}

/// The answer of a voice deletion. Documented only as "a string"; a self-hosted clone answers `{}`.
/// Any 2xx is success; the body is kept as sent, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
#[non_exhaustive]
pub struct DeleteVoiceResponse {
    /// The body as sent: its JSON text when it parses, else a JSON string of its text; `null` when empty.
    pub body: RawJson,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(DeleteVoiceResponse);

impl DeleteVoiceResponse {
    /// The body as JSON when it parses, else as a JSON string of its (lossy UTF-8) text; empty is `null`.
    pub fn from_body(body: &[u8]) -> Self {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            RawJson::default()
        } else {
            serde_json::from_slice(body).unwrap_or_else(|_| {
                // A JSON string of any text is one JSON value.
                serde_json::to_string(&String::from_utf8_lossy(body))
                    .ok()
                    .and_then(|text| RawJson::from_string(text).ok())
                    .unwrap_or_default()
            })
        };
        DeleteVoiceResponse {
            body,
            response: ResponseMeta::default(),
        }
    }
}

impl Client {
    /// Uploads a reference voice as JSON, the audio as a base64 data URI (`POST /uploads/audio/voice`).
    /// The answer's [`uri`](UploadedVoice::uri) is the `voice` of a
    /// [`SpeechRequest`](crate::SpeechRequest) with the same model. Needs a real-name-verified account.
    ///
    /// Base64 makes the body a third larger than the audio: for large samples prefer
    /// [`Client::upload_voice_form`]. Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, MediaInput, SpeechRequest, VoiceUploadRequest};
    ///
    /// let client = Client::from_env()?;
    /// let sample = MediaInput::from_path("sample.mp3", "audio/mpeg").map_err(|e| siliconflow::Error::Upload { source: e })?;
    /// let model = "FunAudioLLM/CosyVoice2-0.5B";
    /// let voice = client.upload_voice(&VoiceUploadRequest::new(model, "my-voice", "What the sample says.", sample))?;
    /// let request = SpeechRequest::new(model, "Now in my voice.").voice(voice.uri.as_str());
    /// # let _ = request;
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn upload_voice(&self, request: &VoiceUploadRequest) -> Result<UploadedVoice, Error> {
        self.post_json("uploads/audio/voice", request)
    }

    /// Uploads a reference voice as `multipart/form-data`, the audio as a file part streamed from its
    /// source (`POST /uploads/audio/voice`). Otherwise like [`Client::upload_voice`]; retried like
    /// [`Client::transcribe`].
    ///
    /// ```no_run
    /// use siliconflow::multipart::FilePart;
    /// use siliconflow::{Client, VoiceUploadForm};
    ///
    /// let client = Client::from_env()?;
    /// let sample = FilePart::path("sample.wav")?.content_type("audio/wav");
    /// let form = VoiceUploadForm::new("FunAudioLLM/CosyVoice2-0.5B", "my-voice", "What the sample says.", sample);
    /// let voice = client.upload_voice_form(form)?;
    /// println!("{}", voice.uri);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn upload_voice_form(&self, form: VoiceUploadForm) -> Result<UploadedVoice, Error> {
        let (mut voice, meta) =
            self.post_form::<UploadedVoice>("uploads/audio/voice", form.into_form())?;
        voice.set_response(meta);
        Ok(voice)
    }

    /// Lists the reference voices you uploaded (`GET /audio/voice/list`; the system voices are not
    /// listed). Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// for voice in &client.list_voices()?.results {
    ///     println!("{} ({}): {}", voice.custom_name, voice.model, voice.uri);
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn list_voices(&self) -> Result<VoiceList, Error> {
        self.get_json("audio/voice/list")
    }

    /// Deletes an uploaded reference voice by its URI (`POST /audio/voice/deletions`). Any 2xx answer is
    /// success (the documentation gives its body only as "a string"; it is kept in
    /// [`DeleteVoiceResponse::body`]); a body with an `error` object is [`Error::Api`]. Errors, retries
    /// and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// client.delete_voice("speech:my-voice:cm04pf7az00061413w7kz5qxs:mjtkgbyuunvtybnsvbxd")?;
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn delete_voice(&self, uri: &str) -> Result<DeleteVoiceResponse, Error> {
        let body = serde_json::to_vec(&DeleteVoiceRequest::new(uri)).map_err(Error::Serialize)?;
        let run = || {
            let mut exchange = self.execute(Call::post_json("audio/voice/deletions", body))?;
            let raw = exchange.body.read_bounded(self.limits().max_event_size)?;
            if TopLevel::of(&raw).is_error(false) {
                return Err(Error::Api(Box::new(api_error(
                    &exchange.meta,
                    &raw,
                    self.redactor(),
                ))));
            }
            let mut answer = DeleteVoiceResponse::from_body(&raw);
            answer.set_response(exchange.meta);
            Ok(answer)
        };
        run().map_err(|e| self.redact(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Read;

    #[test]
    fn json_upload_exact() {
        let upload = VoiceUploadRequest::new(
            "m",
            "n",
            "t",
            MediaInput::from_bytes([0xFF, 0xFB], "audio/mpeg"),
        );
        assert_eq!(
            serde_json::to_value(&upload).unwrap(),
            json!({"model": "m", "customName": "n", "text": "t", "audio": "data:audio/mpeg;base64,//s="})
        );
        let with_extra = upload.extra_field("language", "en");
        let value = serde_json::to_value(&with_extra).unwrap();
        assert_eq!(value["language"], "en");
        assert_eq!(
            serde_json::from_value::<VoiceUploadRequest>(value).unwrap(),
            with_extra
        );
    }

    #[test]
    fn multipart_upload_exact() {
        let mut form = VoiceUploadForm::new(
            "m",
            "n",
            "t",
            FilePart::bytes(b"xy".to_vec())
                .file_name("s.wav")
                .content_type("audio/wav"),
        )
        .extra_field("k", "v")
        .into_form();
        let mut body = String::new();
        form.reader().unwrap().read_to_string(&mut body).unwrap();
        let b = form.boundary();
        let text = |name: &str, value: &str| {
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        };
        let expected = [
            text("model", "m"),
            text("customName", "n"),
            text("text", "t"),
            text("k", "v"),
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.wav\"\r\n\
                 Content-Type: audio/wav\r\n\r\nxy\r\n--{b}--\r\n"
            ),
        ]
        .concat();
        assert_eq!(body, expected);
    }

    #[test]
    fn voice_list_shapes() {
        let voice = json!({"model": "m", "customName": "n", "text": "t", "uri": "speech:n:a:b"});
        for body in [
            json!({"results": [voice]}),
            json!({"result": [voice]}),
            json!({"results": null, "result": [voice]}),
            json!([voice]),
        ] {
            let list: VoiceList = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(list.results.len(), 1, "{body}");
            assert_eq!(list.find("n").map(|v| v.uri.as_str()), Some("speech:n:a:b"));
        }
        for empty in [
            json!({}),
            json!({"results": null}),
            json!(null),
            json!({"results": []}),
        ] {
            let list: VoiceList = serde_json::from_value(empty.clone()).unwrap();
            assert!(list.results.is_empty(), "{empty}");
        }
        let snake: VoiceList =
            serde_json::from_value(json!({"results": [{"custom_name": "s", "uri": null, "x": 1}]}))
                .unwrap();
        assert_eq!(snake.results[0].custom_name, "s");
        assert_eq!(snake.results[0].uri, "");
        assert_eq!(snake.results[0].extra.get("x").unwrap().get(), "1");
        assert!(serde_json::from_value::<VoiceList>(json!({"results": 5})).is_err());
        assert_eq!(
            serde_json::to_value(&snake).unwrap(),
            json!({"results": [{"model": "", "customName": "s", "text": "", "uri": "", "x": 1}]})
        );
    }

    #[test]
    fn deletion_request_and_any_answer() {
        assert_eq!(
            serde_json::to_value(DeleteVoiceRequest::new("speech:n:a:b")).unwrap(),
            json!({"uri": "speech:n:a:b"})
        );
        let body = |text: &[u8]| DeleteVoiceResponse::from_body(text).body.to_value();
        assert_eq!(body(b"\"ok\""), json!("ok"));
        assert_eq!(body(b" {} "), json!({}));
        assert_eq!(DeleteVoiceResponse::from_body(b" {} ").body.get(), "{}");
        assert_eq!(body(b"  "), Value::Null);
        assert_eq!(DeleteVoiceResponse::from_body(b"").body.get(), "null");
        assert_eq!(body(b"deleted"), json!("deleted"));
    }

    #[test]
    fn uploaded_voice_and_names() {
        let v: UploadedVoice = serde_json::from_value(json!({"uri": null})).unwrap();
        assert_eq!(v.uri, "");
        assert!(is_safe_custom_name("my_voice-1"));
        for bad in ["", "my voice", "名字", "a:b"] {
            assert!(!is_safe_custom_name(bad), "{bad}");
        }
    }
}
