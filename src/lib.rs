//! A blocking, thread-free client for [SiliconFlow](https://siliconflow.cn)'s OpenAI-compatible API, and for
//! any server that speaks the same protocol (DeepSeek, OpenAI, vLLM, Ollama's `/v1`).
//!
//! Its heart is streaming chat. [`Client::chat_stream`] sends the request and returns a [`ChatStream`]:
//! an [`Iterator`] of `Result<`[`ChatDelta`]`, `[`Error`]`>` that reads the server-sent-event body on
//! **your** thread, hands out each delta as soon as its event has arrived, and accumulates the full answer
//! and the full reasoning as it goes. No async runtime, no background threads: a command-line tool, a game
//! loop or an FFI host can stream from a model with nothing but a socket and a parser between them.
//!
//! # Streaming a reasoning model
//!
//! ```no_run
//! use std::io::Write;
//! use siliconflow::{ChatRequest, Client, Message};
//!
//! let client = Client::from_env()?; // SILICONFLOW_API_KEY, optional SILICONFLOW_BASE_URL
//! let request = ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("你好")]);
//!
//! let mut stream = client.chat_stream(&request)?;
//! for delta in &mut stream {
//!     let delta = delta?;
//!     if let Some(text) = &delta.reasoning_content {
//!         print!("{text}"); // the model thinking, as it thinks
//!     }
//!     if let Some(text) = &delta.content {
//!         print!("{text}"); // the answer, as it is written
//!     }
//!     std::io::stdout().flush().ok();
//! }
//! let full_content = stream.content();
//! let full_reasoning = stream.reasoning_content();
//! if let Some(usage) = stream.usage() {
//!     println!("\n{} tokens ({} reasoning)", usage.total_tokens, usage.reasoning_tokens().unwrap_or(0));
//! }
//! # let _ = (full_content, full_reasoning);
//! # Ok::<(), siliconflow::Error>(())
//! ```
//!
//! # The same decoder over any reader
//!
//! [`ChatStream::from_reader`] runs the decoder over any [`std::io::BufRead`]: a recorded body, a file, a
//! test fixture.
//!
//! ```
//! use siliconflow::{ChatStream, FinishReason};
//!
//! let recorded = concat!(
//!     ": keep-alive\n\n",
//!     "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"Greet back.\"}}]}\n\n",
//!     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"你好！\"},\"finish_reason\":\"stop\"}],",
//!     "\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":5,\"total_tokens\":9}}\n\n",
//!     "data: [DONE]\n\n",
//! );
//! let mut stream = ChatStream::from_reader(recorded.as_bytes());
//! let deltas = stream.by_ref().collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(deltas.len(), 2);
//! assert_eq!(stream.content(), "你好！");
//! assert_eq!(stream.reasoning_content(), "Greet back.");
//! assert_eq!(stream.finish_reason(), Some(&FinishReason::Stop));
//! assert_eq!(stream.usage().map(|u| u.total_tokens), Some(9));
//! let completion = stream.into_completion();
//! assert_eq!(completion.content(), "你好！");
//! # Ok::<(), siliconflow::Error>(())
//! ```
//!
//! # Errors
//!
//! Every failure is a variant of [`Error`]: an HTTP error status is [`Error::Api`] with the server's
//! [`ApiError`] (status, provider code, message, trace id); an error sent inside a stream is
//! [`Error::Stream`]; a stream that ends before `[DONE]` with a choice unfinished is [`Error::StreamCut`];
//! timeouts are [`Error::Timeout`] with the [`TimeoutKind`]. After an error the stream is fused and what
//! arrived before it stays readable:
//!
//! ```
//! use siliconflow::{ChatStream, Error};
//!
//! let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Half an ans\"}}]}\n\n";
//! let mut stream = ChatStream::from_reader(cut.as_bytes());
//! assert!(stream.next().unwrap().is_ok());
//! assert!(matches!(stream.next(), Some(Err(Error::StreamCut { .. }))));
//! assert!(stream.next().is_none());
//! assert_eq!(stream.content(), "Half an ans");
//! ```
//!
//! # Timeouts, retries, limits
//!
//! Requests that fail before their response (connection failures, timeouts before the headers, 408, 409,
//! 429, 5xx) are retried by the [`RetryPolicy`] (2 retries by default, honouring `Retry-After`); a stream
//! in your hands is never re-sent. The idle timeout restarts with every read, so a long steady reasoning
//! stream is never cut while a stalled one fails. Every setting can be changed per request:
//!
//! ```no_run
//! use std::time::Duration;
//! use siliconflow::{ChatRequest, Client, Message, RetryPolicy};
//!
//! let client = Client::builder()
//!     .api_key("sk-…")
//!     .idle_timeout(Some(Duration::from_secs(60)))
//!     .retry_policy(RetryPolicy::default().max_retries(4))
//!     .build()?;
//! let request = ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("Be brief.")]);
//! let quick = client
//!     .with_deadline(Some(Duration::from_secs(20)))
//!     .chat(&request)?;
//! # let _ = quick;
//! # Ok::<(), siliconflow::Error>(())
//! ```
//!
//! # Beyond one answer
//!
//! - Tool calls: [`Tool::function`], [`ToolChoice`]; fragments merged in [`ChatStream::tool_calls`];
//!   [`ChatStream::message`] gives the assistant turn to append to the history and [`Message::tool`] the
//!   result. Reasoning goes back into the history only when you ask ([`ChatStream::message_with_reasoning`]).
//! - [`ChatStream::split_think_tags`] moves `<think>…</think>` out of the answer; [`ChatStream::timings`]
//!   and [`ChatStream::spent_budget_thinking`] describe how the answer went.
//! - Other endpoints on the same client: [`Client::list_models`], [`Client::user_info`],
//!   [`Client::embeddings`], [`Client::rerank`]; images ([`Client::generate_images`],
//!   [`Client::download_image`]), speech ([`Client::speech_to`]), transcription ([`Client::transcribe`]),
//!   voices ([`Client::upload_voice`]), video ([`Client::submit_video`], [`Client::wait_video`]),
//!   fill-in-the-middle ([`Client::completion_stream`]), files and batches ([`Client::upload_file`],
//!   [`Client::create_batch`]), and the batch job helper ([`Client::start_batch_job`]).
//!
//! # Other servers
//!
//! Point the client at any OpenAI-compatible `/v1`:
//!
//! ```
//! let client = siliconflow::Client::builder()
//!     .api_key("ollama")
//!     .base_url("http://127.0.0.1:11434/v1")
//!     .build()?;
//! # Ok::<(), siliconflow::Error>(())
//! ```

#![warn(missing_docs)]
// Every builder-style method returns the changed value: dropping it is a bug the compiler should name.
#![warn(clippy::return_self_not_must_use)]

mod body;
mod bounded;
mod cancel;
pub mod chat;
mod client;
pub mod embeddings;
mod error;
mod extra;
mod json;
mod lenient;
mod limits;
mod meta;
#[cfg(feature = "mock-server")]
pub mod mock;
pub mod models;
mod net;
mod query;
mod raw;
mod redact;
pub mod rerank;
mod retry;
mod serde_util;
mod setters;
pub mod sse;
pub mod user;

// Endpoint types (issue 11).
pub mod audio;
pub mod batches;
pub mod completions;
pub mod download;
pub mod envelope;
pub mod files;
pub mod images;
pub mod media;
pub mod multipart;
pub mod video;

pub use body::ResponseBody;
pub use bounded::{MAX_CONTENT_PARTS, MAX_LIST_ENTRIES};
pub use cancel::CancelHandle;
pub use chat::{
    ChatCompletion, ChatDelta, ChatDeltaRef, ChatRequest, ChatStream, Choice,
    CompletionTokensDetails, Content, ContentPart, FinishReason, FunctionCall, FunctionCallDelta,
    FunctionDefinition, MediaUrl, Message, PromptTokensDetails, ResponseFormat, Role, Stop,
    StreamChoice, StreamEnd, StreamOptions, StreamTimings, Tool, ToolCall, ToolCallDelta,
    ToolChoice, Usage,
};
pub use client::{
    Client, ClientBuilder, PollOptions, API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT,
};
pub use embeddings::{
    Embedding, EmbeddingDecodeError, EmbeddingInput, EmbeddingRequest, EmbeddingResponse,
    EmbeddingVector, EncodingFormat,
};
pub use error::{ApiError, BoxError, Error, JsonError, TimeoutKind};
pub use extra::{ExtraFields, MAX_EXTRA_FIELDS};
pub use limits::{
    StreamLimits, DEFAULT_MAX_ACCUMULATED_SIZE, DEFAULT_MAX_CHOICES, DEFAULT_MAX_TOOL_CALLS,
};
pub use meta::{Headers, RateLimit, ResponseMeta, REQUEST_ID_HEADERS};
pub use models::{Model, ModelList, ModelsQuery};
pub use raw::RawJson;
pub use rerank::{
    BilledUnits, RerankDocument, RerankMeta, RerankRequest, RerankResponse, RerankResult,
    RerankTokens,
};
pub use retry::RetryPolicy;
pub use user::UserInfo;

// Endpoint types (issue 11).
pub use audio::speech::{SpeechFormat, SpeechReference, SpeechRequest};
pub use audio::transcription::{Transcription, TranscriptionRequest};
pub use audio::voice::{
    DeleteVoiceRequest, DeleteVoiceResponse, UploadedVoice, Voice, VoiceList, VoiceUploadForm,
    VoiceUploadRequest,
};
pub use batches::input::{
    write_batch_input, BatchInputError, BatchInputLine, BatchInputSummary, BatchInputWriter,
    MAX_BATCH_FILE_BYTES, MAX_BATCH_LINES,
};
pub use batches::job::{BatchJob, BatchJobOptions, BatchOutcome};
pub use batches::object::{Batch, BatchError, BatchList, BatchStatus, RequestCounts};
pub use batches::output::{
    parse_output_line, BatchOutputError, BatchOutputLine, BatchOutputReader,
};
pub use batches::request::{BatchListQuery, BatchRequest, BatchRequestError, BATCH_ENDPOINT};
pub use batches::results::{BatchResult, BatchResults};
pub use completions::{Completion, CompletionChoice, CompletionRequest};
pub use download::{Download, DownloadedBytes};
pub use files::{
    DeletedFile, FileList, FileListQuery, FileObject, FilePurpose, FileRef, FileUploadRequest,
};
pub use images::{ImageRequest, ImageResponse, MAX_IMAGE_SEED};
pub use media::{GeneratedMedia, MediaInput, Timings};
pub use multipart::{FilePart, Form, FormReader, MultipartError};
pub use video::{
    VideoRequest, VideoResults, VideoStatus, VideoStatusRequest, VideoStatusResponse,
    VideoSubmitResponse,
};

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
