//! The response side of chat completions: [`ChatCompletion`], [`Choice`], [`ToolCall`], [`Usage`],
//! [`FinishReason`].
//!
//! Every type tolerates unknown fields and reads `null` like an absent field.

use serde::{Deserialize, Serialize};

use super::request::{Content, ContentPart, Message};
use crate::bounded::Entry;
use crate::client::with_response;
use crate::limits::{DEFAULT_MAX_CHOICES, DEFAULT_MAX_TOOL_CALLS};
use crate::meta::ResponseMeta;
use crate::raw::RawJson;
use crate::serde_util::{empty_as_none, null_as_default, open_enum};

open_enum! {
    /// Why a choice stopped generating. Servers send more than OpenAI documents (`eos`, …): unknown values
    /// are kept in `Other`. An empty string on the wire means "not finished" and is read as no reason.
    pub enum FinishReason {
        /// A natural stop or a stop sequence.
        Stop = "stop",
        /// The token limit (`max_tokens`, or the thinking budget) was reached.
        Length = "length",
        /// The model called tools.
        ToolCalls = "tool_calls",
        /// Content was filtered.
        ContentFilter = "content_filter",
        /// The model called a function (the deprecated single-function protocol).
        FunctionCall = "function_call",
        /// End of sequence (some SiliconFlow models).
        Eos = "eos",
    }
}

/// A complete (non-streamed, or accumulated) chat completion.
///
/// It has the same accessors as a [`ChatStream`](crate::ChatStream) (`content()`, `reasoning_content()`,
/// `tool_calls()`, `finish_reason()`, `usage()`, `message()`), and the metadata of the response it came
/// from (`response()`, `request_id()`).
///
/// ```
/// use siliconflow::{ChatCompletion, FinishReason};
///
/// let completion: ChatCompletion = serde_json::from_str(r#"{"id":"c1","model":"Qwen/Qwen3-8B",
///     "choices":[{"index":0,"message":{"role":"assistant","content":"Paris.","reasoning_content":"Easy."},
///     "finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#)?;
/// assert_eq!(completion.content(), "Paris.");
/// assert_eq!(completion.reasoning_content(), "Easy.");
/// assert_eq!(completion.finish_reason(), Some(&FinishReason::Stop));
/// assert_eq!(completion.usage().map(|u| u.total_tokens), Some(12));
/// assert_eq!(completion.request_id(), None); // built by hand, not received
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// The completion id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// `"chat.completion"`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub object: String,
    /// Creation time, Unix seconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: u64,
    /// The model that answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// The choices, one per `n` (read: at most [`DEFAULT_MAX_CHOICES`], whose
    /// tool calls and content parts total at most [`MAX_LIST_ENTRIES`](crate::MAX_LIST_ENTRIES) with them).
    #[serde(default, deserialize_with = "crate::bounded::list")]
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The response this came from (not part of the JSON).
    #[serde(skip)]
    pub(crate) response: ResponseMeta,
}

with_response!(ChatCompletion);

impl ChatCompletion {
    /// The first choice (index 0), if any.
    pub fn first_choice(&self) -> Option<&Choice> {
        self.choices
            .iter()
            .find(|c| c.index == 0)
            .or(self.choices.first())
    }

    /// The text of the first choice's answer, or `""` (like [`ChatStream::content`](crate::ChatStream::content)).
    ///
    /// An answer is a string; a server that sends it as text parts has them joined when the completion is
    /// read. (For an answer that also holds media parts, this is its first text part; `message.text()`
    /// joins them all.)
    pub fn content(&self) -> &str {
        match self.first_choice().and_then(|c| c.message.content.as_ref()) {
            Some(Content::Text(text)) => text,
            Some(Content::Parts(parts)) => parts
                .iter()
                .find_map(|part| match part {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .unwrap_or(""),
            None => "",
        }
    }

    /// The first choice's tool calls (like [`ChatStream::tool_calls`](crate::ChatStream::tool_calls)).
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.first_choice()
            .and_then(|c| c.message.tool_calls.as_deref())
            .unwrap_or(&[])
    }

    /// The token usage, when the server reported it (like [`ChatStream::usage`](crate::ChatStream::usage);
    /// the same as the `usage` field).
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// The first choice's reasoning, or `""`.
    pub fn reasoning_content(&self) -> &str {
        self.first_choice()
            .and_then(|c| c.message.reasoning_content.as_deref())
            .unwrap_or("")
    }

    /// The first choice's finish reason.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.first_choice().and_then(|c| c.finish_reason.as_ref())
    }

    /// The first choice's assistant message to append to the conversation: the answer and the tool calls,
    /// without the reasoning (SiliconFlow's docs send history without it).
    ///
    /// ```
    /// use siliconflow::{ChatCompletion, Message};
    ///
    /// let completion: ChatCompletion = serde_json::from_str(r#"{"choices":[{"index":0,
    ///     "message":{"role":"assistant","content":"Paris.","reasoning_content":"The capital…"},
    ///     "finish_reason":"stop"}]}"#)?;
    /// let mut history = vec![Message::user("Capital of France?")];
    /// history.push(completion.message());
    /// history.push(Message::user("And of Italy?"));
    /// let json = serde_json::to_value(&history)?;
    /// assert!(json[1].get("reasoning_content").is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn message(&self) -> Message {
        let mut message = self.message_with_reasoning();
        message.reasoning_content = None;
        message
    }

    /// The first choice's assistant message with its reasoning, for servers that want it back (DeepSeek's
    /// thinking-mode tool loops require it).
    pub fn message_with_reasoning(&self) -> Message {
        self.first_choice()
            .map_or_else(|| Message::assistant(""), |c| c.message.clone())
    }

    /// Whether the first choice spent its whole token budget thinking: finish `length`, reasoning present,
    /// no answer.
    pub fn spent_budget_thinking(&self) -> bool {
        self.finish_reason() == Some(&FinishReason::Length)
            && !self.reasoning_content().is_empty()
            && self.content().trim().is_empty()
    }
}

/// One choice of a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Choice {
    /// Its index.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The assistant's message: content, reasoning, tool calls. Content sent as text parts only is read as
    /// one string.
    #[serde(deserialize_with = "answer_message")]
    pub message: Message,
    /// Why it stopped.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested, as the JSON text sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<RawJson>,
}

impl Entry for Choice {
    const WHAT: &'static str = "choices";
    const MAX: usize = DEFAULT_MAX_CHOICES;

    /// The choice, its content parts and its tool calls.
    fn entries(&self) -> usize {
        let parts = match &self.message.content {
            Some(Content::Parts(parts)) => parts.len(),
            _ => 0,
        };
        1 + parts + self.message.tool_calls.as_ref().map_or(0, Vec::len)
    }
}

/// Reads an answer's message, joining content sent as text parts only into one string.
fn answer_message<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Message, D::Error> {
    let mut message = Message::deserialize(deserializer)?;
    join_text_parts(&mut message);
    Ok(message)
}

/// Joins an answer's content sent as text parts only into one string.
pub(crate) fn join_text_parts(message: &mut Message) {
    if let Some(Content::Parts(parts)) = &message.content {
        if parts.iter().all(|p| matches!(p, ContentPart::Text { .. })) {
            message.content = Some(Content::Text(message.text().into_owned()));
        }
    }
}

/// A call the model made to a tool.
///
/// `id` is whatever the server chose (`call_…`, `functions.files_extract:0`, 32 hex digits, …); it is
/// empty only if the server never sent one. `arguments` is the raw JSON text the model produced: parse it
/// with `serde_json` and be ready for it to be invalid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The call id, to quote in the tool's answer ([`Message::tool`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The tool type: `"function"`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The function called.
    #[serde(default, deserialize_with = "null_as_default")]
    pub function: FunctionCall,
}

impl ToolCall {
    /// A function call (for building history or tests).
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            kind: "function".to_string(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

impl Entry for ToolCall {
    const WHAT: &'static str = "tool calls";
    const MAX: usize = DEFAULT_MAX_TOOL_CALLS;
}

/// The function part of a [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The arguments as raw JSON text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub arguments: String,
}

/// Token usage. SiliconFlow sends a running total on every chunk; OpenAI one trailer chunk; DeepSeek one on
/// the last chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt_tokens: u64,
    /// Tokens generated (reasoning included).
    #[serde(default, deserialize_with = "null_as_default")]
    pub completion_tokens: u64,
    /// Prompt plus completion.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_tokens: u64,
    /// Breakdown of the completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Breakdown of the prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Prompt tokens served from the context cache (DeepSeek, SiliconFlow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_hit_tokens: Option<u64>,
    /// Prompt tokens not served from the context cache (DeepSeek, SiliconFlow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_miss_tokens: Option<u64>,
}

impl Usage {
    /// Reasoning tokens, when the server reports them.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
    }
}

/// Breakdown of completion tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionTokensDetails {
    /// Tokens spent reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Audio tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Predicted-output tokens that were used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u64>,
    /// Predicted-output tokens that were not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u64>,
}

/// Breakdown of prompt tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromptTokensDetails {
    /// Tokens served from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Audio tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn completion_with_nulls_and_unknown_fields() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi",
                "reasoning_content": "think", "tool_calls": [{"id": "functions.f:0", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "eos", "new_field": 1}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                "completion_tokens_details": {"reasoning_tokens": 1}, "prompt_tokens_details": null},
            "system_fingerprint": null, "whatever": [1]
        }))
        .unwrap();
        assert_eq!(c.content(), "hi");
        assert_eq!(c.reasoning_content(), "think");
        assert_eq!(c.finish_reason(), Some(&FinishReason::Eos));
        assert_eq!(c.usage.as_ref().unwrap().reasoning_tokens(), Some(1));
        let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0], ToolCall::function("functions.f:0", "f", "{}"));
    }

    #[test]
    fn empty_and_unknown_finish_reasons() {
        let choice: Choice = serde_json::from_value(
            json!({"index": 0, "message": {"role": "assistant"}, "finish_reason": ""}),
        )
        .unwrap();
        assert_eq!(choice.finish_reason, None);
        let choice: Choice = serde_json::from_value(
            json!({"index": null, "message": {"role": "assistant"}, "finish_reason": "abort"}),
        )
        .unwrap();
        assert_eq!(
            choice.finish_reason,
            Some(FinishReason::Other("abort".into()))
        );
        assert_eq!(choice.index, 0);
    }
}
