//! Image generation: `POST /images/generations` (text-to-image, image-to-image, image editing).
//!
//! An [`ImageRequest`] names the model and the prompt; every other parameter is optional and sent only
//! when set. The official schema is one per model family, but the body is flat: a model ignores or
//! rejects fields it does not support, so set only what your model documents (for example, the
//! `Qwen/Qwen-Image-Edit` models take no `image_size`; `cfg` is Qwen-Image's, `guidance_scale` and
//! `batch_size` Kolors').
//!
//! The answer, an [`ImageResponse`], holds pre-signed URLs that **expire one hour** after generation:
//! download the images promptly; the URLs cannot be refreshed. There is no streaming and no base64
//! output.
//!
//! ```
//! use siliconflow::{ImageRequest, ImageResponse, MediaInput};
//!
//! let request = ImageRequest::new("Kwai-Kolors/Kolors", "a red fox in the snow, watercolour")
//!     .image_size("1024x1024")
//!     .batch_size(2)
//!     .seed(9_999_999_999)
//!     .image(MediaInput::from_bytes(b"\x89PNG...", "image/png"));
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["seed"], 9_999_999_999u64);
//! assert!(json["image"].as_str().unwrap().starts_with("data:image/png;base64,"));
//!
//! let body = r#"{"images":[{"url":"https://example.com/outputs/1.png?Expires=1"}],
//!                "timings":{"inference":0.385},"seed":12345,"shared_id":"0"}"#;
//! let response: ImageResponse = serde_json::from_str(body).unwrap();
//! assert_eq!(response.urls().collect::<Vec<_>>(), ["https://example.com/outputs/1.png?Expires=1"]);
//! assert_eq!(response.seed, Some(12345));
//! assert_eq!(response.timings.inference, Some(0.385));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{with_response, Client};
use crate::error::Error;
use crate::extra::with_extra;
use crate::lenient::lenient_u64;
use crate::media::{GeneratedMedia, MediaInput, Timings};
use crate::meta::ResponseMeta;

/// The largest seed the documentation allows (`0 ≤ seed ≤ 9 999 999 999`): more than 32 bits.
pub const MAX_IMAGE_SEED: u64 = 9_999_999_999;

/// An image generation request: the model, the prompt, and every documented parameter, each omitted from
/// the JSON while unset.
///
/// Documented limits (not checked by the crate, the server enforces them): `batch_size` 1–4 (default 1),
/// `num_inference_steps` 1–100 (default 20), `guidance_scale` 0–20 (default 7.5), `cfg` 0.1–20, `seed`
/// 0–[`MAX_IMAGE_SEED`].
///
/// ```
/// use siliconflow::ImageRequest;
///
/// // Editing with Qwen-Image-Edit-2509: the image to edit and two reference images.
/// let request = ImageRequest::new("Qwen/Qwen-Image-Edit-2509", "put the cat from image 2 on the sofa")
///     .image("https://example.com/room.png")
///     .image2("https://example.com/cat.png")
///     .image3("data:image/png;base64,iVBORw0KGgo=")
///     .num_inference_steps(50)
///     .cfg(4.0);
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["image2"], "https://example.com/cat.png");
/// assert!(json.get("image_size").is_none(), "unset parameters are not sent");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImageRequest {
    /// The model id, for example `Kwai-Kolors/Kolors`, `Qwen/Qwen-Image`, `Qwen/Qwen-Image-Edit-2509`.
    pub model: String,
    /// What to draw (or, for edit models, what to change).
    pub prompt: String,
    /// What to keep out of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// The size as `"<width>x<height>"`, for example `"1024x1024"`; not for the edit models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<String>,
    /// How many images to generate, 1–4 (Kolors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// The random seed, 0–9 999 999 999 (64-bit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Denoising steps, 1–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_inference_steps: Option<u32>,
    /// How closely to follow the prompt, 0–20 (Kolors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance_scale: Option<f64>,
    /// Classifier-free guidance, 0.1–20 (Qwen-Image; above 1 for legible text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cfg: Option<f64>,
    /// The source image (image-to-image) or the image to edit (required by the edit models): a URL or a
    /// data URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaInput>,
    /// A second reference image (`Qwen/Qwen-Image-Edit-2509`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image2: Option<MediaInput>,
    /// A third reference image (`Qwen/Qwen-Image-Edit-2509`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image3: Option<MediaInput>,
    /// Let the server rewrite the prompt (seen only in one FLUX example of the docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_enhancement: Option<bool>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageRequest {
    /// A request to draw `prompt` with `model`, every other parameter unset.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        ImageRequest {
            model: model.into(),
            prompt: prompt.into(),
            negative_prompt: None,
            image_size: None,
            batch_size: None,
            seed: None,
            num_inference_steps: None,
            guidance_scale: None,
            cfg: None,
            image: None,
            image2: None,
            image3: None,
            prompt_enhancement: None,
            extra: Map::new(),
        }
    }

    /// Sets the size from a width and a height (`image_size` `"<width>x<height>"`).
    #[must_use]
    pub fn dimensions(self, width: u32, height: u32) -> Self {
        self.image_size(format!("{width}x{height}"))
    }

    crate::setters::option_setters! {
        /// Sets what to keep out of the image.
        negative_prompt: impl Into<String>,
        /// Sets the size, `"<width>x<height>"` (Kolors: `1024x1024`, `960x1280`, `768x1024`, `720x1440`,
        /// `720x1280`; Qwen-Image: `1328x1328`, `1664x928`, `928x1664`, `1472x1140`, `1140x1472`,
        /// `1584x1056`, `1056x1584`).
        image_size: impl Into<String>,
        /// Sets how many images to generate (1–4).
        batch_size: u32,
        /// Sets the seed (0–9 999 999 999).
        seed: u64,
        /// Sets the number of denoising steps (1–100).
        num_inference_steps: u32,
        /// Sets the guidance scale (0–20).
        guidance_scale: f64,
        /// Sets `cfg` (0.1–20, Qwen-Image).
        cfg: f64,
        /// Sets the source or edited image: a URL, a data URI, or [`MediaInput::from_bytes`].
        image: impl Into<MediaInput>,
        /// Sets the second reference image (Qwen-Image-Edit-2509).
        image2: impl Into<MediaInput>,
        /// Sets the third reference image (Qwen-Image-Edit-2509).
        image3: impl Into<MediaInput>,
        /// Asks the server to enhance the prompt.
        prompt_enhancement: bool,
    }
}

with_extra! {
    /// The answer of `POST /images/generations`.
    ///
    /// The documented fields are `images`, `timings` and `seed`; real answers also carry an OpenAI-style
    /// `data` copy of the URLs, `created` and `shared_id` (kept in [`extra`](ImageResponse::extra)).
    /// Every field is optional and read tolerantly (`null`, absent, a `timings` of another shape).
    ///
    /// The URLs **expire one hour** after generation (their `Expires` parameter is `created` + 3600):
    /// download promptly.
    ///
    /// ```
    /// use siliconflow::ImageResponse;
    ///
    /// let response: ImageResponse = serde_json::from_str(
    ///     r#"{"images":[{"url":"https://example.com/a.png"}],"timings":null,"seed":"42","created":1761276928}"#,
    /// ).unwrap();
    /// assert_eq!(response.urls().next(), Some("https://example.com/a.png"));
    /// assert_eq!((response.seed, response.timings.inference), (Some(42), None));
    /// ```
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ImageResponse {
        /// The generated images (read: at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES)).
        #[serde(default, deserialize_with = "crate::bounded::list")]
        pub images: Vec<GeneratedMedia>,
        /// The same images, OpenAI-style (observed, undocumented).
        #[serde(
            default,
            deserialize_with = "crate::bounded::list",
            skip_serializing_if = "Vec::is_empty"
        )]
        pub data: Vec<GeneratedMedia>,
        /// How long generation took.
        #[serde(default, skip_serializing_if = "Timings::is_empty")]
        pub timings: Timings,
        /// The seed used (reuse it to reproduce the image).
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub seed: Option<u64>,
        /// Creation time, Unix seconds (observed, undocumented).
        #[serde(
            default,
            deserialize_with = "lenient_u64",
            skip_serializing_if = "Option::is_none"
        )]
        pub created: Option<u64>,
        /// The response this came from (not part of the JSON).
        #[serde(skip)]
        pub(crate) response: ResponseMeta,
    }
}

with_response!(ImageResponse);

impl ImageResponse {
    /// The generated images: `images`, or `data` when `images` is empty.
    pub fn generated(&self) -> &[GeneratedMedia] {
        if self.images.is_empty() {
            &self.data
        } else {
            &self.images
        }
    }

    /// The URLs of the generated images (from `images`, else from `data`), skipping empty ones.
    pub fn urls(&self) -> impl Iterator<Item = &str> + '_ {
        self.generated()
            .iter()
            .map(|image| image.url.as_str())
            .filter(|url| !url.is_empty())
    }
}

impl Client {
    /// Generates images (`POST /images/generations`): text-to-image, or image-to-image and editing with
    /// [`ImageRequest::image`].
    ///
    /// The answer holds pre-signed URLs that **expire one hour after generation**: download them promptly
    /// with [`Client::download_image`] (which sends no API key to the image host). Errors, retries and
    /// timeouts are those of [`Client::chat`]; image models are rate-limited in images per minute and
    /// per day (a 429, retried by the [`RetryPolicy`](crate::RetryPolicy)).
    ///
    /// ```no_run
    /// use siliconflow::{Client, ImageRequest};
    ///
    /// let client = Client::from_env()?;
    /// let request = ImageRequest::new("Kwai-Kolors/Kolors", "a lighthouse at dawn, oil painting")
    ///     .image_size("1024x1024")
    ///     .seed(42);
    /// let images = client.generate_images(&request)?;
    /// let url = images.urls().next().expect("one image");
    /// let mut file = std::fs::File::create("lighthouse.png").map_err(|e| siliconflow::Error::Write { source: e })?;
    /// client.download_image(url, &mut file)?;
    /// println!("seed {:?}, {:?} of inference", images.seed, images.timings.inference_duration());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn generate_images(&self, request: &ImageRequest) -> Result<ImageResponse, Error> {
        self.post_json("images/generations", request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_request_json() {
        assert_eq!(
            serde_json::to_value(ImageRequest::new("m", "p")).unwrap(),
            json!({"model": "m", "prompt": "p"})
        );
    }

    #[test]
    fn full_request_json() {
        let request = ImageRequest::new("Kwai-Kolors/Kolors", "fox")
            .negative_prompt("blur")
            .dimensions(960, 1280)
            .batch_size(4)
            .seed(MAX_IMAGE_SEED)
            .num_inference_steps(20)
            .guidance_scale(7.5)
            .cfg(4.0)
            .image(MediaInput::from_bytes([1, 2, 3], "image/png"))
            .image2("https://e/2.png")
            .image3(String::from("data:image/jpeg;base64,AA=="))
            .prompt_enhancement(true)
            .extra_field("output_format", "png");
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(
            value,
            json!({"model": "Kwai-Kolors/Kolors", "prompt": "fox", "negative_prompt": "blur",
                   "image_size": "960x1280", "batch_size": 4, "seed": 9_999_999_999u64,
                   "num_inference_steps": 20, "guidance_scale": 7.5, "cfg": 4.0,
                   "image": "data:image/png;base64,AQID", "image2": "https://e/2.png",
                   "image3": "data:image/jpeg;base64,AA==", "prompt_enhancement": true,
                   "output_format": "png"})
        );
        assert_eq!(
            serde_json::from_value::<ImageRequest>(value).unwrap(),
            request
        );
    }

    #[test]
    fn documented_and_observed_responses() {
        let url =
            "https://sc-maas.oss-cn-shanghai.aliyuncs.com/outputs/x.png?Expires=1761280528&a=b";
        let full: ImageResponse = serde_json::from_value(json!({
            "images": [{"url": url}], "timings": {"inference": 0.385}, "seed": 12345,
            "data": [{"url": url}], "created": 1761276928, "shared_id": "0"
        }))
        .unwrap();
        assert_eq!(full.urls().collect::<Vec<_>>(), [url]);
        assert_eq!((full.seed, full.created), (Some(12345), Some(1761276928)));
        assert_eq!(full.timings.inference, Some(0.385));
        assert_eq!(full.extra.get("shared_id").unwrap().get(), r#""0""#);
        assert_eq!(full.generated()[0].file_name(), Some("x.png"));

        // Only the OpenAI-style copy.
        let data_only: ImageResponse =
            serde_json::from_value(json!({"data": [{"url": "u1"}, {"url": "u2"}]})).unwrap();
        assert_eq!(data_only.urls().collect::<Vec<_>>(), ["u1", "u2"]);
    }

    #[test]
    fn tolerant_responses() {
        for body in [
            json!({}),
            json!({"images": null, "timings": null, "seed": null, "data": null}),
            json!({"images": [], "timings": {}, "seed": "n/a"}),
            json!({"images": [], "timings": [0.1], "seed": -5, "created": 1.5}),
        ] {
            let response: ImageResponse = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(response.urls().count(), 0, "{body}");
            assert_eq!(response.seed, None, "{body}");
            assert_eq!(response.timings.inference, None, "{body}");
        }
        let odd: ImageResponse = serde_json::from_value(
            json!({"images": ["https://e/a.png", {"url": null}], "timings": 2, "seed": "42"}),
        )
        .unwrap();
        assert_eq!(odd.urls().collect::<Vec<_>>(), ["https://e/a.png"]);
        assert_eq!((odd.seed, odd.timings.inference), (Some(42), Some(2.0)));
    }

    #[test]
    fn response_round_trips() {
        let value = json!({"images": [{"url": "u"}], "timings": {"inference": 1.0}, "seed": 7,
                           "shared_id": "0"});
        let response: ImageResponse = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&response).unwrap(), value);
    }
}
