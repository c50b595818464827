//! The public pieces a stream hands out: [`ChatDelta`] and its tool-call fragments, [`StreamTimings`],
//! [`StreamEnd`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chat::request::Role;
use crate::chat::response::FinishReason;
use crate::raw::RawJson;

/// One choice's delta from one streamed chunk.
///
/// Text fields are `None` when the wire has them absent, `null` or `""`, so `if let Some(text)` is all a
/// printer needs. A chunk with several choices yields several deltas (see [`index`](Self::index)); a chunk
/// with no choices (a usage trailer) yields none but updates [`ChatStream::usage`](super::ChatStream::usage).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatDelta {
    /// Which choice this delta belongs to (0 unless `n` > 1).
    pub index: u32,
    /// The author role, when the chunk carries one (SiliconFlow repeats it on every delta).
    pub role: Option<Role>,
    /// New answer text.
    pub content: Option<String>,
    /// New reasoning text (`reasoning_content` on the wire, or `reasoning` on servers that use that name).
    pub reasoning_content: Option<String>,
    /// Tool-call fragments; [`ChatStream::tool_calls`](super::ChatStream::tool_calls) has them merged.
    pub tool_calls: Vec<ToolCallDelta>,
    /// Set on the chunk that ends this choice.
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested, as the JSON text sent.
    pub logprobs: Option<RawJson>,
}

impl ChatDelta {
    /// The bytes this delta adds to what a stream holds: its text (content, reasoning, tool-call
    /// arguments, ids and names; an id or a name is kept only once, so this may count more than is kept).
    pub(crate) fn held_bytes(&self) -> usize {
        let len = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        len(&self.content)
            + len(&self.reasoning_content)
            + tool_call_bytes(&self.tool_calls)
            + self.role.as_ref().map_or(0, Role::held_len)
            + self
                .finish_reason
                .as_ref()
                .map_or(0, FinishReason::held_len)
    }
}

/// The text of tool-call fragments, as the accumulation bound counts it.
pub(crate) fn tool_call_bytes(calls: &[ToolCallDelta]) -> usize {
    let len = |text: &Option<String>| text.as_ref().map_or(0, String::len);
    calls
        .iter()
        .map(|c| {
            len(&c.id)
                + len(&c.kind)
                + c.function
                    .as_ref()
                    .map_or(0, |f| len(&f.name) + len(&f.arguments))
        })
        .sum()
}

/// One choice's delta from one streamed chunk, borrowed from the stream: what
/// [`ChatStream::next_ref`](super::ChatStream::next_ref) hands out, without allocating its texts.
///
/// The fields mean what [`ChatDelta`]'s do; the texts are the part of the stream's accumulated
/// [`content`](super::ChatStream::content) and [`reasoning_content`](super::ChatStream::reasoning_content)
/// that this delta added. [`into_owned`](Self::into_owned) makes a [`ChatDelta`] of it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ChatDeltaRef<'a> {
    /// Which choice this delta belongs to (0 unless `n` > 1).
    pub index: u32,
    /// The author role, when the chunk carries one.
    pub role: Option<&'a Role>,
    /// New answer text (`None` when the wire has it absent, `null` or `""`).
    pub content: Option<&'a str>,
    /// New reasoning text.
    pub reasoning_content: Option<&'a str>,
    /// Tool-call fragments.
    pub tool_calls: &'a [ToolCallDelta],
    /// Set on the chunk that ends this choice.
    pub finish_reason: Option<&'a FinishReason>,
    /// Log probabilities, when requested, as the JSON text sent.
    pub logprobs: Option<&'a RawJson>,
}

impl ChatDeltaRef<'_> {
    /// The delta as an owned [`ChatDelta`] (what the `Iterator` hands out).
    ///
    /// ```
    /// use siliconflow::ChatStream;
    ///
    /// let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    /// let mut stream = ChatStream::from_reader(body.as_bytes());
    /// let kept = stream.next_ref().map(|delta| delta.map(|d| d.into_owned()));
    /// assert_eq!(kept.unwrap()?.content.as_deref(), Some("Hi"));
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn into_owned(self) -> ChatDelta {
        ChatDelta {
            index: self.index,
            role: self.role.cloned(),
            content: self.content.map(str::to_string),
            reasoning_content: self.reasoning_content.map(str::to_string),
            tool_calls: self.tool_calls.to_vec(),
            finish_reason: self.finish_reason.cloned(),
            logprobs: self.logprobs.cloned(),
        }
    }
}

/// A fragment of a streamed tool call. Fragments with the same `index` belong to the same call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCallDelta {
    /// Which call of the choice this fragment extends.
    pub index: u32,
    /// The call id (usually only on the first fragment).
    pub id: Option<String>,
    /// The tool type (usually only on the first fragment).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The function name and a piece of the arguments.
    pub function: Option<FunctionCallDelta>,
}

/// The function part of a [`ToolCallDelta`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionCallDelta {
    /// The function name (usually only on the first fragment).
    pub name: Option<String>,
    /// The next piece of the raw JSON arguments.
    pub arguments: Option<String>,
}

/// When things happened in a stream, measured from the moment the request was sent (or the stream was
/// created, for [`ChatStream::from_reader`](super::ChatStream::from_reader)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamTimings {
    /// Until the response headers arrived (retries included); `None` for a stream over a reader.
    pub headers: Option<Duration>,
    /// Until the first reasoning text arrived.
    pub first_reasoning: Option<Duration>,
    /// Until the first answer text arrived.
    pub first_content: Option<Duration>,
    /// How many chunks (events with data, `[DONE]` excluded) arrived.
    pub chunks: u64,
    /// Until the stream ended (`[DONE]`, the end of the body, or an error); `None` while it runs.
    pub total: Option<Duration>,
}

impl StreamTimings {
    /// Until the first text of any kind: what a person waits before seeing the model respond.
    pub fn first_token(&self) -> Option<Duration> {
        match (self.first_reasoning, self.first_content) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How the stream ended, once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEnd {
    /// The server sent `[DONE]`.
    Done,
    /// The body ended without `[DONE]`, but every choice had finished: complete, reported as such.
    FinishedWithoutDone,
    /// A streaming request was answered with a whole `application/json` completion.
    Json,
    /// The stream failed; the error was returned by the iterator.
    Failed,
}
