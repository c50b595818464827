//! The account and the catalogue: `GET /v1/models` (bare list, filtered by `type` and `sub_type`),
//! `GET /v1/user/info` (wrapped), and the two small model endpoints, `POST /v1/embeddings` (vectors made
//! from the text, the same text giving the same vector) and `POST /v1/rerank` (scores from shared words).

use serde_json::{json, Value};
use siliconflow::mock::{MockResponse, ReceivedRequest};

use super::demo::{bad_request, json_body, model, required, wrapped, Answer, Demo};
use super::text::{mix, tokenize};

/// The demo's models: id, `type`, `sub_type` (none where SiliconFlow documents none).
const MODELS: &[(&str, &str, Option<&str>)] = &[
    ("deepseek-ai/DeepSeek-R1", "text", Some("chat")),
    ("deepseek-ai/DeepSeek-V3", "text", Some("chat")),
    ("Qwen/Qwen3-8B", "text", Some("chat")),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "text", Some("chat")),
    ("BAAI/bge-m3", "text", Some("embedding")),
    ("BAAI/bge-reranker-v2-m3", "text", Some("reranker")),
    ("Kwai-Kolors/Kolors", "image", Some("text-to-image")),
    ("Qwen/Qwen-Image", "image", Some("text-to-image")),
    ("Qwen/Qwen-Image-Edit", "image", Some("image-to-image")),
    ("FunAudioLLM/CosyVoice2-0.5B", "audio", None),
    (
        "FunAudioLLM/SenseVoiceSmall",
        "audio",
        Some("speech-to-text"),
    ),
    ("Wan-AI/Wan2.2-T2V-A14B", "video", Some("text-to-video")),
    ("Wan-AI/Wan2.2-I2V-A14B", "video", None),
];

/// The vector length when the request does not ask for one (bge-m3's), and the longest asked for.
const DEFAULT_DIMENSIONS: usize = 1024;
const MAX_DIMENSIONS: usize = 4096;
/// The most texts in one embeddings request.
const MAX_INPUTS: usize = 32;

/// `{"object":"list","data":[{id, object, created, owned_by}, …]}`.
pub fn models(request: &ReceivedRequest) -> MockResponse {
    let kind = request.query_param("type").filter(|k| !k.is_empty());
    let sub_type = request.query_param("sub_type").filter(|s| !s.is_empty());
    let data: Vec<Value> = MODELS
        .iter()
        .filter(|(_, k, _)| kind.as_deref().is_none_or(|kind| kind == *k))
        .filter(|(_, _, s)| sub_type.is_none() || sub_type.as_deref() == *s)
        .map(|(id, _, _)| json!({"id": id, "object": "model", "created": 0, "owned_by": ""}))
        .collect();
    MockResponse::json(json!({"object": "list", "data": data}))
}

/// The wrapped user: balances are decimal strings.
pub fn user_info() -> MockResponse {
    wrapped(
        "OK",
        json!({
            "id": "userid-offline-demo",
            "name": "",
            "image": "",
            "email": "demo@example.com",
            "isAdmin": false,
            "balance": "0.88",
            "status": "normal",
            "introduction": "",
            "role": "",
            "chargeBalance": "88.00",
            "totalBalance": "88.88",
        }),
    )
}

/// One vector per input text, as floats or as base64 of little-endian `f32`s.
pub fn embeddings(request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let model = model(&body)?;
    let inputs: Vec<&str> = match body.get("input") {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| bad_request("input must be a string or an array of strings"))?,
        _ => return Err(bad_request("Field required: input")),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS || inputs.iter().any(|t| t.is_empty()) {
        return Err(bad_request("input must hold 1 to 32 non-empty texts"));
    }
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMENSIONS,
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_DIMENSIONS).contains(n))
            .ok_or_else(|| bad_request("dimensions must be between 1 and 4096"))?,
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(bad_request("encoding_format must be float or base64")),
    };
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens += tokenize(text).len();
            let vector = vector_of(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::from(base64_encode(&bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "embedding": embedding, "index": index})
        })
        .collect();
    Ok(MockResponse::json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    })))
}

/// A unit vector that depends only on the text.
fn vector_of(text: &str, dimensions: usize) -> Vec<f32> {
    // FNV-1a.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let raw: Vec<f64> = (0..dimensions as u64)
        .map(|i| mix(hash ^ i) as f64 / u64::MAX as f64 * 2.0 - 1.0)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Documents scored by the share of the query's words they contain, best first.
pub fn rerank(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    model(&body)?;
    let query = required(&body, "query")?;
    let documents: Vec<&str> = body
        .get("documents")
        .and_then(Value::as_array)
        .and_then(|docs| docs.iter().map(Value::as_str).collect::<Option<_>>())
        .filter(|docs: &Vec<&str>| !docs.is_empty())
        .ok_or_else(|| bad_request("documents must be a non-empty array of strings"))?;
    let top_n = body
        .get("top_n")
        .and_then(Value::as_u64)
        .map_or(documents.len(), |n| n as usize);
    let with_documents = body.get("return_documents").and_then(Value::as_bool) == Some(true);

    let words = |text: &str| -> Vec<String> {
        tokenize(&text.to_lowercase())
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .collect()
    };
    let query_words = words(query);
    let mut scored: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(index, doc)| {
            let doc_words = words(doc);
            let shared = query_words.iter().filter(|w| doc_words.contains(w)).count();
            let score = (shared as f64 + 0.01) / (query_words.len() as f64 + 0.02);
            (index, score.min(0.999))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let results: Vec<Value> = scored
        .into_iter()
        .take(top_n)
        .map(|(index, score)| {
            let mut result = json!({"index": index, "relevance_score": score});
            if with_documents {
                result["document"] = json!({"text": documents[index]});
            }
            result
        })
        .collect();
    let tokens = tokenize(query).len() + documents.iter().map(|d| tokenize(d).len()).sum::<usize>();
    let usage = json!({"input_tokens": tokens, "output_tokens": 0});
    Ok(MockResponse::json(json!({
        "id": demo.hex_id(),
        "results": results,
        "meta": {
            "billed_units": {"input_tokens": tokens, "output_tokens": 0, "search_units": 0, "classifications": 0},
            "tokens": usage,
        },
    })))
}
