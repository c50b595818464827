//! [`ChatStream`]'s accessors: what has been accumulated, the response, how the stream ended.

use super::{ChatStream, State, StreamChoice, StreamEnd, StreamTimings};
use crate::chat::request::Message;
use crate::chat::response::{ChatCompletion, Choice, FinishReason, ToolCall, Usage};
use crate::meta::ResponseMeta;

impl<R> ChatStream<R> {
    /// The full answer text of choice 0 so far.
    pub fn content(&self) -> &str {
        self.acc.first().map_or("", |c| c.content())
    }

    /// The full reasoning text of choice 0 so far.
    pub fn reasoning_content(&self) -> &str {
        self.acc.first().map_or("", |c| c.reasoning_content())
    }

    /// The tool calls of choice 0 so far, fragments merged.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.acc.first().map_or(&[], |c| c.tool_calls())
    }

    /// The finish reason of choice 0, once it has finished.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.acc.first().and_then(|c| c.finish_reason())
    }

    /// The assistant message of choice 0 to append to the conversation (answer and tool calls, without the
    /// reasoning). See [`StreamChoice::message`].
    ///
    /// ```
    /// use siliconflow::{ChatStream, Message, Role};
    ///
    /// let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"r\",\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n";
    /// let mut stream = ChatStream::from_reader(body.as_bytes());
    /// stream.by_ref().for_each(drop);
    /// let mut history = vec![Message::user("Hello")];
    /// history.push(stream.message());
    /// assert_eq!(history[1].role, Role::Assistant);
    /// assert_eq!(history[1].reasoning_content, None);
    /// assert_eq!(stream.message_with_reasoning().reasoning_content.as_deref(), Some("r"));
    /// ```
    pub fn message(&self) -> Message {
        self.acc
            .first()
            .map_or_else(|| Message::assistant(""), StreamChoice::message)
    }

    /// The assistant message of choice 0 with its reasoning. See [`StreamChoice::message_with_reasoning`].
    pub fn message_with_reasoning(&self) -> Message {
        self.acc.first().map_or_else(
            || Message::assistant(""),
            StreamChoice::message_with_reasoning,
        )
    }

    /// Whether choice 0 spent its whole token budget thinking (finish `length`, reasoning, no answer).
    pub fn spent_budget_thinking(&self) -> bool {
        self.acc
            .first()
            .is_some_and(StreamChoice::spent_budget_thinking)
    }

    /// When the headers, the first reasoning, the first answer text and the end arrived, and how many
    /// chunks.
    pub fn timings(&self) -> StreamTimings {
        self.timings
    }

    /// The latest usage seen (SiliconFlow sends a running total on every chunk, OpenAI one trailer).
    pub fn usage(&self) -> Option<&Usage> {
        self.acc.usage.get()
    }

    /// Every choice seen so far, in the order they first appeared.
    pub fn choices(&self) -> &[StreamChoice] {
        &self.acc.choices
    }

    /// The completion id the chunks carry (empty until one arrived).
    pub fn id(&self) -> &str {
        &self.acc.id
    }

    /// The model the chunks name (empty until one arrived).
    pub fn model(&self) -> &str {
        &self.acc.model
    }

    /// The request id of the response, to quote to support (see [`ResponseMeta::request_id`] for the
    /// headers searched, gateways' renamed ones included).
    pub fn request_id(&self) -> Option<&str> {
        self.meta.request_id()
    }

    /// The status and headers of the response (a stream over a reader reports 200 and no headers).
    pub fn response(&self) -> &ResponseMeta {
        &self.meta
    }

    /// How many events with data have been received.
    pub fn events_received(&self) -> u64 {
        self.events
    }

    /// The bytes the stream holds, as the accumulation bound counts them: what is allocated, at most (the
    /// text with an eighth more, the latest metadata at its capacity, the bookkeeping of choices and tool
    /// calls at the capacity of its lists).
    pub fn held_bytes(&self) -> usize {
        self.acc.held()
    }

    /// How the stream ended, or `None` while it is still going.
    pub fn end(&self) -> Option<StreamEnd> {
        match self.state {
            State::Streaming => None,
            State::Ended(end) => Some(end),
        }
    }

    /// Builds a [`ChatCompletion`] from everything received (also after an error: what arrived is kept).
    pub fn into_completion(self) -> ChatCompletion {
        let acc = self.acc;
        let mut completion = ChatCompletion {
            id: acc.id,
            object: "chat.completion".to_string(),
            created: acc.created,
            model: acc.model,
            choices: acc
                .choices
                .iter()
                .map(|c| Choice {
                    index: c.index(),
                    message: c.message_with_reasoning(),
                    finish_reason: c.finish_reason().cloned(),
                    logprobs: None,
                })
                .collect(),
            usage: acc.usage.get().cloned(),
            system_fingerprint: (!acc.system_fingerprint.is_empty())
                .then_some(acc.system_fingerprint),
            ..ChatCompletion::default()
        };
        crate::client::WithResponse::set_response(&mut completion, self.meta);
        completion
    }
}
