//! Audio: text-to-speech, speech-to-text and reference voices.
//!
//! - [`speech`]: `POST /audio/speech` — a [`SpeechRequest`](speech::SpeechRequest) in, raw audio bytes out.
//! - [`transcription`]: `POST /audio/transcriptions` — a multipart upload in, a
//!   [`Transcription`](transcription::Transcription) out.
//! - [`voice`]: `POST /uploads/audio/voice`, `GET /audio/voice/list`, `POST /audio/voice/deletions` —
//!   the reference voices a cloned speech uses.

pub mod speech;
pub mod transcription;
pub mod voice;
