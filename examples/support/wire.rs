//! The chat wire shapes the demo sends, with fields in the order SiliconFlow sends them. `None` is sent
//! as `null` except where SiliconFlow leaves the key out.

use serde::Serialize;

#[derive(Serialize)]
pub struct Chunk<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub choices: [ChunkChoice<'a>; 1],
    pub system_fingerprint: &'a str,
    pub usage: Usage,
}

#[derive(Serialize)]
pub struct ChunkChoice<'a> {
    pub index: u32,
    pub delta: Delta<'a>,
    pub finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
pub struct Delta<'a> {
    pub content: Option<&'a str>,
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallFragment<'a>; 1]>,
}

/// One streamed piece of a tool call: `id` and `type` are `null` after the first.
#[derive(Serialize)]
pub struct ToolCallFragment<'a> {
    pub index: u32,
    pub id: Option<&'a str>,
    #[serde(rename = "type")]
    pub kind: Option<&'a str>,
    pub function: FunctionFragment<'a>,
}

#[derive(Serialize)]
pub struct FunctionFragment<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

#[derive(Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<TokenDetails>,
}

#[derive(Serialize)]
pub struct TokenDetails {
    pub reasoning_tokens: u64,
}

#[derive(Serialize)]
pub struct Completion<'a> {
    pub id: &'a str,
    pub object: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub choices: [CompletionChoice<'a>; 1],
    pub usage: Usage,
    pub system_fingerprint: &'a str,
}

#[derive(Serialize)]
pub struct CompletionChoice<'a> {
    pub index: u32,
    pub message: AssistantMessage<'a>,
    pub finish_reason: &'a str,
}

#[derive(Serialize)]
pub struct AssistantMessage<'a> {
    pub role: &'a str,
    pub content: Option<String>,
    pub reasoning_content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Serialize)]
pub struct ToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub function: FunctionCall<'a>,
}

#[derive(Serialize)]
pub struct FunctionCall<'a> {
    pub name: &'a str,
    pub arguments: String,
}
