//! The composite calls (a batch job from start to results, a video job from submit to download) stay
//! on the caller's thread: their pauses, polls, uploads and downloads through URLs and ids, with a
//! `localhost` host, every timeout, a deadline and a cancel handle. (`tests/threads.rs` covers each
//! endpoint alone, not these flows.) A single test in this file, so no other test's threads count.
//! (Written by review 2; it held.)

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{read_request, thread_count, KEY};
use siliconflow::{
    BatchJobOptions, CancelHandle, ChatRequest, Client, Message, PollOptions, RetryPolicy,
};

fn server(stop: Arc<AtomicBool>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let (mut batch_checks, mut video_checks) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some(request) = read_request(&mut reader) else {
                continue;
            };
            let line = request.head.lines().next().unwrap_or("").to_string();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let body = match path.as_str() {
                "/v1/files" => r#"{"code":20000,"message":"Ok","status":true,"data":{"id":"file-in","object":"file","filename":"in.jsonl","purpose":"batch"}}"#.to_string(),
                "/v1/batches" => r#"{"id":"b","status":"validating"}"#.to_string(),
                "/v1/batches/b" => {
                    batch_checks += 1;
                    if batch_checks % 3 == 0 {
                        format!(r#"{{"id":"b","status":"completed","output_file_id":"file-out","error_file_id":"http://localhost:{port}/outputs/err.jsonl"}}"#)
                    } else {
                        r#"{"id":"b","status":"in_progress"}"#.to_string()
                    }
                }
                "/v1/files/file-out/content" => "{\"custom_id\":\"q-0\",\"response\":{\"status_code\":200,\"body\":{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"391\"},\"finish_reason\":\"stop\"}]}}}\n".to_string(),
                "/outputs/err.jsonl" => "{\"custom_id\":\"q-1\",\"response\":null,\"error\":{\"code\":\"batch_expired\",\"message\":\"expired\"}}\n".to_string(),
                "/v1/video/submit" => r#"{"requestId":"r1"}"#.to_string(),
                "/v1/video/status" => {
                    video_checks += 1;
                    if video_checks % 3 == 0 {
                        format!(r#"{{"status":"Succeed","results":{{"videos":[{{"url":"http://localhost:{port}/outputs/v.mp4"}}]}}}}"#)
                    } else {
                        r#"{"status":"InProgress"}"#.to_string()
                    }
                }
                "/outputs/v.mp4" => "binary video bytes".to_string(),
                _ => String::new(),
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

fn flows(client: &Client) -> Result<(), siliconflow::Error> {
    let poll = PollOptions::new()
        .interval(Duration::from_millis(10))
        .timeout(Some(Duration::from_secs(20)));
    let requests = (0..2).map(|i| {
        (
            format!("q-{i}"),
            ChatRequest::new("m", vec![Message::user(format!("{i}"))]),
        )
    });
    let job = client.run_batch_job(requests, &BatchJobOptions::new(), &poll, |_| {})?;
    let results: Vec<_> = job.results().collect::<Result<_, _>>()?;
    assert_eq!(results.len(), 2);
    let video = client.submit_video(&siliconflow::VideoRequest::new("m", "p", "1280x720"))?;
    let done = client.wait_video(&video.request_id, &poll, |_| {})?;
    for url in done.video_urls() {
        client.download_video(url, &mut std::io::sink())?;
    }
    Ok(())
}

#[test]
fn batch_and_video_jobs_spawn_no_thread() {
    let stop = Arc::new(AtomicBool::new(false));
    let (port, server) = server(stop.clone());
    let peak = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::SeqCst) {
                peak.fetch_max(thread_count(), Ordering::SeqCst);
                std::thread::yield_now();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let named = format!("http://localhost:{port}/v1");
    let cancel = CancelHandle::new();
    let clients = [
        Client::builder()
            .api_key(KEY)
            .base_url(&named)
            .without_proxy()
            .build()
            .unwrap(),
        Client::builder()
            .api_key(KEY)
            .base_url(&named)
            .without_proxy()
            .retry_policy(RetryPolicy::default())
            .connect_timeout(Duration::from_secs(5))
            .response_timeout(Duration::from_secs(5))
            .idle_timeout(Some(Duration::from_secs(5)))
            .event_timeout(Some(Duration::from_secs(5)))
            .deadline(Some(Duration::from_secs(10)))
            .build()
            .unwrap()
            .with_cancel(&cancel),
    ];
    let mut failures = Vec::new();
    for (n, client) in clients.iter().enumerate() {
        let before = peak.swap(thread_count(), Ordering::SeqCst);
        if let Err(e) = flows(client) {
            failures.push(format!("client {n}: {e}"));
        }
        std::thread::sleep(Duration::from_millis(5));
        let seen = peak.swap(thread_count(), Ordering::SeqCst);
        if seen > before {
            failures.push(format!(
                "client {n}: {before} threads before, {seen} at the peak"
            ));
        }
    }
    sampling.store(false, Ordering::SeqCst);
    sampler.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}
