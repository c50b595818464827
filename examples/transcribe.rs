//! Transcribe an audio file: `POST /audio/transcriptions`, the file uploaded as `multipart/form-data`,
//! streamed from the disk.
//!
//! ```text
//! cargo run --example transcribe -- [--model MODEL] [AUDIO_FILE]
//! ```
//!
//! Without a file the example first makes one (a sentence spoken by `FunAudioLLM/CosyVoice2-0.5B`, as
//! WAV in the temporary directory), then transcribes it. With `SILICONFLOW_API_KEY` set it talks to
//! SiliconFlow; without it, to a built-in offline demo server whose "transcription" describes the file
//! it received.

mod support;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use siliconflow::audio::transcription::TranscriptionRequest;
use siliconflow::multipart::FilePart;
use siliconflow::{SpeechFormat, SpeechRequest};

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with("transcribe", "FunAudioLLM/SenseVoiceSmall", "");
    let (client, _demo) = support::client_from_env_or_demo()?;

    let path = if args.prompt.is_empty() {
        let path = args.out_or("siliconflow-transcribe-input.wav");
        let request = SpeechRequest::new(
            "FunAudioLLM/CosyVoice2-0.5B",
            "今天天气不错，我们去公园散步吧。",
        )
        .system_voice("anna")
        .response_format(SpeechFormat::Wav)
        .sample_rate(16000);
        let mut file = std::fs::File::create(&path)?;
        let audio = client.speech_to(&request, &mut file)?;
        eprintln!(
            "(no file given: made {} bytes of speech in {})",
            audio.bytes,
            path.display()
        );
        path
    } else {
        PathBuf::from(&args.prompt)
    };

    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("opus") => "audio/opus",
        _ => "application/octet-stream",
    };
    let audio = FilePart::path(&path)?.content_type(content_type);
    let request = TranscriptionRequest::new(args.model.as_str(), audio);
    if request.exceeds_size_limit() {
        eprintln!("warning: the file is over SiliconFlow's documented 50 MB limit");
    }
    let transcription = client.transcribe(request)?;
    println!("{}", transcription.text);
    Ok(())
}
