//! Make a video: submit the job (`POST /video/submit`), wait for it with a progress line
//! (`POST /video/status`, polled with a growing pause), then download the video.
//!
//! ```text
//! cargo run --example video -- [--model MODEL] [--out FILE.mp4] [PROMPT...]
//! ```
//!
//! A real job takes minutes; the wait gives up after 30 minutes (the job goes on on the server). The
//! video URL **expires** (after 10 minutes to an hour), so the example downloads it at once. With
//! `SILICONFLOW_API_KEY` set it talks to SiliconFlow; without it, to a built-in offline demo server whose
//! job is queued, runs and succeeds within a few seconds (put `[demo:fail]` in the prompt to see a
//! failed job).

mod support;

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use siliconflow::{PollOptions, VideoRequest};

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with(
        "video",
        "Wan-AI/Wan2.2-T2V-A14B",
        "a paper boat drifting down a rainy street, cinematic",
    );
    let (client, _demo) = support::client_from_env_or_demo()?;

    let request = VideoRequest::new(args.model.as_str(), args.prompt.as_str(), "1280x720");
    let job = client.submit_video(&request)?;
    println!("submitted: request id {}", job.request_id);

    let started = Instant::now();
    let options = PollOptions::new().interval(Duration::from_secs(1));
    let status = client.wait_video(&job.request_id, &options, |status| {
        let state = status.status.as_ref().map_or("(no status)", |s| s.as_str());
        let position = status
            .position
            .filter(|p| *p > 0)
            .map(|p| format!(", position {p} in the queue"))
            .unwrap_or_default();
        eprint!(
            "\r[{:>4}s] {state}{position}          ",
            started.elapsed().as_secs()
        );
        let _ = std::io::stderr().flush();
    })?;
    eprintln!();
    if !status.is_success() {
        let reason = status.reason.as_deref().unwrap_or("no reason given");
        return Err(format!("the job failed: {reason}").into());
    }

    let Some(url) = status.video_urls().next() else {
        return Err("the job succeeded without a video URL".into());
    };
    let path = args.out_or("siliconflow-video.mp4");
    let mut file = BufWriter::new(File::create(&path)?);
    let download = client.download_video(url, &mut file)?;
    println!("saved {} ({} bytes)", path.display(), download.bytes);
    Ok(())
}
