//! Text embeddings: `POST /embeddings`.
//!
//! [`Client::embeddings`] sends an [`EmbeddingRequest`] (one text or a batch) and returns an
//! [`EmbeddingResponse`]. Vectors arrive as JSON numbers, or, with [`EncodingFormat::Base64`], as base64
//! text of little-endian `f32`s (a third of the bytes on the wire); [`EmbeddingVector::to_vec`] and
//! [`EmbeddingResponse::vectors`] give `Vec<f32>` either way.
//!
//! ```
//! use siliconflow::{EmbeddingRequest, EmbeddingResponse, EncodingFormat};
//!
//! let request = EmbeddingRequest::new("BAAI/bge-m3", vec!["apple", "banana"])
//!     .encoding_format(EncodingFormat::Base64);
//! assert_eq!(
//!     serde_json::to_value(&request).unwrap(),
//!     serde_json::json!({"model": "BAAI/bge-m3", "input": ["apple", "banana"], "encoding_format": "base64"})
//! );
//!
//! // [1.0, -2.5] as little-endian f32s, base64-encoded.
//! let body = r#"{"object":"list","model":"BAAI/bge-m3","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAIMA="}]}"#;
//! let response: EmbeddingResponse = serde_json::from_str(body).unwrap();
//! assert_eq!(response.vectors().unwrap(), vec![vec![1.0, -2.5]]);
//! ```

use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeError, Engine as _};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bounded::Entry;
use crate::client::with_response;
use crate::meta::ResponseMeta;
use crate::serde_util::{null_as_default, open_enum};
use crate::{Client, Error, Usage};

open_enum! {
    /// How the server encodes each vector.
    pub enum EncodingFormat {
        /// A JSON array of numbers (the default when unset).
        Float = "float",
        /// Base64 text of the little-endian `f32` bytes: smaller on the wire.
        Base64 = "base64",
    }
}

/// The text to embed: one string or a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum EmbeddingInput {
    /// One text; the response holds one embedding.
    Text(String),
    /// Several texts; the response holds one embedding per text, `index` giving its position here.
    Batch(Vec<String>),
}

impl From<&str> for EmbeddingInput {
    fn from(text: &str) -> Self {
        EmbeddingInput::Text(text.to_string())
    }
}

impl From<String> for EmbeddingInput {
    fn from(text: String) -> Self {
        EmbeddingInput::Text(text)
    }
}

impl From<Vec<String>> for EmbeddingInput {
    fn from(texts: Vec<String>) -> Self {
        EmbeddingInput::Batch(texts)
    }
}

impl From<Vec<&str>> for EmbeddingInput {
    fn from(texts: Vec<&str>) -> Self {
        EmbeddingInput::Batch(texts.into_iter().map(str::to_string).collect())
    }
}

/// An embeddings request: the model, the input, and the optional parameters, each omitted from the JSON
/// while unset.
///
/// ```
/// use siliconflow::{EmbeddingRequest, EncodingFormat};
///
/// let request = EmbeddingRequest::new("Qwen/Qwen3-Embedding-8B", "What is SiliconFlow?")
///     .dimensions(1024)
///     .encoding_format(EncodingFormat::Float)
///     .extra_field("truncate", "END");
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["input"], "What is SiliconFlow?");
/// assert_eq!(json["dimensions"], 1024);
/// assert_eq!(json["truncate"], "END");
/// assert!(json.get("user").is_none(), "unset parameters are not sent");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmbeddingRequest {
    /// The model id, for example `BAAI/bge-m3`.
    pub model: String,
    /// The text or texts to embed.
    pub input: EmbeddingInput,
    /// How vectors are encoded in the response (`float` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// The vector length, for models that can shorten their output (Qwen3 embeddings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// An end-user id for abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingRequest {
    /// A request to embed `input` (a `&str`, a `String`, or a `Vec` of either) with `model`.
    pub fn new(model: impl Into<String>, input: impl Into<EmbeddingInput>) -> Self {
        EmbeddingRequest {
            model: model.into(),
            input: input.into(),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Map::new(),
        }
    }

    crate::setters::option_setters! {
        /// Sets how vectors are encoded in the response.
        encoding_format: EncodingFormat,
        /// Sets the vector length (for models that support shortening).
        dimensions: u32,
        /// Sets the end-user id.
        user: impl Into<String>,
    }
}

/// The answer of `POST /embeddings`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmbeddingResponse {
    /// `"list"`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// One embedding per input text, as the server ordered them (see [`Embedding::index`]); read: at most
    /// [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES).
    #[serde(default, deserialize_with = "crate::bounded::list")]
    pub data: Vec<Embedding>,
    /// The model that answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// Token usage (`completion_tokens` is 0 for embeddings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(EmbeddingResponse);

impl EmbeddingResponse {
    /// Every vector as `f32`s, ordered by [`Embedding::index`] (the order of the input texts), whatever the
    /// encoding.
    ///
    /// Fails on the first vector whose base64 text does not decode.
    pub fn vectors(&self) -> Result<Vec<Vec<f32>>, EmbeddingDecodeError> {
        let mut data: Vec<&Embedding> = self.data.iter().collect();
        data.sort_by_key(|embedding| embedding.index);
        data.into_iter()
            .map(|embedding| embedding.embedding.to_vec())
            .collect()
    }
}

/// One input text's embedding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Embedding {
    /// `"embedding"`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// The vector, as numbers or as base64 text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub embedding: EmbeddingVector,
    /// The position of the text in the request's input.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: usize,
}

/// A vector as the server sent it: JSON numbers, or base64 text of little-endian `f32`s.
///
/// ```
/// use siliconflow::EmbeddingVector;
///
/// let numbers = EmbeddingVector::Float(vec![0.5, 0.25]);
/// assert_eq!(numbers.to_vec().unwrap(), [0.5, 0.25]);
/// let text = EmbeddingVector::Base64("AAAAPwAAgD4=".to_string());
/// assert_eq!(text.to_vec().unwrap(), [0.5, 0.25]);
/// assert!(EmbeddingVector::Base64("not base64!".to_string()).to_vec().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum EmbeddingVector {
    /// A JSON array of numbers (`encoding_format` `float` or unset).
    Float(Vec<f32>),
    /// Base64 text (standard alphabet, padded) of little-endian `f32` bytes (`encoding_format` `base64`).
    Base64(String),
}

/// A list of numbers or a string. (Its length is bounded by the body's: each `f32` takes 4 bytes for at
/// least 2 bytes of JSON.)
impl<'de> Deserialize<'de> for EmbeddingVector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VectorVisitor;
        impl<'de> serde::de::Visitor<'de> for VectorVisitor {
            type Value = EmbeddingVector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of numbers or base64 text")
            }
            fn visit_str<E>(self, v: &str) -> Result<EmbeddingVector, E> {
                Ok(EmbeddingVector::Base64(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<EmbeddingVector, E> {
                Ok(EmbeddingVector::Base64(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<EmbeddingVector, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<f32>()? {
                    values.push(value);
                }
                Ok(EmbeddingVector::Float(values))
            }
        }
        deserializer.deserialize_any(VectorVisitor)
    }
}

impl Default for EmbeddingVector {
    /// An empty vector of numbers.
    fn default() -> Self {
        EmbeddingVector::Float(Vec::new())
    }
}

impl EmbeddingVector {
    /// The vector as `f32`s, decoding base64 text.
    pub fn to_vec(&self) -> Result<Vec<f32>, EmbeddingDecodeError> {
        match self {
            EmbeddingVector::Float(values) => Ok(values.clone()),
            EmbeddingVector::Base64(text) => decode_f32s(text),
        }
    }

    /// The vector as `f32`s, decoding base64 text; a vector of numbers is returned without a copy.
    pub fn into_vec(self) -> Result<Vec<f32>, EmbeddingDecodeError> {
        match self {
            EmbeddingVector::Float(values) => Ok(values),
            EmbeddingVector::Base64(text) => decode_f32s(&text),
        }
    }
}

/// Why a base64 embedding could not be decoded into `f32`s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmbeddingDecodeError {
    /// The text's length is not a multiple of 4: standard base64 with padding always is.
    InvalidLength {
        /// The length of the text, in bytes.
        len: usize,
    },
    /// A byte that is not in the standard base64 alphabet, or a `=` anywhere but in the padding at the end.
    InvalidByte {
        /// The byte's offset in the text.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The decoded bytes cannot be `f32`s: their count is not a multiple of 4.
    NotF32s {
        /// How many bytes the text decoded to.
        bytes: usize,
    },
}

impl fmt::Display for EmbeddingDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmbeddingDecodeError::InvalidLength { len } => write!(
                f,
                "invalid base64 embedding: its length {len} is not a multiple of 4"
            ),
            EmbeddingDecodeError::InvalidByte { offset, byte } if byte.is_ascii_graphic() => {
                write!(
                    f,
                    "invalid base64 embedding: unexpected {:?} at offset {offset}",
                    char::from(*byte)
                )
            }
            EmbeddingDecodeError::InvalidByte { offset, byte } => write!(
                f,
                "invalid base64 embedding: unexpected byte 0x{byte:02X} at offset {offset}"
            ),
            EmbeddingDecodeError::NotF32s { bytes } => write!(
                f,
                "invalid base64 embedding: {bytes} bytes are not a whole number of f32s"
            ),
        }
    }
}

impl std::error::Error for EmbeddingDecodeError {}

/// Decodes base64 text of little-endian `f32`s.
fn decode_f32s(text: &str) -> Result<Vec<f32>, EmbeddingDecodeError> {
    let bytes = decode_base64(text.as_bytes())?;
    if bytes.len() % 4 != 0 {
        return Err(EmbeddingDecodeError::NotF32s { bytes: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Standard base64 (RFC 4648 §4) with padding required, through the `base64` crate (already in the graph
/// through ureq). The unused low bits of the last character are ignored, as most decoders do.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes standard base64 with padding, naming where and why it is invalid.
fn decode_base64(text: &[u8]) -> Result<Vec<u8>, EmbeddingDecodeError> {
    if text.len() % 4 != 0 {
        return Err(EmbeddingDecodeError::InvalidLength { len: text.len() });
    }
    BASE64.decode(text).map_err(|e| match e {
        DecodeError::InvalidByte(offset, byte)
        | DecodeError::InvalidLastSymbol {
            offset,
            symbol: byte,
            ..
        } => EmbeddingDecodeError::InvalidByte { offset, byte },
        DecodeError::InvalidLength(len) => EmbeddingDecodeError::InvalidLength { len },
        // A `=` where data must be: the first one is the offending byte.
        DecodeError::InvalidPadding => {
            let offset = text.iter().position(|&b| b == b'=').unwrap_or(0);
            EmbeddingDecodeError::InvalidByte { offset, byte: b'=' }
        }
    })
}

impl Entry for Embedding {
    const WHAT: &'static str = "embeddings";
}

impl Client {
    /// Embeds one text or a batch (`POST /embeddings`).
    ///
    /// Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{Client, EmbeddingRequest, EncodingFormat};
    ///
    /// let client = Client::from_env()?;
    /// let request = EmbeddingRequest::new("BAAI/bge-m3", vec!["apple", "banana"])
    ///     .encoding_format(EncodingFormat::Base64); // a third of the bytes on the wire
    /// let response = client.embeddings(&request)?;
    /// let vectors = response.vectors().expect("valid base64");
    /// println!("{} vectors of {} dimensions", vectors.len(), vectors[0].len());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn embeddings(&self, request: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.post_json("embeddings", request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A straightforward reference encoder, to test the decoder against.
    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode_base64(encoded.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(encode(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn every_byte_value_and_length_round_trips() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..bytes.len() {
            let encoded = encode(&bytes[..len]);
            assert_eq!(decode_base64(encoded.as_bytes()).unwrap(), &bytes[..len]);
        }
        assert_eq!(decode_base64(b"+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn invalid_base64_is_rejected_with_where_and_why() {
        use EmbeddingDecodeError::*;
        assert_eq!(decode_base64(b"Zm9"), Err(InvalidLength { len: 3 }));
        assert_eq!(decode_base64(b"Zm9vY"), Err(InvalidLength { len: 5 }));
        assert_eq!(
            decode_base64(b"Zm-v"),
            Err(InvalidByte {
                offset: 2,
                byte: b'-'
            })
        );
        assert_eq!(
            decode_base64(b"Zm 9"),
            Err(InvalidByte {
                offset: 2,
                byte: b' '
            })
        );
        // Padding only at the very end, at most two.
        assert_eq!(
            decode_base64(b"Z=9v"),
            Err(InvalidByte {
                offset: 1,
                byte: b'='
            })
        );
        assert_eq!(
            decode_base64(b"Zm=v"),
            Err(InvalidByte {
                offset: 2,
                byte: b'='
            })
        );
        assert_eq!(
            decode_base64(b"Z==="),
            Err(InvalidByte {
                offset: 1,
                byte: b'='
            })
        );
        assert_eq!(
            decode_base64(b"===="),
            Err(InvalidByte {
                offset: 0,
                byte: b'='
            })
        );
        assert_eq!(
            decode_base64(b"Zg==Zg=="),
            Err(InvalidByte {
                offset: 2,
                byte: b'='
            })
        );
        assert!(decode_base64("Zm9v\u{e9}A==".as_bytes()).is_err());
    }

    #[test]
    fn f32s_decode_little_endian() {
        let values = [1.0f32, -2.5, 0.15625, f32::MIN_POSITIVE, -0.0];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let decoded = decode_f32s(&encode(&bytes)).unwrap();
        assert_eq!(
            decoded.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(
            decode_f32s(&encode(&[0, 0, 128, 63, 1])),
            Err(EmbeddingDecodeError::NotF32s { bytes: 5 })
        );
        let err = EmbeddingDecodeError::NotF32s { bytes: 5 };
        assert!(err.to_string().contains("5 bytes"));
        let err = EmbeddingDecodeError::InvalidByte {
            offset: 2,
            byte: b'-',
        };
        assert!(err.to_string().contains("'-' at offset 2"), "{err}");
        let err = EmbeddingDecodeError::InvalidByte {
            offset: 0,
            byte: 0xC3,
        };
        assert!(err.to_string().contains("byte 0xC3 at offset 0"), "{err}");
    }

    #[test]
    fn input_conversions_and_omitted_fields() {
        let one = EmbeddingRequest::new("m", String::from("hi"));
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            json!({"model": "m", "input": "hi"})
        );
        let many = EmbeddingRequest::new("m", vec![String::from("a"), String::from("b")])
            .encoding_format(EncodingFormat::Float)
            .dimensions(256)
            .user("u");
        let value = serde_json::to_value(&many).unwrap();
        assert_eq!(
            value,
            json!({"model": "m", "input": ["a", "b"], "encoding_format": "float", "dimensions": 256, "user": "u"})
        );
        assert_eq!(
            serde_json::from_value::<EmbeddingRequest>(value).unwrap(),
            many
        );
    }

    #[test]
    fn response_with_nulls_and_out_of_order_indices() {
        let response: EmbeddingResponse = serde_json::from_value(json!({
            "object": "list",
            "model": "m",
            "data": [
                {"object": "embedding", "embedding": [3.0], "index": 1, "extra": 1},
                {"object": null, "embedding": [1.5, 2], "index": 0}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": null, "total_tokens": 3}
        }))
        .unwrap();
        assert_eq!(response.vectors().unwrap(), vec![vec![1.5, 2.0], vec![3.0]]);
        assert_eq!(response.usage.unwrap().completion_tokens, 0);
        let empty: EmbeddingResponse =
            serde_json::from_value(json!({"data": [{"embedding": null}]})).unwrap();
        assert_eq!(empty.vectors().unwrap(), vec![Vec::<f32>::new()]);
    }
}
