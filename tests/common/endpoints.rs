//! Every endpoint the client calls, as one table, so each promise test (fault matrix, threads, redaction,
//! panics) runs over all of them: a new endpoint added here gets every row, and one not added here is
//! visibly missing.
#![allow(dead_code)]

use siliconflow::audio::transcription::TranscriptionRequest;
use siliconflow::multipart::FilePart;
use siliconflow::{
    BatchListQuery, BatchRequest, ChatRequest, Client, CompletionRequest, EmbeddingRequest, Error,
    FileListQuery, FileRef, FileUploadRequest, ImageRequest, MediaInput, Message, ModelsQuery,
    RerankRequest, SpeechRequest, VideoRequest, VoiceUploadForm, VoiceUploadRequest,
};

/// How an endpoint's successful answer looks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A JSON body.
    Json,
    /// A server-sent-event stream.
    EventStream,
    /// A binary body written into a writer as it arrives (audio, an image, a file): a streamed
    /// download, whose head the idle timeout bounds and whose whole body the event timeout bounds.
    Binary,
}

/// A call of an endpoint, consuming its whole answer.
pub type CallFn = fn(&Client) -> Result<(), Error>;

/// A call of an endpoint with a request body of about `bytes` bytes.
pub type BigCallFn = fn(&Client, usize) -> Result<(), Error>;

/// One endpoint of the client.
pub struct Endpoint {
    pub name: &'static str,
    pub method: &'static str,
    /// The path under `/v1`.
    pub path: &'static str,
    pub answer: Answer,
    /// Calls it and consumes the whole answer.
    pub call: CallFn,
    /// Calls it with a request body of about `bytes` bytes (endpoints whose request has a body).
    pub call_big: Option<BigCallFn>,
    /// A complete successful answer body.
    pub ok_body: fn() -> String,
}

fn chat_request(text: String) -> ChatRequest {
    ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user(text)])
}

fn consume_stream(client: &Client, request: &ChatRequest) -> Result<(), Error> {
    let mut stream = client.chat_stream(request)?;
    for delta in &mut stream {
        delta?;
    }
    Ok(())
}

pub const CHAT_STREAM_BODY: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

pub const CHAT_BODY: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;

pub const COMPLETION_STREAM_BODY: &str = concat!(
    "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"ok\",\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

pub const COMPLETION_BODY: &str = r#"{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"ok","finish_reason":"stop"}]}"#;

pub const BATCH_BODY: &str = r#"{"id":"batch_1","object":"batch","endpoint":"/v1/chat/completions","errors":null,"input_file_id":"file-1","completion_window":"24h","status":"in_progress","request_counts":{"total":2,"completed":1,"failed":0}}"#;

/// Bytes standing for audio, an image or a file.
pub const BINARY_BODY: &str = "ID3\u{4}binary-body-0123456789abcdef";

fn consume_completion_stream(client: &Client, request: &CompletionRequest) -> Result<(), Error> {
    let mut stream = client.completion_stream(request)?;
    for delta in &mut stream {
        delta?;
    }
    Ok(())
}

/// A URL on the client's server outside `/v1`, as generated media are (another host in production).
fn asset_url(client: &Client, name: &str) -> String {
    let base = client.base_url();
    format!("{}/outputs/{name}", base.trim_end_matches("/v1"))
}

fn transcription(bytes: Vec<u8>) -> TranscriptionRequest {
    TranscriptionRequest::new(
        "FunAudioLLM/SenseVoiceSmall",
        FilePart::bytes(bytes)
            .file_name("a.wav")
            .content_type("audio/wav"),
    )
}

fn voice_form(bytes: Vec<u8>) -> VoiceUploadForm {
    VoiceUploadForm::new(
        "FunAudioLLM/CosyVoice2-0.5B",
        "v",
        "text",
        FilePart::bytes(bytes).file_name("v.mp3"),
    )
}

fn batch_file(bytes: Vec<u8>) -> FileUploadRequest {
    FileUploadRequest::batch(FilePart::bytes(bytes).file_name("requests.jsonl"))
}

/// Every endpoint.
pub fn endpoints() -> Vec<Endpoint> {
    let mut all = core_endpoints();
    all.extend(media_endpoints());
    all.extend(job_endpoints());
    all
}

/// Chat, models, user info, embeddings, rerank.
fn core_endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "chat_stream",
            method: "POST",
            path: "/v1/chat/completions",
            answer: Answer::EventStream,
            call: |c| consume_stream(c, &chat_request("hi".into())),
            call_big: Some(|c, n| consume_stream(c, &chat_request("x".repeat(n)))),
            ok_body: || CHAT_STREAM_BODY.to_string(),
        },
        Endpoint {
            name: "chat",
            method: "POST",
            path: "/v1/chat/completions",
            answer: Answer::Json,
            call: |c| c.chat(&chat_request("hi".into())).map(drop),
            call_big: Some(|c, n| c.chat(&chat_request("x".repeat(n))).map(drop)),
            ok_body: || CHAT_BODY.to_string(),
        },
        Endpoint {
            name: "models",
            method: "GET",
            path: "/v1/models",
            answer: Answer::Json,
            call: |c| c.models(&ModelsQuery::new().kind("text")).map(drop),
            call_big: None,
            ok_body: || r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#.to_string(),
        },
        Endpoint {
            name: "user_info",
            method: "GET",
            path: "/v1/user/info",
            answer: Answer::Json,
            call: |c| c.user_info().map(drop),
            call_big: None,
            ok_body: || {
                r#"{"code":20000,"message":"OK","status":true,"data":{"id":"u","balance":"1"}}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "embeddings",
            method: "POST",
            path: "/v1/embeddings",
            answer: Answer::Json,
            call: |c| c.embeddings(&EmbeddingRequest::new("m", "hi")).map(drop),
            call_big: Some(|c, n| {
                c.embeddings(&EmbeddingRequest::new("m", "x".repeat(n)))
                    .map(drop)
            }),
            ok_body: || {
                r#"{"object":"list","model":"m","data":[{"object":"embedding","index":0,"embedding":[0.5]}]}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "rerank",
            method: "POST",
            path: "/v1/rerank",
            answer: Answer::Json,
            call: |c| {
                c.rerank(&RerankRequest::new("m", "q", ["a", "b"]))
                    .map(drop)
            },
            call_big: Some(|c, n| {
                c.rerank(&RerankRequest::new("m", "q", ["x".repeat(n)]))
                    .map(drop)
            }),
            ok_body: || r#"{"id":"r","results":[{"index":0,"relevance_score":0.9}]}"#.to_string(),
        },
    ]
}

/// Images, speech, transcription, voices, video.
fn media_endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "generate_images",
            method: "POST",
            path: "/v1/images/generations",
            answer: Answer::Json,
            call: |c| {
                c.generate_images(&ImageRequest::new("m", "a fox"))
                    .map(drop)
            },
            call_big: None,
            ok_body: || {
                r#"{"images":[{"url":"https://e/x.png"}],"timings":{"inference":0.1},"seed":1}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "download_image",
            method: "GET",
            path: "/outputs/x.png",
            answer: Answer::Binary,
            call: |c| {
                c.download_image(&asset_url(c, "x.png"), &mut std::io::sink())
                    .map(drop)
            },
            call_big: None,
            ok_body: || BINARY_BODY.to_string(),
        },
        Endpoint {
            name: "speech_to",
            method: "POST",
            path: "/v1/audio/speech",
            answer: Answer::Binary,
            call: |c| {
                c.speech_to(&SpeechRequest::new("m", "hi"), &mut std::io::sink())
                    .map(drop)
            },
            call_big: Some(|c, n| {
                c.speech_to(
                    &SpeechRequest::new("m", "x".repeat(n)),
                    &mut std::io::sink(),
                )
                .map(drop)
            }),
            ok_body: || BINARY_BODY.to_string(),
        },
        Endpoint {
            name: "speech_bytes",
            method: "POST",
            path: "/v1/audio/speech",
            answer: Answer::Binary,
            call: |c| c.speech_bytes(&SpeechRequest::new("m", "hi")).map(drop),
            call_big: None,
            ok_body: || BINARY_BODY.to_string(),
        },
        Endpoint {
            name: "transcribe",
            method: "POST",
            path: "/v1/audio/transcriptions",
            answer: Answer::Json,
            call: |c| c.transcribe(transcription(b"RIFF".to_vec())).map(drop),
            call_big: Some(|c, n| c.transcribe(transcription(vec![b'a'; n])).map(drop)),
            ok_body: || r#"{"text":"ok"}"#.to_string(),
        },
        Endpoint {
            name: "upload_voice",
            method: "POST",
            path: "/v1/uploads/audio/voice",
            answer: Answer::Json,
            call: |c| {
                let audio = MediaInput::from_bytes(b"ID3", "audio/mpeg");
                c.upload_voice(&VoiceUploadRequest::new("m", "v", "t", audio))
                    .map(drop)
            },
            call_big: None,
            ok_body: || r#"{"uri":"speech:v:a:b"}"#.to_string(),
        },
        Endpoint {
            name: "upload_voice_form",
            method: "POST",
            path: "/v1/uploads/audio/voice",
            answer: Answer::Json,
            call: |c| c.upload_voice_form(voice_form(b"ID3".to_vec())).map(drop),
            call_big: Some(|c, n| c.upload_voice_form(voice_form(vec![b'a'; n])).map(drop)),
            ok_body: || r#"{"uri":"speech:v:a:b"}"#.to_string(),
        },
        Endpoint {
            name: "list_voices",
            method: "GET",
            path: "/v1/audio/voice/list",
            answer: Answer::Json,
            call: |c| c.list_voices().map(drop),
            call_big: None,
            ok_body: || {
                r#"{"results":[{"model":"m","customName":"v","text":"t","uri":"speech:v:a:b"}]}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "delete_voice",
            method: "POST",
            path: "/v1/audio/voice/deletions",
            answer: Answer::Json,
            call: |c| c.delete_voice("speech:v:a:b").map(drop),
            call_big: None,
            ok_body: || r#""ok""#.to_string(),
        },
        Endpoint {
            name: "submit_video",
            method: "POST",
            path: "/v1/video/submit",
            answer: Answer::Json,
            call: |c| {
                c.submit_video(&VideoRequest::new("m", "a boat", "1280x720"))
                    .map(drop)
            },
            call_big: None,
            ok_body: || r#"{"requestId":"r1"}"#.to_string(),
        },
        Endpoint {
            name: "video_status",
            method: "POST",
            path: "/v1/video/status",
            answer: Answer::Json,
            call: |c| c.video_status("r1").map(drop),
            call_big: None,
            ok_body: || r#"{"status":"InProgress","reason":"","position":0}"#.to_string(),
        },
        Endpoint {
            name: "download_video",
            method: "GET",
            path: "/outputs/v.mp4",
            answer: Answer::Binary,
            call: |c| {
                c.download_video(&asset_url(c, "v.mp4"), &mut std::io::sink())
                    .map(drop)
            },
            call_big: None,
            ok_body: || BINARY_BODY.to_string(),
        },
    ]
}

/// Completions, files, batches.
fn job_endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "completion",
            method: "POST",
            path: "/v1/completions",
            answer: Answer::Json,
            call: |c| {
                c.completion(&CompletionRequest::new("m", "def f():"))
                    .map(drop)
            },
            call_big: Some(|c, n| {
                c.completion(&CompletionRequest::new("m", "x".repeat(n)))
                    .map(drop)
            }),
            ok_body: || COMPLETION_BODY.to_string(),
        },
        Endpoint {
            name: "completion_stream",
            method: "POST",
            path: "/v1/completions",
            answer: Answer::EventStream,
            call: |c| consume_completion_stream(c, &CompletionRequest::fim("m", "a", "b")),
            call_big: None,
            ok_body: || COMPLETION_STREAM_BODY.to_string(),
        },
        Endpoint {
            name: "upload_file",
            method: "POST",
            path: "/v1/files",
            answer: Answer::Json,
            call: |c| c.upload_file(batch_file(b"{}\n".to_vec())).map(drop),
            call_big: Some(|c, n| c.upload_file(batch_file(vec![b'a'; n])).map(drop)),
            ok_body: || {
                r#"{"code":20000,"message":"Ok","status":true,"data":{"id":"file-1","object":"file","bytes":3,"createdAt":1,"filename":"requests.jsonl","purpose":"batch"}}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "list_files",
            method: "GET",
            path: "/v1/files",
            answer: Answer::Json,
            call: |c| c.list_files(&FileListQuery::new()).map(drop),
            call_big: None,
            ok_body: || {
                r#"{"code":20000,"message":"Ok","status":true,"data":{"object":"file","data":[{"id":"file-1","created_at":1}]}}"#
                    .to_string()
            },
        },
        Endpoint {
            name: "file_content",
            method: "GET",
            path: "/v1/files/file-1/content",
            answer: Answer::Binary,
            call: |c| {
                c.file_content(&FileRef::Id("file-1".into()), &mut std::io::sink())
                    .map(drop)
            },
            call_big: None,
            ok_body: || BINARY_BODY.to_string(),
        },
        Endpoint {
            name: "delete_file",
            method: "DELETE",
            path: "/v1/files/file-1",
            answer: Answer::Json,
            call: |c| c.delete_file("file-1").map(drop),
            call_big: None,
            ok_body: || r#"{"id":"file-1","object":"file","deleted":true}"#.to_string(),
        },
        Endpoint {
            name: "create_batch",
            method: "POST",
            path: "/v1/batches",
            answer: Answer::Json,
            call: |c| c.create_batch(&BatchRequest::new("file-1")).map(drop),
            call_big: None,
            ok_body: || BATCH_BODY.to_string(),
        },
        Endpoint {
            name: "list_batches",
            method: "GET",
            path: "/v1/batches",
            answer: Answer::Json,
            call: |c| c.list_batches(&BatchListQuery::new()).map(drop),
            call_big: None,
            ok_body: || format!(r#"{{"object":"list","data":[{BATCH_BODY}],"has_more":false}}"#),
        },
        Endpoint {
            name: "get_batch",
            method: "GET",
            path: "/v1/batches/batch_1",
            answer: Answer::Json,
            call: |c| c.get_batch("batch_1").map(drop),
            call_big: None,
            ok_body: || BATCH_BODY.to_string(),
        },
        Endpoint {
            name: "cancel_batch",
            method: "POST",
            path: "/v1/batches/batch_1/cancel",
            answer: Answer::Json,
            call: |c| c.cancel_batch("batch_1").map(drop),
            call_big: None,
            ok_body: || BATCH_BODY.to_string(),
        },
    ]
}
