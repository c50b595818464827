//! Text-to-speech: `POST /audio/speech`.
//!
//! The request is JSON ([`SpeechRequest`]); the answer is **raw audio bytes**, not JSON and not
//! server-sent events. With `stream: true` (the schema's default) the bytes arrive progressively in one
//! chunked body, with `stream: false` all at once; either way the body is the audio file. Errors are
//! JSON with an error status, so check the status before treating a body as audio. The documented
//! content types are `application/audio`, `audio/wav` and `audio/opus` (a public client mocks
//! `audio/mpeg` for mp3, unverified): trust the [`SpeechFormat`] you asked for rather than the header.
//!
//! The voice is a system voice `"<model>:<name>"` ([`SpeechRequest::system_voice`]), an uploaded voice's
//! URI `speech:<name>:<id>:<id>` (see [`crate::audio::voice`]), or — one-shot cloning — an empty voice
//! with [`references`](SpeechRequest::references): reference audio and its transcript.
//!
//! ```
//! use siliconflow::audio::speech::{SpeechFormat, SpeechRequest};
//!
//! let request = SpeechRequest::new("FunAudioLLM/CosyVoice2-0.5B", "Can you say it happily? <|endofprompt|>Spring is coming!")
//!     .system_voice("alex")
//!     .response_format(SpeechFormat::Mp3)
//!     .sample_rate(44100)
//!     .stream(true);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["voice"], "FunAudioLLM/CosyVoice2-0.5B:alex");
//! assert!(SpeechFormat::Mp3.sample_rates().contains(&44100));
//! ```

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{Call, Client, Method, Payload, Target};
use crate::download::{Download, DownloadedBytes};
use crate::error::Error;
use crate::media::MediaInput;
use crate::serde_util::{null_as_default, open_enum};

/// The most characters of `input` the documentation allows.
pub const MAX_SPEECH_INPUT: usize = 128_000;

/// The most bytes [`Client::speech_bytes`] reads into memory: 64 MiB (about 12 minutes of 44.1 kHz
/// 16-bit mono WAV, hours of MP3). Longer audio: [`Client::speech_to`] into a file.
pub const MAX_SPEECH_BYTES: u64 = 64 * 1024 * 1024;

/// The names of the system voices; the `voice` value is `"<model>:<name>"`.
pub const SYSTEM_VOICES: [&str; 8] = [
    "alex", "benjamin", "charles", "david", "anna", "bella", "claire", "diana",
];

open_enum! {
    /// The audio format of the answer (`response_format`; `mp3` when unset).
    pub enum SpeechFormat {
        /// MP3 (the default): 32000 or 44100 Hz.
        Mp3 = "mp3",
        /// Opus: 48000 Hz only.
        Opus = "opus",
        /// WAV: 8000, 16000, 24000, 32000 or 44100 Hz.
        Wav = "wav",
        /// Raw PCM: 8000, 16000, 24000, 32000 or 44100 Hz.
        Pcm = "pcm",
    }
}

impl SpeechFormat {
    /// The sample rates the documentation lists for this format (empty for an unknown format). The
    /// default is 44100 for mp3, wav and pcm per the guide (the MOSS-TTSD schema says 32000: send it
    /// explicitly if it matters).
    pub fn sample_rates(&self) -> &'static [u32] {
        match self {
            SpeechFormat::Mp3 => &[32000, 44100],
            SpeechFormat::Opus => &[48000],
            SpeechFormat::Wav | SpeechFormat::Pcm => &[8000, 16000, 24000, 32000, 44100],
            SpeechFormat::Other(_) => &[],
        }
    }

    /// The usual file extension (`"mp3"`, …; an unknown format's own name).
    pub fn extension(&self) -> &str {
        self.as_str()
    }

    /// The usual MIME type of the format, for saving or serving the audio (not what the server
    /// necessarily sends).
    pub fn mime_type(&self) -> &'static str {
        match self {
            SpeechFormat::Mp3 => "audio/mpeg",
            SpeechFormat::Opus => "audio/opus",
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Pcm => "audio/L16",
            SpeechFormat::Other(_) => "application/octet-stream",
        }
    }
}

/// Reference audio for one-shot ("dynamic") voice cloning: the audio and its transcript.
///
/// Reference audio should be under 30 seconds. MOSS-TTSD dialogues need two references, one per
/// speaker. The item schema is known only from the docs' examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpeechReference {
    /// The reference audio: a URL or a base64 data URI.
    pub audio: MediaInput,
    /// What is said in it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
}

impl SpeechReference {
    /// A reference from its audio and transcript.
    pub fn new(audio: impl Into<MediaInput>, text: impl Into<String>) -> Self {
        SpeechReference {
            audio: audio.into(),
            text: text.into(),
        }
    }
}

/// A text-to-speech request: the model, the text, and every documented parameter, each omitted from the
/// JSON while unset.
///
/// Documented limits (checked by the server): `input` 1–128 000 characters, `speed` 0.25–4.0 (default
/// 1.0), `gain` −10–10 dB (default 0), `max_tokens` MOSS-TTSD only (default 2048).
///
/// ```
/// use siliconflow::audio::speech::{SpeechReference, SpeechRequest};
/// use siliconflow::MediaInput;
///
/// // One-shot cloning: an empty voice and a reference.
/// let request = SpeechRequest::new("FunAudioLLM/CosyVoice2-0.5B", "Hello there")
///     .voice("")
///     .reference(SpeechReference::new(MediaInput::url("https://example.com/ref.mp3"), "the transcript"));
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["references"][0]["text"], "the transcript");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpeechRequest {
    /// The model id, for example `FunAudioLLM/CosyVoice2-0.5B` or `fnlp/MOSS-TTSD-v0.5`.
    pub model: String,
    /// The text to speak. CosyVoice takes an instruction before `<|endofprompt|>` and tags such as
    /// `[laughter]`; MOSS-TTSD a dialogue with `[S1]`/`[S2]` speaker tags. Billed by UTF-8 bytes.
    pub input: String,
    /// The voice: `"<model>:<name>"`, an uploaded voice's URI, or `""` with `references`. MOSS-TTSD
    /// takes either `voice` or `references`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// One-shot cloning references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<SpeechReference>>,
    /// The audio format (`mp3` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<SpeechFormat>,
    /// The sample rate in Hz (see [`SpeechFormat::sample_rates`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Stream the audio as it is made (the schema's default is `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Speaking speed, 0.25–4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Volume gain in dB, −10–10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// The most tokens to generate (MOSS-TTSD; input and output together at most 32k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SpeechRequest {
    /// A request to speak `input` with `model`, every parameter unset (set a voice).
    pub fn new(model: impl Into<String>, input: impl Into<String>) -> Self {
        SpeechRequest {
            model: model.into(),
            input: input.into(),
            voice: None,
            references: None,
            response_format: None,
            sample_rate: None,
            stream: None,
            speed: None,
            gain: None,
            max_tokens: None,
            extra: Map::new(),
        }
    }

    /// Uses the model's system voice `name` (`alex`, `anna`, …; see [`SYSTEM_VOICES`]): sets `voice` to
    /// `"<model>:<name>"`.
    #[must_use]
    pub fn system_voice(self, name: &str) -> Self {
        let voice = format!("{}:{name}", self.model);
        self.voice(voice)
    }

    /// Adds a one-shot cloning reference.
    #[must_use]
    pub fn reference(mut self, reference: SpeechReference) -> Self {
        self.references.get_or_insert_with(Vec::new).push(reference);
        self
    }

    crate::setters::option_setters! {
        /// Sets the voice: `"<model>:<name>"`, an uploaded voice's URI, or `""` with references.
        voice: impl Into<String>,
        /// Sets every one-shot cloning reference.
        references: Vec<SpeechReference>,
        /// Sets the audio format.
        response_format: SpeechFormat,
        /// Sets the sample rate in Hz.
        sample_rate: u32,
        /// Streams the audio as it is made (or not).
        stream: bool,
        /// Sets the speaking speed (0.25–4.0).
        speed: f64,
        /// Sets the gain in dB (−10–10).
        gain: f64,
        /// Sets the most tokens to generate (MOSS-TTSD).
        max_tokens: u32,
    }
}

impl Client {
    /// Turns text into speech (`POST /audio/speech`) and writes the audio into `out` as it arrives,
    /// never holding it whole in memory.
    ///
    /// With `stream` unset or `true` (the API's default) SiliconFlow sends the audio progressively, so
    /// the first bytes reach `out` while the rest is being made: the idle timeout bounds the wait for the
    /// response head and every silence between two reads. With `stream: false` the whole file comes at
    /// once after it is made, and the wait for the head is bounded by the response timeout instead. The
    /// event timeout bounds the whole body (default 10 minutes; raise it with
    /// [`Client::with_event_timeout`] for very long texts).
    ///
    /// The body is the audio file in the [`SpeechFormat`] asked for (MP3 by default); the content type
    /// SiliconFlow sends varies (`application/audio`, `audio/wav`, …), so trust the format you asked for.
    /// Errors, retries and timeouts are those of [`Client::chat`] (an error status is [`Error::Api`]
    /// and nothing is written; a JSON error object sent with a 2xx status as `application/json` is [`Error::Api`] too); a
    /// failure of `out` is [`Error::Write`]. Once bytes have been written nothing is retried.
    ///
    /// ```no_run
    /// use siliconflow::{Client, SpeechFormat, SpeechRequest};
    ///
    /// let client = Client::from_env()?;
    /// let request = SpeechRequest::new("FunAudioLLM/CosyVoice2-0.5B", "今天天气真不错。")
    ///     .system_voice("anna")
    ///     .response_format(SpeechFormat::Mp3);
    /// let mut file = std::fs::File::create("weather.mp3").map_err(|e| siliconflow::Error::Write { source: e })?;
    /// let audio = client.speech_to(&request, &mut file)?;
    /// println!("{} bytes of audio (request id {:?})", audio.bytes, audio.request_id());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn speech_to(
        &self,
        request: &SpeechRequest,
        out: &mut dyn Write,
    ) -> Result<Download, Error> {
        let body = serde_json::to_vec(request).map_err(Error::Serialize)?;
        self.fetch_to(speech_call(request, body), out, true)
    }

    /// Like [`Client::speech_to`], returning the audio as bytes, at most [`MAX_SPEECH_BYTES`] (64 MiB):
    /// more is [`Error::BodyTooLarge`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, SpeechFormat, SpeechRequest};
    ///
    /// let client = Client::from_env()?;
    /// let request = SpeechRequest::new("FunAudioLLM/CosyVoice2-0.5B", "Hello!")
    ///     .system_voice("alex")
    ///     .response_format(SpeechFormat::Wav)
    ///     .sample_rate(24000);
    /// let audio = client.speech_bytes(&request)?;
    /// println!("{} bytes of {:?}", audio.data.len(), audio.content_type());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn speech_bytes(&self, request: &SpeechRequest) -> Result<DownloadedBytes, Error> {
        let body = serde_json::to_vec(request).map_err(Error::Serialize)?;
        self.fetch_bytes(speech_call(request, body), MAX_SPEECH_BYTES, true)
    }
}

/// `POST /audio/speech`: a streamed answer unless the request says `stream: false`.
fn speech_call(request: &SpeechRequest, body: Vec<u8>) -> Call<'static> {
    Call {
        method: Method::Post,
        target: Target::Api("audio/speech"),
        payload: Payload::Json(body),
        accept: "*/*",
        streaming: request.stream != Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_request_json() {
        assert_eq!(
            serde_json::to_value(SpeechRequest::new("m", "hi")).unwrap(),
            json!({"model": "m", "input": "hi"})
        );
    }

    #[test]
    fn full_request_json() {
        let request = SpeechRequest::new("fnlp/MOSS-TTSD-v0.5", "[S1]Hi[S2]Hello")
            .voice("")
            .reference(SpeechReference::new("https://e/1.mp3", "one"))
            .reference(SpeechReference::new(
                MediaInput::from_bytes(b"ID3", "audio/mpeg"),
                "two",
            ))
            .response_format(SpeechFormat::Wav)
            .sample_rate(24000)
            .stream(false)
            .speed(1.25)
            .gain(-2.5)
            .max_tokens(2048)
            .extra_field("seed", 1);
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(
            value,
            json!({"model": "fnlp/MOSS-TTSD-v0.5", "input": "[S1]Hi[S2]Hello", "voice": "",
                   "references": [{"audio": "https://e/1.mp3", "text": "one"},
                                  {"audio": "data:audio/mpeg;base64,SUQz", "text": "two"}],
                   "response_format": "wav", "sample_rate": 24000, "stream": false, "speed": 1.25,
                   "gain": -2.5, "max_tokens": 2048, "seed": 1})
        );
        assert_eq!(
            serde_json::from_value::<SpeechRequest>(value).unwrap(),
            request
        );
    }

    #[test]
    fn system_voices_and_formats() {
        let request = SpeechRequest::new("FunAudioLLM/CosyVoice2-0.5B", "x").system_voice("anna");
        assert_eq!(
            request.voice.as_deref(),
            Some("FunAudioLLM/CosyVoice2-0.5B:anna")
        );
        assert!(SYSTEM_VOICES.contains(&"diana"));
        assert_eq!(SpeechFormat::Opus.sample_rates(), [48000]);
        assert_eq!(SpeechFormat::Pcm.sample_rates().len(), 5);
        assert!(SpeechFormat::from("flac").sample_rates().is_empty());
        assert_eq!(SpeechFormat::from("flac").extension(), "flac");
        assert_eq!(SpeechFormat::Mp3.mime_type(), "audio/mpeg");
        assert_eq!(SpeechFormat::Wav.extension(), "wav");
    }

    #[test]
    fn reference_tolerates_null_text() {
        let r: SpeechReference =
            serde_json::from_value(json!({"audio": "https://e/a.wav", "text": null})).unwrap();
        assert_eq!(r.text, "");
    }
}
