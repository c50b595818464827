//! Media inputs and outputs shared by the generation endpoints: [`MediaInput`] (an image or audio file
//! given as a URL, a data URI, or raw bytes the crate base64-encodes) and [`Timings`].

use std::path::Path;

use base64::Engine as _;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::bounded::Entry;
use crate::extra::{Collector, ExtraFields};
use crate::json::Key;
use crate::lenient::{Lenient, Scalar};

/// An image or audio input: an `http(s)` URL, or a `data:` URI carrying the bytes in base64.
///
/// On the wire it is one JSON string. [`MediaInput::from_bytes`] encodes raw bytes into a data URI
/// (`data:<mime>;base64,<…>`) once, when the input is built; the request then serializes it as is.
///
/// Used by image generation (`image`, `image2`, `image3`), video generation (`image`), speech
/// (`references[].audio`) and voice upload (`audio`).
///
/// ```
/// use siliconflow::MediaInput;
///
/// let url = MediaInput::url("https://example.com/cat.png");
/// assert!(!url.is_data_uri());
///
/// let png = MediaInput::from_bytes(b"\x89PNG", "image/png");
/// assert_eq!(png.as_str(), "data:image/png;base64,iVBORw==");
/// assert_eq!(png.decode_data_uri(), Some(("image/png".to_string(), b"\x89PNG".to_vec())));
/// assert_eq!(serde_json::to_value(&png).unwrap(), "data:image/png;base64,iVBORw==");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaInput(String);

impl MediaInput {
    /// An input the server downloads from this URL (or a `data:` URI you built yourself).
    pub fn url(url: impl Into<String>) -> Self {
        MediaInput(url.into())
    }

    /// A `data:` URI exactly as given (`data:image/png;base64,…`).
    pub fn data_uri(uri: impl Into<String>) -> Self {
        MediaInput(uri.into())
    }

    /// Raw bytes with their MIME type (`image/png`, `audio/mpeg`, …), base64-encoded into a data URI.
    ///
    /// An empty MIME type becomes `application/octet-stream`; whitespace around it is trimmed.
    pub fn from_bytes(bytes: impl AsRef<[u8]>, mime_type: &str) -> Self {
        let mime = mime_type.trim();
        let mime = if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        };
        let bytes = bytes.as_ref();
        let mut uri = String::with_capacity(mime.len() + 13 + bytes.len().div_ceil(3) * 4);
        uri.push_str("data:");
        uri.push_str(mime);
        uri.push_str(";base64,");
        base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut uri);
        MediaInput(uri)
    }

    /// Reads a file and encodes it like [`MediaInput::from_bytes`]. The MIME type is not guessed: give it.
    pub fn from_path(path: impl AsRef<Path>, mime_type: &str) -> std::io::Result<Self> {
        Ok(MediaInput::from_bytes(std::fs::read(path)?, mime_type))
    }

    /// The text sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text sent on the wire, by value.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether this is a `data:` URI (rather than a URL the server downloads).
    pub fn is_data_uri(&self) -> bool {
        self.0
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
    }

    /// The MIME type and bytes of a base64 `data:` URI; `None` for a URL or a URI that does not decode.
    pub fn decode_data_uri(&self) -> Option<(String, Vec<u8>)> {
        if !self.is_data_uri() {
            return None;
        }
        let (header, payload) = self.0[5..].split_once(',')?;
        let mime = header.strip_suffix(";base64")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .ok()?;
        Some((mime.to_string(), bytes))
    }
}

impl From<&str> for MediaInput {
    fn from(text: &str) -> Self {
        MediaInput(text.to_string())
    }
}

impl From<String> for MediaInput {
    fn from(text: String) -> Self {
        MediaInput(text)
    }
}

impl AsRef<str> for MediaInput {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// How long the server took, as image and video results report it: `{"inference": 0.385}` (seconds).
///
/// Read tolerantly: `null`, an absent field, `{}`, a bare number (taken as `inference`), a string that
/// parses as a number, or any other shape never fail the answer around it; unknown keys are kept in
/// [`extra`](Timings::extra) (at most [`MAX_EXTRA_FIELDS`](crate::MAX_EXTRA_FIELDS)), as JSON text.
///
/// ```
/// use siliconflow::Timings;
///
/// let timings: Timings = serde_json::from_str(r#"{"inference": 0.385}"#).unwrap();
/// assert_eq!(timings.inference, Some(0.385));
/// let odd: Timings = serde_json::from_str(r#"[1, 2]"#).unwrap();
/// assert_eq!(odd, Timings::default());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct Timings {
    /// Inference time in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference: Option<f64>,
    /// Any other timing keys, as sent.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl<'de> Deserialize<'de> for Timings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimingsVisitor)
    }
}

struct TimingsVisitor;

/// Timings of a bare number.
fn inference(seconds: f64) -> Timings {
    Timings {
        inference: Some(seconds),
        ..Timings::default()
    }
}

impl<'de> Visitor<'de> for TimingsVisitor {
    type Value = Timings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Timings, A::Error> {
        let mut timings = Timings::default();
        let mut extra = Collector::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "inference" {
                timings.inference = map.next_value::<Lenient<f64>>()?.0;
            } else {
                extra.keep(key, &mut map)?;
            }
        }
        timings.extra = extra.finish();
        Ok(timings)
    }

    fn visit_u64<E>(self, v: u64) -> Result<Timings, E> {
        Ok(inference(v as f64))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Timings, E> {
        Ok(inference(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Timings, E> {
        Ok(inference(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Timings, E> {
        Ok(Timings {
            inference: <f64 as Scalar>::from_str(v),
            ..Timings::default()
        })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Timings, E> {
        Ok(Timings::default())
    }

    fn visit_unit<E>(self) -> Result<Timings, E> {
        Ok(Timings::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Timings, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Timings::default())
    }
}

impl Timings {
    /// Whether nothing was reported (no inference time, no other key).
    pub fn is_empty(&self) -> bool {
        self.inference.is_none() && self.extra.is_empty()
    }

    /// The inference time as a [`std::time::Duration`], when it is known, finite and not negative.
    pub fn inference_duration(&self) -> Option<std::time::Duration> {
        self.inference
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
    }
}

/// A generated image or video: its URL, and any other key the server sent with it.
///
/// Read from `{"url": "…"}` (the documented shape) or from a bare string. The URL is pre-signed and
/// expires (images after one hour, videos after ten minutes to one hour): download it promptly. Lists of
/// them hold at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES).
///
/// ```
/// use siliconflow::GeneratedMedia;
///
/// let image: GeneratedMedia = serde_json::from_str(r#"{"url": "https://example.com/a.png"}"#).unwrap();
/// assert_eq!(image.url, "https://example.com/a.png");
/// let bare: GeneratedMedia = serde_json::from_str(r#""https://example.com/b.png""#).unwrap();
/// assert_eq!(bare.file_name(), Some("b.png"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct GeneratedMedia {
    /// The download URL (empty only if the server sent none).
    pub url: String,
    /// Any other keys sent with it (`b64_json`, …), as sent (see [`ExtraFields`]).
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl Entry for GeneratedMedia {
    const WHAT: &'static str = "generated images or videos";
}

impl GeneratedMedia {
    /// The file name in the URL's path (see [`url_file_name`]).
    pub fn file_name(&self) -> Option<&str> {
        url_file_name(&self.url)
    }
}

impl<'de> Deserialize<'de> for GeneratedMedia {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(GeneratedVisitor)
    }
}

struct GeneratedVisitor;

impl<'de> Visitor<'de> for GeneratedVisitor {
    type Value = GeneratedMedia;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URL, or an object with a url")
    }

    fn visit_str<E>(self, v: &str) -> Result<GeneratedMedia, E> {
        Ok(GeneratedMedia {
            url: v.to_string(),
            extra: ExtraFields::default(),
        })
    }

    fn visit_string<E>(self, url: String) -> Result<GeneratedMedia, E> {
        Ok(GeneratedMedia {
            url,
            extra: ExtraFields::default(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GeneratedMedia, A::Error> {
        let mut url = String::new();
        let mut extra = Collector::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "url" {
                url = map.next_value::<Option<String>>()?.unwrap_or_default();
            } else {
                extra.keep(key, &mut map)?;
            }
        }
        Ok(GeneratedMedia {
            url,
            extra: extra.finish(),
        })
    }
}

/// The file name a URL points at (its last path segment, without query or fragment), for saving a
/// generated image or video under a sensible name; `None` when the path has no last segment.
///
/// ```
/// assert_eq!(
///     siliconflow::media::url_file_name("https://sc-maas.oss.example.com/outputs/a/b.png?Expires=1&x=y"),
///     Some("b.png")
/// );
/// assert_eq!(siliconflow::media::url_file_name("https://example.com/"), None);
/// ```
pub fn url_file_name(url: &str) -> Option<&str> {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let path = &url[..end];
    let path = path.split_once("://").map_or(path, |(_, rest)| {
        rest.find('/').map_or("", |slash| &rest[slash..])
    });
    path.rsplit('/').next().filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn data_uris_encode_and_decode() {
        let input = MediaInput::from_bytes([0u8, 1, 2, 253, 254, 255], " audio/mpeg ");
        assert_eq!(input.as_str(), "data:audio/mpeg;base64,AAEC/f7/");
        assert!(input.is_data_uri());
        assert_eq!(
            input.decode_data_uri(),
            Some(("audio/mpeg".to_string(), vec![0, 1, 2, 253, 254, 255]))
        );
        let empty = MediaInput::from_bytes([], "");
        assert_eq!(empty.as_str(), "data:application/octet-stream;base64,");
        assert_eq!(
            empty.decode_data_uri(),
            Some(("application/octet-stream".to_string(), vec![]))
        );
        assert!(MediaInput::data_uri("DATA:image/png;base64,AA==").is_data_uri());
        for bad in [
            "data:image/png,raw",
            "data:image/png;base64,!!",
            "data:",
            "https://x/y",
            "ü",
        ] {
            assert_eq!(MediaInput::url(bad).decode_data_uri(), None, "{bad}");
        }
    }

    #[test]
    fn from_path_reads_the_file() {
        let path = std::env::temp_dir().join(format!("sf-media-{}.bin", std::process::id()));
        std::fs::write(&path, b"abc").unwrap();
        let input = MediaInput::from_path(&path, "image/webp").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(input.as_str(), "data:image/webp;base64,YWJj");
        assert!(MediaInput::from_path(&path, "image/webp").is_err());
    }

    #[test]
    fn media_input_is_a_json_string() {
        let input: MediaInput = serde_json::from_value(json!("https://e/x.png")).unwrap();
        assert_eq!(input, MediaInput::from("https://e/x.png"));
        assert_eq!(input.clone().into_string(), "https://e/x.png");
        assert!(serde_json::from_value::<MediaInput>(json!(1)).is_err());
    }

    #[test]
    fn timings_of_every_shape() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "crate::serde_util::null_as_default")]
            timings: Timings,
        }
        let read = |v: Value| serde_json::from_value::<Holder>(v).unwrap().timings;
        assert_eq!(
            read(json!({"timings": {"inference": 0.272}})).inference,
            Some(0.272)
        );
        assert_eq!(
            read(json!({"timings": {"inference": "2"}})).inference,
            Some(2.0)
        );
        assert_eq!(read(json!({"timings": 1.5})).inference, Some(1.5));
        let extra = read(json!({"timings": {"inference": null, "queue": 3}}));
        assert_eq!(extra.inference, None);
        assert_eq!(
            extra.extra.get("queue").map(|v| v.to_value()),
            Some(json!(3))
        );
        for odd in [
            json!({}),
            json!({"timings": null}),
            json!({"timings": {}}),
            json!({"timings": [1]}),
            json!({"timings": true}),
            json!({"timings": {"inference": [1]}}),
        ] {
            assert_eq!(read(odd.clone()), Timings::default(), "{odd}");
        }
        let timings = read(json!({"timings": {"inference": 1.25}}));
        assert_eq!(
            timings.inference_duration(),
            Some(std::time::Duration::from_millis(1250))
        );
        assert_eq!(
            Timings {
                inference: Some(-1.0),
                ..Timings::default()
            }
            .inference_duration(),
            None
        );
        assert_eq!(
            serde_json::to_value(&timings).unwrap(),
            json!({"inference": 1.25})
        );
    }

    #[test]
    fn generated_media_of_every_shape() {
        let read = |v: Value| serde_json::from_value::<GeneratedMedia>(v);
        assert_eq!(
            read(json!("https://h/a.png")).unwrap().url,
            "https://h/a.png"
        );
        let object = read(json!({"url": "https://h/b.mp4", "b64_json": null, "w": 1})).unwrap();
        assert_eq!(object.file_name(), Some("b.mp4"));
        assert_eq!(object.extra.get("w").unwrap().get(), "1");
        assert_eq!(
            read(json!({"url": null})).unwrap(),
            GeneratedMedia::default()
        );
        assert_eq!(read(json!({})).unwrap(), GeneratedMedia::default());
        assert!(read(json!(5)).is_err());
        assert_eq!(
            serde_json::to_value(read(json!({"url": "u", "x": 2})).unwrap()).unwrap(),
            json!({"url": "u", "x": 2})
        );
    }

    #[test]
    fn file_names_of_urls() {
        assert_eq!(
            url_file_name("https://h/outputs/x_video_1.mp4"),
            Some("x_video_1.mp4")
        );
        assert_eq!(url_file_name("https://h/a.png#frag"), Some("a.png"));
        assert_eq!(url_file_name("https://h"), None);
        assert_eq!(url_file_name("https://h?x=/y.png"), None);
        assert_eq!(url_file_name("relative/name.jpg"), Some("name.jpg"));
        assert_eq!(url_file_name(""), None);
    }
}
