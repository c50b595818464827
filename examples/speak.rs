//! Turn text into speech and save it, the audio written to the file as it arrives:
//! `POST /audio/speech`.
//!
//! ```text
//! cargo run --example speak -- [--model MODEL] [--out FILE.mp3] [TEXT...]
//! ```
//!
//! The voice is the model's system voice `alex`; the format follows the file's extension (`.mp3`,
//! `.wav`, `.pcm`, `.opus`; MP3 by default). With `SILICONFLOW_API_KEY` set it talks to SiliconFlow;
//! without it, to a built-in offline demo server that answers with a tone (WAV, PCM) or silence (MP3).

mod support;

use std::error::Error;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use siliconflow::{SpeechFormat, SpeechRequest};

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with(
        "speak",
        "FunAudioLLM/CosyVoice2-0.5B",
        "Can you say it happily? <|endofprompt|>Spring is coming, and the days are getting longer!",
    );
    let (client, _demo) = support::client_from_env_or_demo()?;

    let path = args.out_or("siliconflow-speech.mp3");
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(extension) => SpeechFormat::from(extension.to_ascii_lowercase().as_str()),
        None => SpeechFormat::Mp3,
    };
    let request = SpeechRequest::new(args.model.as_str(), args.prompt.as_str())
        .system_voice("alex")
        .response_format(format)
        .stream(true);

    let file = BufWriter::new(File::create(&path)?);
    let mut out = Progress::new(file);
    let audio = client.speech_to(&request, &mut out)?;
    out.done()?;
    println!(
        "saved {} ({} bytes; first audio after {}; request id {})",
        path.display(),
        audio.bytes,
        out.first.map_or("-".to_string(), |d| format!("{d:.2?}")),
        audio.request_id().unwrap_or("-"),
    );
    Ok(())
}

/// A writer that shows on stderr how much audio has arrived, as it arrives.
struct Progress<W: Write> {
    inner: W,
    started: Instant,
    first: Option<Duration>,
    bytes: u64,
}

impl<W: Write> Progress<W> {
    fn new(inner: W) -> Self {
        Progress {
            inner,
            started: Instant::now(),
            first: None,
            bytes: 0,
        }
    }

    fn done(&mut self) -> io::Result<()> {
        self.inner.flush()?;
        eprintln!();
        Ok(())
    }
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.first.get_or_insert_with(|| self.started.elapsed());
        self.bytes += n as u64;
        eprint!("\r{} bytes of audio received", self.bytes);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
