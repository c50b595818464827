//! The demo server: a [`MockServer`] whose handler answers like SiliconFlow, with the state the
//! asynchronous endpoints need (voices, video jobs, files, batches). Nothing runs in the background:
//! jobs move on with the clock, worked out whenever they are asked about.
//!
//! | route (under `/v1`) | answer | file |
//! | --- | --- | --- |
//! | `POST /chat/completions` | the canned DeepSeek-R1 replies and tool calls, streamed or whole | `chat.rs` |
//! | `POST /completions` | a fill-in-the-middle completion, streamed or whole | `completions.rs` |
//! | `POST /embeddings`, `POST /rerank` | vectors made from the text; scores from shared words | `catalog.rs` |
//! | `GET /models`, `GET /user/info` | a small catalogue (filtered by `type`, `sub_type`); a wrapped user | `catalog.rs` |
//! | `POST /images/generations` | URLs on this server of small PNG images | `images.rs` |
//! | `POST /audio/speech` | a tone (WAV, PCM) or silence (MP3), chunked, a piece at a time | `audio.rs` |
//! | `POST /audio/transcriptions` | `{"text": …}` describing the uploaded file | `audio.rs` |
//! | `POST /uploads/audio/voice`, `GET /audio/voice/list`, `POST /audio/voice/deletions` | voices kept in memory | `voices.rs` |
//! | `POST /video/submit`, `POST /video/status` | a job: `InQueue`, `InProgress`, then `Succeed` with a URL here | `video.rs` |
//! | `POST /files`, `GET /files`, `GET /files/{id}/content` | uploads kept in memory (wrapped answers) | `files.rs` |
//! | `POST /batches`, `GET /batches`, `GET /batches/{id}`, `POST /batches/{id}/cancel` | batch jobs over the chat demo | `batches.rs` |
//! | `GET /outputs/…` (not under `/v1`, no key: pre-signed URLs) | the generated images and videos | `media.rs` |

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Map, Value};
use siliconflow::mock::{MockResponse, MockServer, ReceivedRequest};

use super::{audio, batches, catalog, chat, completions, files, images, media, video, voices};
use super::{text::mix, UNKNOWN_MODEL};

/// The largest request body the demo accepts (SiliconFlow takes audio files up to 50 MB; the demo
/// needs less).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// An offline stand-in for `https://api.siliconflow.cn/v1`, listening on `127.0.0.1` until dropped.
#[derive(Debug)]
pub struct DemoServer {
    server: MockServer,
}

impl DemoServer {
    /// Binds `127.0.0.1:0` and starts answering requests authorised with `Bearer <api_key>`.
    pub fn start(api_key: &str) -> io::Result<DemoServer> {
        let demo = Arc::new(Demo::new(api_key));
        let server = MockServer::builder()
            .record_requests(false)
            .max_body_size(MAX_BODY)
            .handler(move |request| demo.handle(request))
            .start()?;
        Ok(DemoServer { server })
    }

    /// The base URL to give a client, like `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
}

/// What the demo remembers between requests.
pub struct Demo {
    api_key: String,
    /// Numbers ids and seeds.
    counter: AtomicU64,
    pub voices: Mutex<Vec<voices::Voice>>,
    pub videos: Mutex<Vec<video::Job>>,
    pub files: Mutex<Vec<files::StoredFile>>,
    pub batches: Mutex<Vec<batches::Batch>>,
}

/// The endpoints the demo knows.
enum Route<'a> {
    Asset(&'a str),
    Chat,
    Completions,
    Embeddings,
    Rerank,
    Models,
    UserInfo,
    Images,
    Speech,
    Transcriptions,
    UploadVoice,
    ListVoices,
    DeleteVoice,
    SubmitVideo,
    VideoStatus,
    UploadFile,
    ListFiles,
    FileContent(&'a str),
    CreateBatch,
    ListBatches,
    GetBatch(&'a str),
    CancelBatch(&'a str),
}

impl<'a> Route<'a> {
    fn of(method: &str, path: &'a str) -> Option<Route<'a>> {
        if let Some(name) = path.strip_prefix("/outputs/") {
            return (method == "GET").then_some(Route::Asset(name));
        }
        let path = path.strip_prefix("/v1")?;
        let route = match (method, path) {
            ("POST", "/chat/completions") => Route::Chat,
            ("POST", "/completions") => Route::Completions,
            ("POST", "/embeddings") => Route::Embeddings,
            ("POST", "/rerank") => Route::Rerank,
            ("GET", "/models") => Route::Models,
            ("GET", "/user/info") => Route::UserInfo,
            ("POST", "/images/generations") => Route::Images,
            ("POST", "/audio/speech") => Route::Speech,
            ("POST", "/audio/transcriptions") => Route::Transcriptions,
            ("POST", "/uploads/audio/voice") => Route::UploadVoice,
            ("GET", "/audio/voice/list") => Route::ListVoices,
            ("POST", "/audio/voice/deletions") => Route::DeleteVoice,
            ("POST", "/video/submit") => Route::SubmitVideo,
            ("POST", "/video/status") => Route::VideoStatus,
            ("POST", "/files") => Route::UploadFile,
            ("GET", "/files") => Route::ListFiles,
            ("POST", "/batches") => Route::CreateBatch,
            ("GET", "/batches") => Route::ListBatches,
            _ => return Route::with_id(method, path),
        };
        Some(route)
    }

    /// `GET /files/{id}/content`, `GET /batches/{id}`, `POST /batches/{id}/cancel`.
    fn with_id(method: &str, path: &'a str) -> Option<Route<'a>> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("GET", ["files", id, "content"]) => Some(Route::FileContent(id)),
            ("GET", ["batches", id]) => Some(Route::GetBatch(id)),
            ("POST", ["batches", id, "cancel"]) => Some(Route::CancelBatch(id)),
            _ => None,
        }
    }
}

impl Demo {
    fn new(api_key: &str) -> Demo {
        Demo {
            api_key: api_key.to_string(),
            counter: AtomicU64::new(0),
            voices: Mutex::new(Vec::new()),
            videos: Mutex::new(Vec::new()),
            files: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
        }
    }

    /// Answers one request: 404 for an unknown route, 401 for a wrong key, else the endpoint's answer.
    fn handle(&self, request: &ReceivedRequest) -> MockResponse {
        let Some(route) = Route::of(&request.method, &request.path) else {
            return MockResponse::not_found();
        };
        if let Route::Asset(name) = route {
            // Generated files are served from pre-signed URLs: no key.
            return media::asset(name);
        }
        if request.bearer_token() != Some(self.api_key.as_str()) {
            return MockResponse::invalid_token();
        }
        let answer = match route {
            Route::Asset(_) => return MockResponse::not_found(),
            Route::Chat => chat::answer(self, request),
            Route::Completions => completions::answer(self, request),
            Route::Embeddings => catalog::embeddings(request),
            Route::Rerank => catalog::rerank(self, request),
            Route::Models => Ok(catalog::models(request)),
            Route::UserInfo => Ok(catalog::user_info()),
            Route::Images => images::generate(self, request),
            Route::Speech => audio::speech(self, request),
            Route::Transcriptions => audio::transcribe(request),
            Route::UploadVoice => voices::upload(self, request),
            Route::ListVoices => Ok(voices::list(self)),
            Route::DeleteVoice => voices::delete(self, request),
            Route::SubmitVideo => video::submit(self, request),
            Route::VideoStatus => video::status(self, request),
            Route::UploadFile => files::upload(self, request),
            Route::ListFiles => Ok(files::list(self, request)),
            Route::FileContent(id) => files::content(self, id),
            Route::CreateBatch => batches::create(self, request),
            Route::ListBatches => Ok(batches::list(self, request)),
            Route::GetBatch(id) => batches::get(self, id),
            Route::CancelBatch(id) => batches::cancel(self, id),
        };
        answer.unwrap_or_else(|error| error)
    }

    /// A number never handed out before, mixed with the clock: the seed of an id.
    pub fn next_seed(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        mix(now.as_nanos() as u64 ^ n.rotate_left(32))
    }

    /// An id like SiliconFlow's (`file-jkvytbjtow`, `batch_rdyqgrcgjg`): the prefix and ten lowercase
    /// letters.
    pub fn new_id(&self, prefix: &str) -> String {
        let mut seed = self.next_seed();
        let mut id = prefix.to_string();
        for _ in 0..10 {
            id.push(char::from(b'a' + (seed % 26) as u8));
            seed /= 26;
        }
        id
    }

    /// 32 hex digits, like SiliconFlow's completion ids.
    pub fn hex_id(&self) -> String {
        let seed = self.next_seed();
        format!(
            "{:016x}{:016x}",
            mix(seed),
            mix(seed ^ 0x5851_f42d_4c95_7f2d)
        )
    }
}

/// An answer, or the error response to send instead.
pub type Answer = Result<MockResponse, MockResponse>;

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Locks a mutex, also after a panic elsewhere.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds `item`, first dropping the oldest items so that at most `cap` are kept (the demo's memory
/// stays bounded however long it runs).
pub fn push_capped<T>(items: &mut Vec<T>, item: T, cap: usize) {
    if items.len() >= cap {
        let excess = items.len() + 1 - cap;
        items.drain(..excess);
    }
    items.push(item);
}

/// A JSON answer from any serializable value.
pub fn json_of(value: &impl Serialize) -> MockResponse {
    match serde_json::to_value(value) {
        Ok(value) => MockResponse::json(value),
        Err(error) => MockResponse::text(error.to_string()).status(500),
    }
}

/// SiliconFlow's envelope `{"code":20000,"message":…,"status":true,"data":…}`, used by `/user/info`
/// (message `"OK"`) and the file endpoints (message `"Ok"`).
pub fn wrapped(message: &str, data: Value) -> MockResponse {
    MockResponse::json(json!({"code": 20000, "message": message, "status": true, "data": data}))
}

/// SiliconFlow's 400 for a bad parameter: `{"code":20015,"message":…,"data":null}`.
pub fn bad_request(message: &str) -> MockResponse {
    MockResponse::siliconflow_error(400, 20015, message)
}

/// The request body as a JSON object.
pub fn json_body(request: &ReceivedRequest) -> Result<Map<String, Value>, MockResponse> {
    match request.json() {
        Some(Value::Object(body)) => Ok(body),
        _ => Err(bad_request("The request body is not a JSON object.")),
    }
}

/// A required, non-empty string field.
pub fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, MockResponse> {
    match body.get(field).and_then(Value::as_str) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(bad_request(&format!("Field required: {field}"))),
    }
}

/// The `model` field: required, and [`UNKNOWN_MODEL`] does not exist.
pub fn model(body: &Map<String, Value>) -> Result<&str, MockResponse> {
    check_model(required(body, "model")?)
}

/// SiliconFlow's 400 `{"code":20012,…}` for [`UNKNOWN_MODEL`].
pub fn check_model(model: &str) -> Result<&str, MockResponse> {
    if model == UNKNOWN_MODEL {
        return Err(MockResponse::model_not_found());
    }
    Ok(model)
}

/// The URL of a generated file on this server, pre-signed for an hour like SiliconFlow's.
pub fn asset_url(request: &ReceivedRequest, name: &str) -> String {
    format!(
        "http://{}/outputs/{name}?Expires={}&Signature=offline-demo",
        request.server,
        now() + 3600
    )
}
