//! The examples' offline demo (`examples/support/`): every endpoint it plays, checked against the shapes
//! SiliconFlow documents, through `siliconflow::Client` where the client has the call and through plain
//! HTTP (ureq) where it does not yet.
#![cfg(feature = "mock-server")]

#[path = "../examples/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use siliconflow::{
    ChatRequest, Client, EmbeddingRequest, EncodingFormat, Message, ModelsQuery, RerankRequest,
    RetryPolicy,
};

const KEY: &str = "sk-demo-test";

struct Demo {
    server: support::DemoServer,
    agent: ureq::Agent,
}

/// An answer: status, content type, transfer encoding, body.
struct Answer {
    status: u16,
    content_type: String,
    chunked: bool,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Demo {
    fn start() -> Demo {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build();
        Demo {
            server: support::DemoServer::start(KEY).unwrap(),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn client(&self) -> Client {
        Client::builder()
            .api_key(KEY)
            .base_url(self.server.base_url())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }

    /// `path` is under `/v1`, or a whole URL.
    fn call(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.server.base_url())
        };
        let auth = format!("Bearer {KEY}");
        let result = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            _ => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", content_type)
                .send(body),
        };
        let mut response = result.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let content_type = header("content-type");
        let chunked = header("transfer-encoding").eq_ignore_ascii_case("chunked");
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap();
        Answer {
            status: response.status().as_u16(),
            content_type,
            chunked,
            body,
        }
    }

    fn post_json(&self, path: &str, body: Value) -> Answer {
        self.call(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    fn get(&self, path: &str) -> Answer {
        self.call("GET", path, "", b"")
    }
}

/// A `multipart/form-data` body of text fields and one file.
fn multipart(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "demo-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    let (name, filename, data) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Polls `poll` until `done` says so, at most 15 s; returns every answer seen.
fn poll_until(mut poll: impl FnMut() -> Value, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let answer = poll();
        let finished = done(&answer);
        seen.push(answer);
        if finished {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never done: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn chat_errors_and_unknown_paths() {
    let demo = Demo::start();
    let client = demo.client();
    let request = ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("hello")]);
    let completion = client.chat(&request).unwrap();
    assert!(completion.content().contains("You said \"hello\""));
    let unknown = ChatRequest::new("demo/unknown-model", vec![Message::user("hello")]);
    let error = client.chat_stream(&unknown).unwrap_err();
    assert_eq!(error.api_error().unwrap().code.as_deref(), Some("20012"));

    let wrong_key = Client::builder()
        .api_key("sk-wrong")
        .base_url(demo.server.base_url())
        .build()
        .unwrap();
    let error = wrong_key.list_models().unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.api_error().unwrap().message, "Invalid token");
    let missing = demo.get("/nowhere");
    assert_eq!(
        (missing.status, &missing.body[..]),
        (404, &b"404 page not found"[..])
    );
}

#[test]
fn models_user_info_embeddings_and_rerank() {
    let demo = Demo::start();
    let client = demo.client();
    let all = client.list_models().unwrap();
    assert!(all.ids().any(|id| id == "deepseek-ai/DeepSeek-R1"));
    let chat = client
        .models(&ModelsQuery::new().kind("text").sub_type("chat"))
        .unwrap();
    assert!(chat.ids().all(|id| all.ids().any(|a| a == id)));
    assert!(!chat.ids().any(|id| id == "BAAI/bge-m3"));
    let images = client
        .models(&ModelsQuery::new().sub_type("text-to-image"))
        .unwrap();
    assert!(images.ids().any(|id| id == "Kwai-Kolors/Kolors"));

    let user = client.user_info().unwrap();
    assert_eq!(user.total_balance_f64(), Some(88.88));
    let raw = demo.get("/user/info").json();
    assert_eq!(
        (raw["code"].clone(), raw["status"].clone()),
        (json!(20000), json!(true))
    );

    let texts = vec!["今天天气不错", "the weather is fine"];
    let floats = client
        .embeddings(&EmbeddingRequest::new("BAAI/bge-m3", texts.clone()))
        .unwrap()
        .vectors()
        .unwrap();
    let base64 = client
        .embeddings(
            &EmbeddingRequest::new("BAAI/bge-m3", texts).encoding_format(EncodingFormat::Base64),
        )
        .unwrap()
        .vectors()
        .unwrap();
    assert_eq!(floats, base64);
    assert_eq!(floats[0].len(), 1024);
    let norm: f32 = floats[0].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-3);

    let docs = vec![
        "apples are red",
        "the sky is blue",
        "red apples and green pears",
    ];
    let ranked = client
        .rerank(&RerankRequest::new("BAAI/bge-reranker-v2-m3", "red apples", docs).top_n(2))
        .unwrap();
    assert_eq!(ranked.results.len(), 2);
    assert_ne!(
        ranked.results[0].index, 1,
        "the document without the words is not first"
    );
}

#[test]
fn images_are_urls_on_the_demo_that_serve_png() {
    let demo = Demo::start();
    let answer = demo.post_json(
        "/images/generations",
        json!({"model": "Kwai-Kolors/Kolors", "prompt": "a cat", "image_size": "1024x1024", "batch_size": 2, "seed": 7}),
    );
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(body["seed"], 7);
    assert!(body["timings"]["inference"].is_number());
    assert_eq!(body["images"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"], body["images"]);
    let url = body["images"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&demo.server.base_url().replace("/v1", "/outputs/")),
        "{url}"
    );
    let image = demo.get(url);
    assert_eq!(
        (image.status, image.content_type.as_str()),
        (200, "image/png")
    );
    assert!(image.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        image.body.ends_with(b"IEND\xae\x42\x60\x82"),
        "IEND with its CRC"
    );

    let bad = demo.post_json(
        "/images/generations",
        json!({"model": "demo/unknown-model", "prompt": "x"}),
    );
    assert_eq!(
        (bad.status, bad.json()["code"].clone()),
        (400, json!(20012))
    );
}

#[test]
fn speech_is_chunked_audio_and_transcription_takes_an_upload() {
    let demo = Demo::start();
    let started = Instant::now();
    let wav = demo.post_json(
        "/audio/speech",
        json!({"model": "FunAudioLLM/CosyVoice2-0.5B", "input": "你好，世界", "voice": "FunAudioLLM/CosyVoice2-0.5B:alex",
               "response_format": "wav", "sample_rate": 16000}),
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "streamed a piece at a time"
    );
    assert_eq!(
        (wav.status, wav.content_type.as_str(), wav.chunked),
        (200, "audio/wav", true)
    );
    assert!(wav.body.starts_with(b"RIFF") && &wav.body[8..16] == b"WAVEfmt ");
    assert_eq!(
        u32::from_le_bytes(wav.body[24..28].try_into().unwrap()),
        16000
    );

    let mp3 = demo.post_json(
        "/audio/speech",
        json!({"model": "FunAudioLLM/CosyVoice2-0.5B", "input": "hi", "voice": "FunAudioLLM/CosyVoice2-0.5B:anna", "stream": false}),
    );
    assert_eq!(
        (mp3.status, mp3.content_type.as_str(), mp3.chunked),
        (200, "audio/mpeg", true)
    );
    assert!(mp3.body.starts_with(&[0xff, 0xfb]));
    let bad = demo.post_json(
        "/audio/speech",
        json!({"model": "FunAudioLLM/CosyVoice2-0.5B", "input": "hi", "sample_rate": 12345}),
    );
    assert_eq!(bad.status, 400);

    let (content_type, body) = multipart(
        &[("model", "FunAudioLLM/SenseVoiceSmall")],
        ("file", "hello.wav", &wav.body),
    );
    let text = demo.call("POST", "/audio/transcriptions", &content_type, &body);
    assert_eq!(text.status, 200);
    let text = text.json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("hello.wav") && text.contains("秒"), "{text}");
    let (content_type, body) = multipart(&[], ("file", "a.wav", b"x"));
    assert_eq!(
        demo.call("POST", "/audio/transcriptions", &content_type, &body)
            .status,
        400
    );
}

#[test]
fn voices_upload_list_use_and_delete() {
    let demo = Demo::start();
    let uploaded = demo.post_json(
        "/uploads/audio/voice",
        json!({"model": "FunAudioLLM/CosyVoice2-0.5B", "customName": "my-voice", "text": "在一无所知中",
               "audio": "data:audio/mpeg;base64,SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA"}),
    );
    assert_eq!(uploaded.status, 200);
    let uri = uploaded.json()["uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("speech:my-voice:"), "{uri}");
    let (content_type, body) = multipart(
        &[
            ("model", "FunAudioLLM/CosyVoice2-0.5B"),
            ("customName", "second"),
            ("text", "hello"),
        ],
        ("file", "sample.mp3", b"ID3...."),
    );
    assert_eq!(
        demo.call("POST", "/uploads/audio/voice", &content_type, &body)
            .status,
        200
    );

    let list = demo.get("/audio/voice/list").json();
    let results = list["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["customName"], "my-voice");
    assert_eq!(results[0]["uri"], uri.as_str());

    let speech = demo.post_json(
        "/audio/speech",
        json!({"model": "FunAudioLLM/CosyVoice2-0.5B", "input": "hi", "voice": uri}),
    );
    assert_eq!(speech.status, 200);
    assert_eq!(
        demo.post_json("/audio/voice/deletions", json!({"uri": uri}))
            .status,
        200
    );
    assert_eq!(
        demo.get("/audio/voice/list").json()["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        demo.post_json("/audio/voice/deletions", json!({"uri": uri}))
            .status,
        400
    );
}

#[test]
fn a_video_job_moves_from_queue_to_success_and_its_url_serves_an_mp4() {
    let demo = Demo::start();
    let submitted = demo.post_json(
        "/video/submit",
        json!({"model": "Wan-AI/Wan2.2-T2V-A14B", "prompt": "a cat surfing", "image_size": "1280x720"}),
    );
    let id = submitted.json()["requestId"].as_str().unwrap().to_string();
    let seen = poll_until(
        || {
            demo.post_json("/video/status", json!({"requestId": id}))
                .json()
        },
        |status| status["status"] == "Succeed",
    );
    let statuses: Vec<&str> = seen.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses[0], "InQueue");
    assert!(statuses.contains(&"InProgress"), "{statuses:?}");
    let last = seen.last().unwrap();
    assert_eq!(last["reason"], "");
    let url = last["results"]["videos"][0]["url"].as_str().unwrap();
    let video = demo.get(url);
    assert_eq!(
        (video.status, video.content_type.as_str()),
        (200, "video/mp4")
    );
    assert_eq!(&video.body[4..8], b"ftyp");

    let i2v = demo.post_json(
        "/video/submit",
        json!({"model": "Wan-AI/Wan2.2-I2V-A14B", "prompt": "x"}),
    );
    assert_eq!(i2v.status, 400, "image-to-video needs an image");
    let unknown = demo.post_json("/video/status", json!({"requestId": "nope"}));
    assert_eq!(unknown.status, 400);
}

#[test]
fn fim_completions_whole_and_streamed() {
    let demo = Demo::start();
    let whole = demo.post_json(
        "/completions",
        json!({"model": "deepseek-ai/DeepSeek-V3", "prompt": "def fib(a):", "suffix": "    return fib(a-1) + fib(a-2)", "max_tokens": 4096}),
    );
    let whole = whole.json();
    assert_eq!(whole["object"], "text_completion");
    assert_eq!(whole["choices"][0]["finish_reason"], "stop");
    let text = whole["choices"][0]["text"].as_str().unwrap().to_string();
    assert!(text.contains("def fib(a):"), "{text}");
    assert!(whole["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let streamed = demo.post_json(
        "/completions",
        json!({"model": "deepseek-ai/DeepSeek-V3", "prompt": "def fib(a):", "suffix": "    return fib(a-1) + fib(a-2)", "stream": true}),
    );
    assert!(streamed.content_type.starts_with("text/event-stream"));
    let body = String::from_utf8(streamed.body).unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"));
    let joined: String = body
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| {
            serde_json::from_str::<Value>(data).unwrap()["choices"][0]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(joined, text, "the stream carries the same text");

    let cut = demo.post_json(
        "/completions",
        json!({"model": "deepseek-ai/DeepSeek-V3", "prompt": "x", "max_tokens": 2}),
    );
    assert_eq!(cut.json()["choices"][0]["finish_reason"], "length");
}

#[test]
fn files_and_a_batch_from_validating_to_completed() {
    let demo = Demo::start();
    let line = |id: &str, model: &str| {
        json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions",
               "body": {"model": model, "messages": [{"role": "user", "content": format!("question {id}")}]}})
        .to_string()
    };
    let jsonl = [
        line("request-1", "deepseek-ai/DeepSeek-V3"),
        line("request-2", "demo/unknown-model"),
        line("request-3", "deepseek-ai/DeepSeek-R1"),
    ]
    .join("\n");
    let (content_type, body) = multipart(
        &[("purpose", "batch")],
        ("file", "requests.jsonl", jsonl.as_bytes()),
    );
    let uploaded = demo.call("POST", "/files", &content_type, &body).json();
    assert_eq!(
        (uploaded["code"].clone(), uploaded["status"].clone()),
        (json!(20000), json!(true))
    );
    let file_id = uploaded["data"]["id"].as_str().unwrap().to_string();
    assert!(file_id.starts_with("file-"));
    assert!(uploaded["data"]["createdAt"].is_u64());
    let listed = demo.get("/files?purpose=batch").json();
    assert_eq!(listed["data"]["data"][0]["line_count"], 3);
    assert!(listed["data"]["data"][0]["created_at"].is_u64());

    let created = demo.post_json(
        "/batches",
        json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
               "metadata": {"description": "test"}}),
    );
    let batch = created.json();
    assert_eq!(batch["status"], "validating");
    assert_eq!(batch["object"], "batch");
    assert!(batch["output_file_id"].is_null());
    let id = batch["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("batch_"));

    let seen = poll_until(
        || demo.get(&format!("/batches/{id}")).json(),
        |b| b["status"] == "completed",
    );
    let mut statuses: Vec<&str> = seen.iter().map(|b| b["status"].as_str().unwrap()).collect();
    statuses.dedup();
    let order = ["validating", "in_progress", "finalizing", "completed"];
    assert!(statuses.iter().all(|s| order.contains(s)), "{statuses:?}");
    assert!(statuses
        .windows(2)
        .all(|w| order.iter().position(|s| s == &w[0]) < order.iter().position(|s| s == &w[1])));
    assert!(statuses.contains(&"in_progress"), "{statuses:?}");
    let done = seen.last().unwrap();
    assert_eq!(
        done["request_counts"],
        json!({"total": 3, "completed": 2, "failed": 1})
    );
    assert!(done["completed_at"].is_u64());

    let output = demo.get(&format!(
        "/files/{}/content",
        done["output_file_id"].as_str().unwrap()
    ));
    let output: Vec<Value> = String::from_utf8(output.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(output.len(), 2);
    assert_eq!(output[0]["custom_id"], "request-1");
    assert_eq!(output[0]["response"]["status_code"], 200);
    let answer = output[0]["response"]["body"]["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert!(answer.contains("question request-1"), "{answer}");
    let errors = demo.get(&format!(
        "/files/{}/content",
        done["error_file_id"].as_str().unwrap()
    ));
    let errors: Value = serde_json::from_slice(&errors.body).unwrap();
    assert_eq!(errors["custom_id"], "request-2");
    assert_eq!(errors["response"]["body"]["code"], 20012);

    let list = demo.get("/batches").json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["file_name"], "requests.jsonl");
    assert_eq!(list["has_more"], false);

    // A cancelled batch: cancelling, then cancelled, with no output.
    let second = demo.post_json("/batches", json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}));
    let second = second.json()["id"].as_str().unwrap().to_string();
    let cancelling = demo
        .post_json(&format!("/batches/{second}/cancel"), json!({}))
        .json();
    assert_eq!(cancelling["status"], "cancelling");
    let seen = poll_until(
        || demo.get(&format!("/batches/{second}")).json(),
        |b| b["status"] == "cancelled",
    );
    assert!(seen.last().unwrap()["output_file_id"].is_null());
    let bad = demo.post_json("/batches", json!({"input_file_id": "file-none", "endpoint": "/v1/chat/completions", "completion_window": "24h"}));
    assert_eq!(bad.status, 400);
}
