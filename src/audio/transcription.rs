//! Speech-to-text: `POST /audio/transcriptions`, a multipart upload.
//!
//! A [`TranscriptionRequest`] holds the model and the audio file; [`TranscriptionRequest::into_form`]
//! builds the `multipart/form-data` body (`file` and `model` parts). The answer is a
//! [`Transcription`], `{"text": "…"}`.
//!
//! Documented limits: at most 1 hour of audio and 50 MB per file ([`MAX_TRANSCRIPTION_FILE`]); formats
//! are not enumerated (mp3 and wav in the examples). No `language`, `prompt`, `response_format` or
//! timestamp fields are documented, so none are typed: add any with
//! [`extra_field`](TranscriptionRequest::extra_field).
//!
//! ```
//! use siliconflow::audio::transcription::{Transcription, TranscriptionRequest};
//! use siliconflow::multipart::FilePart;
//!
//! let audio = FilePart::bytes(b"RIFF....WAVE".to_vec()).file_name("hello.wav").content_type("audio/wav");
//! let request = TranscriptionRequest::new("FunAudioLLM/SenseVoiceSmall", audio);
//! let form = request.into_form();
//! assert!(form.content_length().is_some());
//!
//! let answer: Transcription = serde_json::from_str(r#"{"text":"今天天气不错。"}"#).unwrap();
//! assert_eq!(answer.text, "今天天气不错。");
//! ```

use serde::Serialize;

use crate::client::{with_response, Client, WithResponse};
use crate::error::Error;
use crate::extra::with_extra;
use crate::meta::ResponseMeta;
use crate::multipart::{FilePart, Form};
use crate::serde_util::null_as_default;

/// The largest audio file the documentation allows: 50 MB (read as 50 × 10⁶ bytes, the stricter
/// reading).
pub const MAX_TRANSCRIPTION_FILE: u64 = 50_000_000;

/// A transcription request: the model, the audio file, and any extra text fields.
///
/// Not `Serialize`: the body is multipart, built by [`into_form`](TranscriptionRequest::into_form).
///
/// ```
/// use siliconflow::TranscriptionRequest;
/// use siliconflow::multipart::FilePart;
///
/// # let dir = std::env::temp_dir().join("sf-doc-transcription.mp3");
/// # std::fs::write(&dir, b"ID3").unwrap();
/// let file = FilePart::path(&dir)?.content_type("audio/mpeg"); // streamed from disk, never buffered
/// let request = TranscriptionRequest::new("FunAudioLLM/SenseVoiceSmall", file);
/// assert!(!request.exceeds_size_limit());
/// let form = request.into_form();
/// assert!(form.is_replayable(), "a file by path can be sent again on a retry");
/// # std::fs::remove_file(&dir).unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct TranscriptionRequest {
    /// The model id: `FunAudioLLM/SenseVoiceSmall`, `TeleAI/TeleSpeechASR`, ….
    pub model: String,
    /// The audio (give it a file name and a content type, as the docs' examples do).
    pub file: FilePart,
    /// Text fields this crate does not know yet, sent as extra form parts.
    pub extra: Vec<(String, String)>,
}

impl TranscriptionRequest {
    /// A request to transcribe `file` with `model`.
    pub fn new(model: impl Into<String>, file: FilePart) -> Self {
        TranscriptionRequest {
            model: model.into(),
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

    /// Whether the file is known to exceed the documented 50 MB limit (worth refusing before upload).
    pub fn exceeds_size_limit(&self) -> bool {
        self.file
            .len()
            .is_some_and(|len| len > MAX_TRANSCRIPTION_FILE)
    }

    /// The multipart body: `model`, the extra fields, then `file`.
    pub fn into_form(self) -> Form {
        let mut form = Form::new().text("model", self.model);
        for (name, value) in self.extra {
            form = form.text(name, value);
        }
        form.file("file", self.file)
    }
}

with_extra! {
    /// The answer of `POST /audio/transcriptions`.
    ///
    /// `text` is opaque: whether SenseVoice adds inline emotion or event tags is undocumented.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Transcription {
        /// The transcribed text (`""` when the server sent none).
        #[serde(default, deserialize_with = "null_as_default")]
        pub text: String,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(Transcription);

impl Client {
    /// Transcribes audio (`POST /audio/transcriptions`): the file is uploaded as `multipart/form-data`
    /// (`model` and `file` parts), streamed from its source as it is sent, never read whole into memory.
    ///
    /// The audio can come from a path ([`FilePart::path`]), bytes ([`FilePart::bytes`]) or any reader
    /// ([`FilePart::reader`], [`FilePart::reader_with_len`]); give it a file name with an extension
    /// (`.mp3`, `.wav`) and a content type, as SiliconFlow's examples do. Documented limits: one hour of
    /// audio, 50 MB ([`TranscriptionRequest::exceeds_size_limit`] checks the size you know).
    ///
    /// Errors, retries and timeouts are those of [`Client::chat`]; a source that cannot be read is
    /// [`Error::Upload`]. A request whose audio comes from a path or bytes is re-sent on a retry; one
    /// whose audio comes from a reader is retried only if no byte of it was read yet (a reader cannot be
    /// rewound). Writing the upload is bounded by the idle timeout: a server that stops reading fails it.
    ///
    /// ```no_run
    /// use siliconflow::audio::transcription::TranscriptionRequest;
    /// use siliconflow::multipart::FilePart;
    /// use siliconflow::Client;
    ///
    /// let client = Client::from_env()?;
    /// let audio = FilePart::path("meeting.mp3")?.content_type("audio/mpeg");
    /// let transcription = client.transcribe(TranscriptionRequest::new("FunAudioLLM/SenseVoiceSmall", audio))?;
    /// println!("{}", transcription.text);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn transcribe(&self, request: TranscriptionRequest) -> Result<Transcription, Error> {
        let (mut transcription, meta) =
            self.post_form::<Transcription>("audio/transcriptions", request.into_form())?;
        transcription.set_response(meta);
        Ok(transcription)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Read;

    #[test]
    fn form_holds_model_extras_and_file() {
        let request = TranscriptionRequest::new(
            "FunAudioLLM/SenseVoiceSmall",
            FilePart::bytes(b"abc".to_vec())
                .file_name("a.mp3")
                .content_type("audio/mpeg"),
        )
        .extra_field("language", "zh");
        assert!(!request.exceeds_size_limit());
        let mut form = request.into_form();
        let mut body = String::new();
        form.reader().unwrap().read_to_string(&mut body).unwrap();
        let b = form.boundary();
        assert_eq!(
            body,
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nFunAudioLLM/SenseVoiceSmall\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nzh\r\n\
                 --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\
                 Content-Type: audio/mpeg\r\n\r\nabc\r\n--{b}--\r\n"
            )
        );
    }

    #[test]
    fn size_limit() {
        let big = TranscriptionRequest::new(
            "m",
            FilePart::reader_with_len(std::io::empty(), MAX_TRANSCRIPTION_FILE + 1),
        );
        assert!(big.exceeds_size_limit());
        let unknown = TranscriptionRequest::new("m", FilePart::reader(std::io::empty()));
        assert!(!unknown.exceeds_size_limit());
    }

    #[test]
    fn transcription_shapes() {
        for (body, text) in [
            (json!({"text": "hi"}), "hi"),
            (json!({"text": null}), ""),
            (json!({}), ""),
            (json!({"text": "x", "duration": 1.5}), "x"),
        ] {
            let t: Transcription = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(t.text, text, "{body}");
        }
        let t: Transcription = serde_json::from_value(json!({"text": "x", "lang": "zh"})).unwrap();
        assert_eq!(t.extra.get("lang").unwrap().get(), r#""zh""#);
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"text": "x", "lang": "zh"})
        );
    }
}
