//! Run a few chat requests through SiliconFlow's batch engine (half the online price), from start to
//! results: write and check the JSONL input, upload it, create the batch, wait for it with a progress
//! line, then read the output and error files.
//!
//! ```text
//! cargo run --example batch -- [--model MODEL] [QUESTION...]
//! ```
//!
//! A real batch finishes within its completion window (24 hours here), usually much sooner; stop the
//! example and take the batch up again later with `Client::resume_batch_job(id)`. With
//! `SILICONFLOW_API_KEY` set it talks to SiliconFlow (batches are paid from the recharged balance
//! only); without it, to a built-in offline demo server whose batch completes in about four seconds.
//! With `--model demo/unknown-model` offline, every request fails and lands in the error file.

mod support;

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use siliconflow::{BatchJobOptions, BatchOutcome, ChatRequest, Message, PollOptions};

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = support::parse_args_with("batch", "deepseek-ai/DeepSeek-V3", "");
    let (client, _demo) = support::client_from_env_or_demo()?;

    let mut questions = vec![
        "What is 17 × 23?".to_string(),
        "Name three prime numbers above 100.".to_string(),
        "用一句话介绍杭州。".to_string(),
    ];
    if !args.prompt.is_empty() {
        questions.push(args.prompt.clone());
    }
    let requests = questions.iter().enumerate().map(|(i, question)| {
        let request = ChatRequest::new(
            args.model.as_str(),
            vec![
                Message::system("Answer briefly."),
                Message::user(question.as_str()),
            ],
        )
        .max_tokens(512);
        (format!("question-{}", i + 1), request)
    });

    let options = BatchJobOptions::new().metadata("example", "batch");
    let mut job = client.start_batch_job(requests, &options)?;
    println!(
        "batch {} created from {} requests",
        job.id(),
        job.input_summary().map_or(0, |s| s.lines)
    );

    let started = Instant::now();
    let poll = PollOptions::batch().interval(Duration::from_secs(1));
    let outcome = job.wait(&poll, |batch| {
        let counts = &batch.request_counts;
        let status = batch.status.as_ref().map_or("(no status)", |s| s.as_str());
        let count = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
        eprint!(
            "\r[{:>4}s] {status}: {} done, {} failed, of {}          ",
            started.elapsed().as_secs(),
            count(counts.completed),
            count(counts.failed),
            count(counts.total),
        );
        let _ = std::io::stderr().flush();
    })?;
    eprintln!();
    match outcome {
        BatchOutcome::Completed => println!("completed"),
        BatchOutcome::Failed => {
            return Err(format!("the batch failed: {:?}", job.batch().errors).into());
        }
        other => println!("the batch ended {other:?}; the requests that ran follow"),
    }

    for result in job.results() {
        let (custom_id, answer) = result?;
        match answer {
            Ok(completion) => println!("{custom_id}: {}", completion.content().trim()),
            Err(error) => println!("{custom_id} failed: {error}"),
        }
    }
    Ok(())
}
