//! `POST /v1/audio/speech` (binary audio in a chunked body, never JSON or SSE) and
//! `POST /v1/audio/transcriptions` (a multipart upload answered with `{"text": …}`).

use std::time::Duration;

use serde_json::{json, Value};
use siliconflow::mock::{Framing, MockResponse, ReceivedRequest};

use super::demo::{bad_request, check_model, json_body, lock, model, required, Answer, Demo};
use super::media::{mp3_silence, tone_pcm, wav, wav_seconds};

/// The longest `input` SiliconFlow accepts, in characters.
const MAX_INPUT_CHARS: usize = 128_000;

/// Answers a text-to-speech request: a tone (WAV, PCM) or silence (MP3) as long as the text would
/// take to say (1 to 3 s), streamed a piece at a time with `stream: true` (the default) and at once
/// otherwise.
pub fn speech(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    model(&body)?;
    let input = required(&body, "input")?;
    if input.chars().count() > MAX_INPUT_CHARS {
        return Err(bad_request("input must be at most 128000 characters"));
    }
    if let Some(voice) = body.get("voice").and_then(Value::as_str) {
        let known =
            !voice.starts_with("speech:") || lock(&demo.voices).iter().any(|v| v.uri == voice);
        if !known {
            return Err(bad_request(&format!("voice not found: {voice}")));
        }
    }
    let format = body
        .get("response_format")
        .and_then(Value::as_str)
        .unwrap_or("mp3");
    let rate = body.get("sample_rate").and_then(Value::as_u64);
    let seconds = (0.5 + input.chars().count() as f64 * 0.05).clamp(1.0, 3.0);
    let (content_type, audio) = match format {
        "mp3" => {
            let rate = sample_rate(rate, &[32000, 44100], 44100)?;
            ("audio/mpeg", mp3_silence(rate, seconds))
        }
        "wav" | "pcm" => {
            let rate = sample_rate(rate, &[8000, 16000, 24000, 32000, 44100], 44100)?;
            let samples = tone_pcm(rate, seconds);
            if format == "wav" {
                ("audio/wav", wav(rate, &samples))
            } else {
                ("audio/pcm", samples)
            }
        }
        "opus" => {
            return Err(bad_request(
                "the offline demo cannot encode opus: ask for mp3, wav or pcm",
            ))
        }
        _ => {
            return Err(bad_request(
                "response_format must be one of mp3, opus, wav, pcm",
            ))
        }
    };
    let streamed = body.get("stream").and_then(Value::as_bool) != Some(false);
    let size = audio.len();
    let response = MockResponse::bytes(content_type, audio).framing(Framing::Chunked);
    Ok(if streamed {
        response.trickle((size / 20).max(1024), Duration::from_millis(40))
    } else {
        response.head_delay(Duration::from_millis(300))
    })
}

/// The requested sample rate when it is one of `allowed`, else the default when none was asked for.
fn sample_rate(asked: Option<u64>, allowed: &[u32], default: u32) -> Result<u32, MockResponse> {
    match asked {
        None => Ok(default),
        Some(rate) => allowed
            .iter()
            .copied()
            .find(|allowed| u64::from(*allowed) == rate)
            .ok_or_else(|| {
                let allowed: Vec<String> = allowed.iter().map(u32::to_string).collect();
                bad_request(&format!(
                    "sample_rate must be one of {}",
                    allowed.join(", ")
                ))
            }),
    }
}

/// Answers a transcription request (`multipart/form-data` with `file` and `model`) with a sentence
/// about the file received: its name, size and, for a WAV file, its duration.
pub fn transcribe(request: &ReceivedRequest) -> Answer {
    let parts = request.multipart().ok_or_else(|| {
        bad_request("The request must be multipart/form-data with file and model.")
    })?;
    let field = |name: &str| parts.iter().find(|part| part.name == name);
    let model = field("model")
        .and_then(|part| part.text())
        .filter(|model| !model.is_empty())
        .ok_or_else(|| bad_request("Field required: model"))?;
    check_model(model)?;
    let file = field("file").ok_or_else(|| bad_request("Field required: file"))?;
    if file.data.is_empty() {
        return Err(bad_request("The audio file is empty."));
    }
    let name = file.filename.as_deref().unwrap_or("audio");
    let duration = wav_seconds(&file.data)
        .map(|seconds| format!("，时长 {seconds:.1} 秒"))
        .unwrap_or_default();
    let text = format!(
        "（离线演示）收到音频 {name}，{} 字节{duration}。这里本应是语音的文字。",
        file.data.len()
    );
    Ok(MockResponse::json(json!({"text": text})).head_delay(Duration::from_millis(200)))
}
