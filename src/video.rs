//! Video generation, asynchronous: `POST /video/submit` then `POST /video/status` until done.
//!
//! Submit a [`VideoRequest`]; the answer, a [`VideoSubmitResponse`], holds a `requestId`. Poll with a
//! [`VideoStatusRequest`] carrying that id (a **POST**, not a GET) until the [`VideoStatusResponse`] is
//! [terminal](VideoStatusResponse::is_terminal): `Succeed` with the video URLs in
//! [`results`](VideoStatusResponse::results), or `Failed` with a [`reason`](VideoStatusResponse::reason).
//! No polling interval is documented; public clients poll every 5–10 s for up to 15 minutes. Keep a
//! deadline of your own: an unknown status (kept in [`VideoStatus::Other`]) is not terminal.
//!
//! The video URLs **expire**: the submit page says after 10 minutes, the status page after one hour.
//! Download as soon as the status is `Succeed`.
//!
//! ```
//! use siliconflow::{VideoRequest, VideoStatus, VideoStatusRequest, VideoStatusResponse, VideoSubmitResponse};
//!
//! let request = VideoRequest::new("Wan-AI/Wan2.2-T2V-A14B", "a paper boat on a stream", "1280x720").seed(42);
//! assert_eq!(serde_json::to_value(&request).unwrap()["image_size"], "1280x720");
//!
//! let submitted: VideoSubmitResponse = serde_json::from_str(r#"{"requestId":"hv6tgmuqdiwb"}"#).unwrap();
//! let poll = VideoStatusRequest::new(&submitted.request_id);
//! assert_eq!(serde_json::to_string(&poll).unwrap(), r#"{"requestId":"hv6tgmuqdiwb"}"#);
//!
//! let status: VideoStatusResponse = serde_json::from_str(
//!     r#"{"status":"Succeed","reason":"","position":0,
//!         "results":{"videos":[{"url":"https://example.com/v.mp4"}],"timings":{"inference":57.3},"seed":123}}"#,
//! ).unwrap();
//! assert!(status.is_terminal());
//! assert_eq!(status.status, Some(VideoStatus::Succeed));
//! assert_eq!(status.video_urls().collect::<Vec<_>>(), ["https://example.com/v.mp4"]);
//! ```

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::bounded::{check_merge, push};

use crate::client::{with_response, Client, PollOptions};
use crate::error::Error;
use crate::extra::{with_extra, Collector};
use crate::json::Key;
use crate::lenient::{lenient_string, lenient_u64};
use crate::media::{GeneratedMedia, MediaInput, Timings};
use crate::meta::ResponseMeta;
use crate::serde_util::{empty_as_none, null_as_default, open_enum};

/// A video generation request (`POST /video/submit`).
///
/// `image_size` is required by the schema: `1280x720`, `720x1280` or `960x960`. For image-to-video
/// models the guide says the size follows the input image's aspect ratio, but a value must still be
/// sent.
///
/// ```
/// use siliconflow::{MediaInput, VideoRequest};
///
/// let request = VideoRequest::new("Wan-AI/Wan2.2-I2V-A14B", "the cat wakes up", "1280x720")
///     .image(MediaInput::url("https://example.com/cat.png"))
///     .negative_prompt("blurry");
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["image"], "https://example.com/cat.png");
/// assert!(json.get("seed").is_none(), "unset parameters are not sent");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoRequest {
    /// The model id: `Wan-AI/Wan2.2-T2V-A14B` (text to video), `Wan-AI/Wan2.2-I2V-A14B` (image to video),
    /// ….
    pub model: String,
    /// What to film (the guide recommends at most about 200 words).
    pub prompt: String,
    /// The size: `1280x720`, `720x1280` or `960x960`.
    pub image_size: String,
    /// What to keep out of the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// The first frame, required by image-to-video models: a URL or a data URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaInput>,
    /// The random seed (64-bit; no range documented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VideoRequest {
    /// A request to film `prompt` with `model` at `image_size`.
    pub fn new(
        model: impl Into<String>,
        prompt: impl Into<String>,
        image_size: impl Into<String>,
    ) -> Self {
        VideoRequest {
            model: model.into(),
            prompt: prompt.into(),
            image_size: image_size.into(),
            negative_prompt: None,
            image: None,
            seed: None,
            extra: Map::new(),
        }
    }

    crate::setters::option_setters! {
        /// Sets what to keep out of the video.
        negative_prompt: impl Into<String>,
        /// Sets the first frame (image-to-video): a URL, a data URI, or [`MediaInput::from_bytes`].
        image: impl Into<MediaInput>,
        /// Sets the seed.
        seed: u64,
    }
}

with_extra! {
    /// The answer of `POST /video/submit`: the id to poll with.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct VideoSubmitResponse {
        /// The job id (`requestId` on the wire; `request_id` is accepted too), for
        /// [`Client::video_status`] and [`Client::wait_video`]. Not to be confused with the method
        /// [`request_id()`](VideoSubmitResponse::request_id), the response's trace id for support.
        #[serde(
            rename = "requestId",
            alias = "request_id",
            default,
            deserialize_with = "null_as_default"
        )]
        pub request_id: String,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(VideoSubmitResponse);

/// The body of `POST /video/status`: `{"requestId": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoStatusRequest {
    /// The id from [`VideoSubmitResponse::request_id`].
    #[serde(rename = "requestId")]
    pub request_id: String,
}

impl VideoStatusRequest {
    /// A status request for the job `request_id`.
    pub fn new(request_id: impl Into<String>) -> Self {
        VideoStatusRequest {
            request_id: request_id.into(),
        }
    }
}

open_enum! {
    /// The state of a video job. Unknown values are kept in `Other` (and are not terminal).
    pub enum VideoStatus {
        /// Waiting for a worker; [`VideoStatusResponse::position`] may say where in the queue.
        InQueue = "InQueue",
        /// Being generated.
        InProgress = "InProgress",
        /// Done: the videos are in the results.
        Succeed = "Succeed",
        /// Failed: the reason says why.
        Failed = "Failed",
    }
}

impl VideoStatus {
    /// Whether the job is over (`Succeed` or `Failed`): stop polling.
    pub fn is_terminal(&self) -> bool {
        matches!(self, VideoStatus::Succeed | VideoStatus::Failed)
    }
}

with_extra! {
    /// The answer of `POST /video/status`.
    ///
    /// Every field is optional and read tolerantly: a `status` that is `null` or `""` is `None`, an empty
    /// `reason` is `None`, `results` may be absent, `null`, an object (documented) or an array of result
    /// objects or of videos (one adapter's reading; merged).
    ///
    /// ```
    /// use siliconflow::{VideoStatus, VideoStatusResponse};
    ///
    /// let pending: VideoStatusResponse = serde_json::from_str(r#"{"status":"InQueue","position":3,"reason":""}"#).unwrap();
    /// assert_eq!((pending.is_terminal(), pending.position, pending.reason), (false, Some(3), None));
    /// let failed: VideoStatusResponse = serde_json::from_str(r#"{"status":"Failed","reason":"content policy"}"#).unwrap();
    /// assert!(failed.is_terminal() && !failed.is_success());
    /// assert_eq!(failed.status, Some(VideoStatus::Failed));
    /// ```
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct VideoStatusResponse {
        /// The job's state.
        #[serde(
            default,
            deserialize_with = "empty_as_none",
            skip_serializing_if = "Option::is_none"
        )]
        pub status: Option<VideoStatus>,
        /// Why the job failed (`None` when empty).
        #[serde(
            default,
            deserialize_with = "non_empty_string",
            skip_serializing_if = "Option::is_none"
        )]
        pub reason: Option<String>,
        /// The position in the queue while `InQueue` (older docs and real clients; undocumented now).
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub position: Option<u64>,
        /// The results, once `Succeed`.
        #[serde(
            default,
            deserialize_with = "tolerant_results",
            skip_serializing_if = "Option::is_none"
        )]
        pub results: Option<VideoResults>,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(VideoStatusResponse);

impl VideoStatusResponse {
    /// Whether the job is over (`Succeed` or `Failed`).
    pub fn is_terminal(&self) -> bool {
        self.status.as_ref().is_some_and(VideoStatus::is_terminal)
    }

    /// Whether the job succeeded.
    pub fn is_success(&self) -> bool {
        self.status == Some(VideoStatus::Succeed)
    }

    /// The URLs of the generated videos (none until `Succeed`), skipping empty ones.
    pub fn video_urls(&self) -> impl Iterator<Item = &str> + '_ {
        self.results
            .iter()
            .flat_map(|results| results.videos.iter())
            .map(|video| video.url.as_str())
            .filter(|url| !url.is_empty())
    }
}

with_extra! {
    /// The results of a finished video job.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct VideoResults {
        /// The videos. Their URLs expire (10 minutes or one hour, the docs disagree): download promptly.
        /// (Read: at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES).)
        #[serde(default, deserialize_with = "crate::bounded::list")]
        pub videos: Vec<GeneratedMedia>,
        /// How long generation took.
        #[serde(default, skip_serializing_if = "Timings::is_empty")]
        pub timings: Timings,
        /// The seed used.
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub seed: Option<u64>,
    }
}

fn non_empty_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(lenient_string(d)?.filter(|s| !s.is_empty()))
}

/// Reads `results`: `null` (none), an object (the documented shape), or tolerantly an array of video
/// objects or URLs and of results objects, merged into one (their videos within the list bound, the first
/// timings and seed, the first value of each other field); any other shape reads as none.
fn tolerant_results<'de, D: Deserializer<'de>>(d: D) -> Result<Option<VideoResults>, D::Error> {
    d.deserialize_any(ResultsVisitor)
}

struct ResultsVisitor;

impl<'de> Visitor<'de> for ResultsVisitor {
    type Value = Option<VideoResults>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("video results")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        VideoResults::deserialize(MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut merged = VideoResults::default();
        let mut extra = Collector::default();
        let mut entries = 0;
        // Each item is kept as its text until its shape says what it is.
        while let Some(item) = seq.next_element::<Box<RawValue>>()? {
            let text = item.get();
            let parse = |what: &str| A::Error::custom(format!("video results: {what}"));
            let video = match text.as_bytes().first() {
                Some(b'"') => true,
                Some(b'{') => has_key(text, "url"),
                _ => continue,
            };
            if video {
                let video: GeneratedMedia =
                    serde_json::from_str(text).map_err(|e| parse(&e.to_string()))?;
                entries = push(&mut merged.videos, video, entries)?;
                continue;
            }
            let results: VideoResults =
                serde_json::from_str(text).map_err(|e| parse(&e.to_string()))?;
            entries = check_merge::<_, A::Error>(&merged.videos, &results.videos, entries)?;
            merged.videos.extend(results.videos);
            if merged.timings.is_empty() {
                merged.timings = results.timings;
            }
            merged.seed = merged.seed.or(results.seed);
            extra.add_missing(&results.extra);
        }
        merged.extra = extra.finish();
        Ok(Some(merged))
    }

    crate::lenient::skip_scalars!(None);
}

/// Whether the JSON object `text` has the key `name` (values are skipped, not built).
fn has_key(text: &str, name: &str) -> bool {
    struct KeyFinder<'n>(&'n str);
    impl<'de> Visitor<'de> for KeyFinder<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut found = false;
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                found |= key == self.0;
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(KeyFinder(name))
        .unwrap_or(false)
}

impl Client {
    /// Submits a video job (`POST /video/submit`): text-to-video, or image-to-video with
    /// [`VideoRequest::image`]. The answer's [`request_id`](VideoSubmitResponse::request_id) is what
    /// [`Client::video_status`] and [`Client::wait_video`] take. Errors, retries and timeouts are those
    /// of [`Client::chat`]; note that a retried submission may start a second job if the first one's
    /// answer was lost (set [`RetryPolicy::none`](crate::RetryPolicy::none) to rule that out).
    ///
    /// ```no_run
    /// use siliconflow::{Client, PollOptions, VideoRequest};
    ///
    /// let client = Client::from_env()?;
    /// let job = client.submit_video(&VideoRequest::new("Wan-AI/Wan2.2-T2V-A14B", "a paper boat on a stream", "1280x720"))?;
    /// let done = client.wait_video(&job.request_id, &PollOptions::new(), |status| {
    ///     eprintln!("{:?} (position {:?})", status.status, status.position);
    /// })?;
    /// for url in done.video_urls() {
    ///     println!("{url}"); // download it now: the URL expires
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn submit_video(&self, request: &VideoRequest) -> Result<VideoSubmitResponse, Error> {
        self.post_json("video/submit", request)
    }

    /// The status of a video job (`POST /video/status` with `{"requestId": …}`): `InQueue`,
    /// `InProgress`, `Succeed` (with the video URLs) or `Failed` (with a reason). Errors, retries and
    /// timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let status = client.video_status("hv6tgmuqdiwb")?;
    /// println!("{:?}, terminal: {}", status.status, status.is_terminal());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn video_status(&self, request_id: &str) -> Result<VideoStatusResponse, Error> {
        self.post_json("video/status", &VideoStatusRequest::new(request_id))
    }

    /// Polls a video job until it is terminal (`Succeed` or `Failed`) and returns that last status;
    /// `progress` gets every status, the last one included. A `Failed` job is a successful wait: check
    /// [`VideoStatusResponse::is_success`] and [`reason`](VideoStatusResponse::reason).
    ///
    /// Polling follows `options` ([`PollOptions::new`]: 2 s growing to 30 s, at most 30 minutes); past
    /// its timeout the wait fails with [`Error::Timeout`]`(`[`TimeoutKind::Deadline`](crate::TimeoutKind::Deadline)`)`,
    /// and a status this crate does not know ([`VideoStatus::Other`]) is not terminal, so it keeps
    /// polling until then. The pauses are on this thread: a [`CancelHandle`](crate::CancelHandle) of the
    /// client ends one at once with [`Error::Cancelled`]. A check that fails after its retries ends the
    /// wait with that error; the job goes on on the server, and waiting again with the same id resumes.
    /// Each check is bounded by the client's own timeouts and deadline.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use siliconflow::{Client, PollOptions};
    ///
    /// let client = Client::from_env()?;
    /// let options = PollOptions::new().interval(Duration::from_secs(5)).timeout(Some(Duration::from_secs(900)));
    /// let status = client.wait_video("hv6tgmuqdiwb", &options, |s| eprint!("\r{:?}   ", s.status))?;
    /// if !status.is_success() {
    ///     eprintln!("failed: {}", status.reason.as_deref().unwrap_or("no reason given"));
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn wait_video(
        &self,
        request_id: &str,
        options: &PollOptions,
        progress: impl FnMut(&VideoStatusResponse),
    ) -> Result<VideoStatusResponse, Error> {
        self.poll_until(
            options,
            |client| client.video_status(request_id),
            VideoStatusResponse::is_terminal,
            progress,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_json_minimal_and_full() {
        assert_eq!(
            serde_json::to_value(VideoRequest::new("m", "p", "960x960")).unwrap(),
            json!({"model": "m", "prompt": "p", "image_size": "960x960"})
        );
        let full = VideoRequest::new("Wan-AI/Wan2.2-I2V-A14B", "p", "720x1280")
            .negative_prompt("n")
            .image(MediaInput::from_bytes(b"x", "image/jpeg"))
            .seed(u64::MAX)
            .extra_field("duration", 5);
        let value = serde_json::to_value(&full).unwrap();
        assert_eq!(
            value,
            json!({"model": "Wan-AI/Wan2.2-I2V-A14B", "prompt": "p", "image_size": "720x1280",
                   "negative_prompt": "n", "image": "data:image/jpeg;base64,eA==",
                   "seed": u64::MAX, "duration": 5})
        );
        assert_eq!(serde_json::from_value::<VideoRequest>(value).unwrap(), full);
    }

    #[test]
    fn submit_response_under_either_name() {
        for body in [
            json!({"requestId": "a"}),
            json!({"request_id": "a", "x": 1}),
        ] {
            let r: VideoSubmitResponse = serde_json::from_value(body).unwrap();
            assert_eq!(r.request_id, "a");
        }
        let r: VideoSubmitResponse = serde_json::from_value(json!({"requestId": null})).unwrap();
        assert_eq!(r.request_id, "");
        assert_eq!(
            serde_json::to_value(VideoSubmitResponse {
                request_id: "b".into(),
                ..VideoSubmitResponse::default()
            })
            .unwrap(),
            json!({"requestId": "b"})
        );
    }

    #[test]
    fn statuses_and_terminality() {
        for (text, terminal) in [
            ("InQueue", false),
            ("InProgress", false),
            ("Succeed", true),
            ("Failed", true),
            ("Cancelled", false),
        ] {
            let r: VideoStatusResponse = serde_json::from_value(json!({"status": text})).unwrap();
            assert_eq!(r.is_terminal(), terminal, "{text}");
            assert_eq!(r.status.as_ref().map(VideoStatus::as_str), Some(text));
        }
        let unknown: VideoStatus = serde_json::from_value(json!("Cancelled")).unwrap();
        assert_eq!(unknown, VideoStatus::Other("Cancelled".into()));
        for empty in [json!({}), json!({"status": null}), json!({"status": ""})] {
            let r: VideoStatusResponse = serde_json::from_value(empty).unwrap();
            assert_eq!(r.status, None);
            assert!(!r.is_terminal());
        }
    }

    #[test]
    fn documented_pending_success_and_failure() {
        let pending: VideoStatusResponse =
            serde_json::from_value(json!({"status": "InQueue", "position": 3, "reason": ""}))
                .unwrap();
        assert_eq!(
            (pending.position, pending.reason.as_deref()),
            (Some(3), None)
        );
        assert_eq!(pending.video_urls().count(), 0);

        let done: VideoStatusResponse = serde_json::from_value(json!({
            "status": "Succeed", "reason": "", "position": 0,
            "results": {"videos": [{"url": "https://h/outputs/a_video_1.mp4"}],
                        "timings": {"inference": 57.3}, "seed": 123}
        }))
        .unwrap();
        assert!(done.is_success());
        let results = done.results.as_ref().unwrap();
        assert_eq!(
            (results.seed, results.timings.inference),
            (Some(123), Some(57.3))
        );
        assert_eq!(results.videos[0].file_name(), Some("a_video_1.mp4"));

        let failed: VideoStatusResponse = serde_json::from_value(
            json!({"status": "Failed", "reason": "content policy", "results": null}),
        )
        .unwrap();
        assert!(failed.is_terminal() && !failed.is_success());
        assert_eq!(failed.reason.as_deref(), Some("content policy"));
        assert_eq!(failed.results, None);
    }

    #[test]
    fn tolerant_results_shapes() {
        let read = |results: Value| {
            serde_json::from_value::<VideoStatusResponse>(
                json!({"status": "Succeed", "results": results}),
            )
            .unwrap()
        };
        let array_of_results = read(
            json!([{"videos": [{"url": "a"}], "seed": 1, "timings": {"inference": 2}},
                                           {"videos": [{"url": "b"}], "seed": 9}]),
        );
        assert_eq!(
            array_of_results.video_urls().collect::<Vec<_>>(),
            ["a", "b"]
        );
        let results = array_of_results.results.unwrap();
        assert_eq!(
            (results.seed, results.timings.inference),
            (Some(1), Some(2.0))
        );

        let array_of_videos = read(json!([{"url": "a"}, "b", 5]));
        assert_eq!(array_of_videos.video_urls().collect::<Vec<_>>(), ["a", "b"]);

        for odd in [
            json!({}),
            json!({"videos": null, "timings": "x", "seed": "?"}),
            json!("text"),
            json!([]),
        ] {
            let r = read(odd.clone());
            assert_eq!(r.video_urls().count(), 0, "{odd}");
        }
        let numeric_reason: VideoStatusResponse =
            serde_json::from_value(json!({"status": "Failed", "reason": 500})).unwrap();
        assert_eq!(numeric_reason.reason.as_deref(), Some("500"));
    }

    #[test]
    fn status_response_round_trips() {
        let value = json!({"status": "Succeed", "reason": "r", "position": 0,
                           "results": {"videos": [{"url": "u"}], "timings": {"inference": 1.0}, "seed": 2}});
        let parsed: VideoStatusResponse = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), value);
    }
}
