//! [`ChatStream`]: server-sent events -> chunks -> [`ChatDelta`]s, plus the accumulator.
//!
//! Each event's JSON is parsed straight from the decoder's reused buffer into borrowed wire structs; the
//! only strings allocated per chunk are the texts handed to the caller in the [`ChatDelta`]. A delta is
//! returned as soon as its event's blank line has arrived.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};
use std::time::{Duration, Instant};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::request::Role;
use super::response::{ChatCompletion, Choice, FinishReason, ToolCall, Usage};
use super::think::ThinkSplitter;
use crate::error::{truncate, ApiError, DeadlineExceeded, Error, Redactor, MAX_SNIPPET};
use crate::serde_util::{empty_as_none, Text};
use crate::sse::{SseDecoder, SseError};
use crate::Message;

/// One choice's delta from one streamed chunk.
///
/// Text fields are `None` when the wire has them absent, `null` or `""`, so `if let Some(text)` is all a
/// printer needs. A chunk with several choices yields several deltas (see [`index`](Self::index)); a chunk
/// with no choices (a usage trailer) yields none but updates [`ChatStream::usage`].
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
    /// Tool-call fragments; [`ChatStream::tool_calls`] has them merged.
    pub tool_calls: Vec<ToolCallDelta>,
    /// Set on the chunk that ends this choice.
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested, as sent.
    pub logprobs: Option<Value>,
}

impl ChatDelta {
    /// The bytes of text this delta carries (content, reasoning, tool-call arguments).
    fn text_len(&self) -> usize {
        let len = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let calls: usize = self
            .tool_calls
            .iter()
            .filter_map(|c| c.function.as_ref())
            .map(|f| len(&f.arguments))
            .sum();
        len(&self.content) + len(&self.reasoning_content) + calls
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

/// Everything accumulated for one choice of a stream.
#[derive(Clone, PartialEq, Default)]
pub struct StreamChoice {
    index: u32,
    role: Option<Role>,
    content: String,
    reasoning_content: String,
    tool_calls: Vec<ToolCall>,
    tool_positions: Positions,
    finish_reason: Option<FinishReason>,
    think: ThinkSplitter,
}

impl fmt::Debug for StreamChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamChoice")
            .field("index", &self.index)
            .field("role", &self.role)
            .field("content", &self.content)
            .field("reasoning_content", &self.reasoning_content)
            .field("tool_calls", &self.tool_calls)
            .field("finish_reason", &self.finish_reason)
            .finish()
    }
}

impl StreamChoice {
    /// The choice's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The full answer text so far.
    pub fn content(&self) -> &str {
        &self.content
    }

    /// The full reasoning text so far.
    pub fn reasoning_content(&self) -> &str {
        &self.reasoning_content
    }

    /// The tool calls so far, fragments merged by index, in the order they first appeared.
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.tool_calls
    }

    /// Why the choice finished, once it has.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.finish_reason.as_ref()
    }

    fn apply(&mut self, delta: &ChatDelta) {
        if self.role.is_none() {
            self.role.clone_from(&delta.role);
        }
        if let Some(text) = &delta.content {
            self.content.push_str(text);
        }
        if let Some(text) = &delta.reasoning_content {
            self.reasoning_content.push_str(text);
        }
        for fragment in &delta.tool_calls {
            self.merge_tool_call(fragment);
        }
        if delta.finish_reason.is_some() {
            self.finish_reason.clone_from(&delta.finish_reason);
        }
    }

    /// Merges one fragment: a new index starts a call; `None` never overwrites a known id, type or name;
    /// arguments are concatenated raw.
    fn merge_tool_call(&mut self, fragment: &ToolCallDelta) {
        let position = match self.tool_positions.find(fragment.index) {
            Some(position) => position,
            None => {
                self.tool_calls.push(ToolCall::default());
                self.tool_positions.insert(fragment.index)
            }
        };
        let call = &mut self.tool_calls[position];
        fill(&mut call.id, fragment.id.as_deref());
        fill(&mut call.kind, fragment.kind.as_deref());
        if let Some(function) = &fragment.function {
            fill(&mut call.function.name, function.name.as_deref());
            if let Some(arguments) = &function.arguments {
                call.function.arguments.push_str(arguments);
            }
        }
    }

    /// Whether the model spent its whole token budget thinking: it stopped for length with reasoning and
    /// no answer. Ask again with a larger `max_tokens` (or `thinking_budget`), or with thinking off.
    pub fn spent_budget_thinking(&self) -> bool {
        self.finish_reason == Some(FinishReason::Length)
            && !self.reasoning_content.is_empty()
            && self.content.trim().is_empty()
    }

    /// The assistant message to append to the conversation: the answer and the tool calls, without the
    /// reasoning (SiliconFlow's docs send history without it; see [`Message::with_reasoning_content`]).
    pub fn message(&self) -> Message {
        let mut message = self.message_with_reasoning();
        message.reasoning_content = None;
        message
    }

    /// The assistant message with its reasoning, for servers that want it back (DeepSeek's thinking-mode
    /// tool loops require it).
    pub fn message_with_reasoning(&self) -> Message {
        let has_calls = !self.tool_calls.is_empty();
        let mut message = Message::assistant(self.content.clone());
        if let Some(role) = &self.role {
            message.role = role.clone();
        }
        if self.content.is_empty() && has_calls {
            message.content = None;
        }
        if !self.reasoning_content.is_empty() {
            message.reasoning_content = Some(self.reasoning_content.clone());
        }
        if has_calls {
            message.tool_calls = Some(self.tool_calls.clone());
        }
        message
    }
}

impl StreamChoice {
    /// Moves `<think>…</think>` text of `delta.content` into `delta.reasoning_content`; at the choice's
    /// finish, releases a held-back partial tag.
    fn split_think(&mut self, delta: &mut ChatDelta) {
        let finishing = delta.finish_reason.is_some();
        if delta.content.is_none() && !finishing {
            return;
        }
        let mut reasoning = delta.reasoning_content.take().unwrap_or_default();
        let mut content = String::new();
        if let Some(text) = delta.content.take() {
            self.think.split(&text, &mut reasoning, &mut content);
        }
        if finishing {
            self.think.finish(&mut reasoning, &mut content);
        }
        delta.content = (!content.is_empty()).then_some(content);
        delta.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
    }
}

/// Sets `slot` from `value` when the slot is still empty and the value is a real one.
fn fill(slot: &mut String, value: Option<&str>) {
    if let Some(value) = value {
        if slot.is_empty() && !value.is_empty() {
            slot.push_str(value);
        }
    }
}

/// When things happened in a stream, measured from the moment the request was sent (or the stream was
/// created, for [`ChatStream::from_reader`]).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Ended(StreamEnd),
}

/// Metadata and per-choice accumulation.
#[derive(Debug, Default)]
struct Accumulator {
    id: String,
    model: String,
    created: u64,
    system_fingerprint: String,
    usage: UsageSlot,
    choices: Vec<StreamChoice>,
    positions: Positions,
}

/// The latest usage, kept as the JSON text it arrived as and parsed when first read.
///
/// SiliconFlow sends a running total on every chunk; parsing each one would cost more than the rest of the
/// chunk. The last one is checked at the end of the stream, so a malformed total is still reported.
#[derive(Debug, Default)]
struct UsageSlot {
    raw: String,
    /// The number of the event it came in, for the error that names it.
    event: u64,
    parsed: std::cell::OnceCell<Option<Usage>>,
}

impl UsageSlot {
    fn set_raw(&mut self, raw: &str, event: u64) {
        self.raw.clear();
        self.raw.push_str(raw);
        self.event = event;
        self.parsed = std::cell::OnceCell::new();
    }

    fn set(&mut self, usage: Option<Usage>) {
        self.raw.clear();
        self.parsed = std::cell::OnceCell::from(usage);
    }

    fn parse(&self) -> Result<Option<Usage>, serde_json::Error> {
        if self.raw.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&self.raw).map(Some)
    }

    fn get(&self) -> Option<&Usage> {
        self.parsed
            .get_or_init(|| self.parse().ok().flatten())
            .as_ref()
    }

    /// The error for a malformed last usage, if it is one.
    fn check(&self) -> Result<(), Error> {
        if self.parsed.get().is_some_and(Option::is_some) {
            return Ok(());
        }
        self.parse()
            .map(drop)
            .map_err(|source| Error::MalformedChunk {
                event: self.event,
                data: truncate(&self.raw, MAX_SNIPPET),
                source,
            })
    }
}

impl Accumulator {
    fn choice_mut(&mut self, index: u32) -> &mut StreamChoice {
        let position = match self.positions.find(index) {
            Some(position) => position,
            None => {
                self.choices.push(StreamChoice {
                    index,
                    ..StreamChoice::default()
                });
                self.positions.insert(index)
            }
        };
        &mut self.choices[position]
    }

    /// Choice 0, the one the single-choice accessors report.
    fn first(&self) -> Option<&StreamChoice> {
        self.positions.find(0).map(|p| &self.choices[p])
    }
}

/// Where each wire `index` (of a choice, or of a tool call) sits in a `Vec`, in order of first appearance.
///
/// Servers number from 0 in order, so the position usually equals the index: one comparison, no search.
/// Any other numbering goes through an ordered map, so a hostile chunk with many distinct indices costs
/// O(n log n), not O(n²).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Positions {
    indices: Vec<u32>,
    elsewhere: std::collections::BTreeMap<u32, usize>,
}

impl Positions {
    fn find(&self, index: u32) -> Option<usize> {
        let at = index as usize;
        if self.indices.get(at) == Some(&index) {
            return Some(at);
        }
        self.elsewhere.get(&index).copied()
    }

    /// Records a new index (not yet present) and returns its position.
    fn insert(&mut self, index: u32) -> usize {
        let position = self.indices.len();
        self.indices.push(index);
        if position != index as usize {
            self.elsewhere.insert(index, position);
        }
        position
    }
}

/// Sets `slot` to `value` when they differ, reusing the slot's allocation.
fn set_text(slot: &mut String, value: &str) {
    if slot != value {
        slot.clear();
        slot.push_str(value);
    }
}

/// A streamed chat completion: an iterator of [`ChatDelta`]s that accumulates everything it hands out.
///
/// Iterate it with `for delta in &mut stream` to keep the stream for [`content`](Self::content),
/// [`reasoning_content`](Self::reasoning_content), [`usage`](Self::usage) and
/// [`into_completion`](Self::into_completion) afterwards. The iterator is fused: after `[DONE]`, the end of
/// the body, or an error it returns `None`, and what was accumulated stays readable.
///
/// It reads on the caller's thread: each `next()` reads from the connection until the next event is
/// complete. `ChatStream::from_reader` runs the same decoder over any [`BufRead`] (a recorded body, a file):
///
/// ```
/// use siliconflow::ChatStream;
///
/// let body = concat!(
///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Think.\"}}]}\n\n",
///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi!\"},\"finish_reason\":\"stop\"}]}\n\n",
///     "data: [DONE]\n\n",
/// );
/// let mut stream = ChatStream::from_reader(body.as_bytes());
/// for delta in &mut stream {
///     let delta = delta?;
///     if let Some(text) = &delta.content {
///         print!("{text}");
///     }
/// }
/// assert_eq!(stream.content(), "Hi!");
/// assert_eq!(stream.reasoning_content(), "Think.");
/// # Ok::<(), siliconflow::Error>(())
/// ```
pub struct ChatStream<R = crate::body::ResponseBody> {
    decoder: SseDecoder<R>,
    pending: VecDeque<ChatDelta>,
    acc: Accumulator,
    state: State,
    events: u64,
    status: u16,
    request_id: Option<String>,
    /// Bytes of text accumulated so far, and the bound on them.
    accumulated: usize,
    max_accumulated: usize,
    /// Read to the end of the body after `[DONE]` (an HTTP body, so its connection can be reused).
    drain_after_done: bool,
    redactor: Redactor,
    split_think: bool,
    started: Instant,
    timings: StreamTimings,
}

/// The most bytes read after `[DONE]` to reach the end of the body, so the connection can be reused.
const MAX_DRAIN: usize = 64 * 1024;

impl<R> fmt::Debug for ChatStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("state", &self.state)
            .field("events", &self.events)
            .field("request_id", &self.request_id)
            .field("choices", &self.acc.choices)
            .field("usage", &self.acc.usage.get())
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> ChatStream<R> {
    /// A stream decoding the server-sent-event body in `reader`.
    pub fn from_reader(reader: R) -> Self {
        Self::from_decoder(SseDecoder::new(reader), 200, None)
    }

    /// Like [`from_reader`](Self::from_reader), with a bound on the size of one line or event.
    pub fn from_reader_with_limit(reader: R, max_event_size: usize) -> Self {
        Self::from_decoder(
            SseDecoder::new(reader).with_max_event_size(max_event_size),
            200,
            None,
        )
    }

    pub(crate) fn from_decoder(
        decoder: SseDecoder<R>,
        status: u16,
        request_id: Option<String>,
    ) -> Self {
        ChatStream {
            decoder,
            pending: VecDeque::new(),
            acc: Accumulator::default(),
            state: State::Streaming,
            events: 0,
            status,
            request_id,
            accumulated: 0,
            max_accumulated: usize::MAX,
            drain_after_done: false,
            redactor: Redactor::default(),
            split_think: false,
            started: Instant::now(),
            timings: StreamTimings::default(),
        }
    }

    /// Moves `<think>…</think>` out of `content` into `reasoning_content` as the text streams (off by
    /// default), for servers that send a reasoning model's thinking inside the answer. Tags cut across
    /// chunks are recognised, and a possible partial tag is held back until the next chunk decides it.
    ///
    /// ```
    /// use siliconflow::ChatStream;
    ///
    /// let body = concat!(
    ///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>Hmm, 2+2</th\"}}]}\n\n",
    ///     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ink>4\"},\"finish_reason\":\"stop\"}]}\n\n",
    /// );
    /// let mut stream = ChatStream::from_reader(body.as_bytes()).split_think_tags(true);
    /// stream.by_ref().for_each(drop);
    /// assert_eq!(stream.reasoning_content(), "Hmm, 2+2");
    /// assert_eq!(stream.content(), "4");
    /// ```
    pub fn split_think_tags(mut self, on: bool) -> Self {
        self.split_think = on;
        self
    }

    /// Sets when the request started and how long its headers took (the client's measurements).
    pub(crate) fn timed(mut self, started: Instant, headers: Duration) -> Self {
        let shift = self.started.saturating_duration_since(started);
        self.started = started;
        self.timings.headers = Some(headers);
        // Anything measured from the provisional start (a replayed JSON answer) moves to the real one.
        for time in [
            &mut self.timings.first_reasoning,
            &mut self.timings.first_content,
            &mut self.timings.total,
        ]
        .into_iter()
        .flatten()
        {
            *time += shift;
        }
        self
    }

    /// An HTTP stream: reads the rest of the body after `[DONE]` so the connection can go back to the
    /// pool, and scrubs the key out of errors.
    pub(crate) fn for_http(mut self, redactor: Redactor) -> Self {
        self.drain_after_done = true;
        self.redactor = redactor;
        self
    }

    /// Bounds the text the stream may accumulate (content, reasoning and tool-call arguments of every
    /// choice); `None` for no bound. Exceeding it is [`Error::AccumulatedTooLarge`].
    pub fn with_max_accumulated_size(mut self, max: Option<usize>) -> Self {
        self.max_accumulated = max.unwrap_or(usize::MAX);
        self
    }

    /// A finished stream replaying a whole completion (a streaming request answered with JSON).
    pub(crate) fn from_completion(
        decoder: SseDecoder<R>,
        completion: ChatCompletion,
        status: u16,
        request_id: Option<String>,
    ) -> Self {
        let mut stream = Self::from_decoder(decoder, status, request_id);
        let acc = &mut stream.acc;
        acc.id = completion.id;
        acc.model = completion.model;
        acc.created = completion.created;
        acc.system_fingerprint = completion.system_fingerprint.unwrap_or_default();
        acc.usage.set(completion.usage);
        for choice in completion.choices {
            let message = choice.message;
            let text = message.text();
            let delta = ChatDelta {
                index: choice.index,
                role: Some(message.role.clone()),
                content: (!text.is_empty()).then(|| text.into_owned()),
                reasoning_content: message.reasoning_content.filter(|r| !r.is_empty()),
                tool_calls: message
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .zip(0..)
                    .map(|(call, index)| ToolCallDelta {
                        index,
                        id: Some(call.id),
                        kind: Some(call.kind),
                        function: Some(FunctionCallDelta {
                            name: Some(call.function.name),
                            arguments: Some(call.function.arguments),
                        }),
                    })
                    .collect(),
                finish_reason: choice.finish_reason,
                logprobs: choice.logprobs,
            };
            acc.choice_mut(delta.index).apply(&delta);
            note_first_text(&mut stream.timings, stream.started, &delta);
            stream.pending.push_back(delta);
        }
        stream.state = State::Ended(StreamEnd::Json);
        stream.timings.total = Some(stream.started.elapsed());
        stream
    }

    /// Reads and processes events until at least one delta is pending or the stream ends.
    fn advance(&mut self) -> Result<(), Error> {
        loop {
            let event = match self.decoder.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => return self.end_of_body(),
                Err(SseError::TooLarge { limit }) => return Err(Error::EventTooLarge { limit }),
                Err(SseError::Io(e)) => return Err(read_error(e, self.events)),
            };
            let data = event.data.trim_ascii();
            if data.is_empty() {
                continue;
            }
            self.events += 1;
            if event.event == "error" {
                return Err(Error::Stream(Box::new(stream_error(
                    self.status,
                    &self.request_id,
                    data,
                ))));
            }
            if data == "[DONE]" {
                self.acc.usage.check()?;
                self.release_held_tags();
                self.state = State::Ended(StreamEnd::Done);
                if self.drain_after_done {
                    self.drain();
                }
                return Ok(());
            }
            let before = self.pending.len();
            let mut deserializer = serde_json::Deserializer::from_str(data);
            let parsed = ChunkSeed {
                pending: &mut self.pending,
            }
            .deserialize(&mut deserializer)
            .and_then(|kind| deserializer.end().map(|()| kind));
            match parsed {
                Ok(ChunkKind::Chunk(meta)) => {
                    if self.max_accumulated != usize::MAX {
                        let added: usize =
                            self.pending.range(before..).map(ChatDelta::text_len).sum();
                        self.accumulated = self.accumulated.saturating_add(added);
                        if self.accumulated > self.max_accumulated {
                            self.pending.truncate(before);
                            return Err(Error::AccumulatedTooLarge {
                                limit: self.max_accumulated,
                            });
                        }
                    }
                    meta.apply(&mut self.acc, self.events);
                    self.timings.chunks += 1;
                    for delta in self.pending.range_mut(before..) {
                        let choice = self.acc.choice_mut(delta.index);
                        if self.split_think {
                            choice.split_think(delta);
                        }
                        choice.apply(delta);
                        note_first_text(&mut self.timings, self.started, delta);
                    }
                    if self.pending.len() > before {
                        return Ok(());
                    }
                }
                Ok(ChunkKind::Error) => {
                    self.pending.truncate(before);
                    return Err(Error::Stream(Box::new(stream_error(
                        self.status,
                        &self.request_id,
                        data,
                    ))));
                }
                Err(source) => {
                    self.pending.truncate(before);
                    return Err(Error::MalformedChunk {
                        event: self.events,
                        data: truncate(data, MAX_SNIPPET),
                        source,
                    });
                }
            }
        }
    }

    /// Reads what follows `[DONE]` (normally nothing but the end of the chunked body) so that the
    /// connection goes back to the pool; bounded, and its failures are not the caller's concern.
    fn drain(&mut self) {
        let reader = self.decoder.reader_mut();
        let mut drained = 0;
        while drained < MAX_DRAIN {
            let len = match reader.fill_buf() {
                Ok([]) | Err(_) => return,
                Ok(buf) => buf.len(),
            };
            reader.consume(len);
            drained += len;
        }
    }

    /// At the end of the stream, hands out text held back as a possible partial `<think>` tag.
    fn release_held_tags(&mut self) {
        if !self.split_think {
            return;
        }
        for choice in &mut self.acc.choices {
            let mut delta = ChatDelta {
                index: choice.index,
                finish_reason: None,
                ..ChatDelta::default()
            };
            let (mut reasoning, mut content) = (String::new(), String::new());
            choice.think.finish(&mut reasoning, &mut content);
            delta.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
            delta.content = (!content.is_empty()).then_some(content);
            if delta.reasoning_content.is_some() || delta.content.is_some() {
                choice.apply(&delta);
                self.pending.push_back(delta);
            }
        }
    }

    fn end_of_body(&mut self) -> Result<(), Error> {
        self.release_held_tags();
        let finished = !self.acc.choices.is_empty()
            && self.acc.choices.iter().all(|c| c.finish_reason.is_some());
        if finished {
            self.acc.usage.check()?;
            self.state = State::Ended(StreamEnd::FinishedWithoutDone);
            return Ok(());
        }
        Err(Error::StreamCut {
            received: self.events,
            reason: if self.events == 0 {
                "the body ended before any event".to_string()
            } else {
                "the body ended before [DONE] and before every choice finished".to_string()
            },
            source: None,
        })
    }
}

/// Records the first reasoning and the first answer text.
fn note_first_text(timings: &mut StreamTimings, started: Instant, delta: &ChatDelta) {
    if timings.first_reasoning.is_none() && delta.reasoning_content.is_some() {
        timings.first_reasoning = Some(started.elapsed());
    }
    if timings.first_content.is_none() && delta.content.is_some() {
        timings.first_content = Some(started.elapsed());
    }
}

/// An error the server sent inside the stream.
fn stream_error(status: u16, request_id: &Option<String>, data: &str) -> ApiError {
    let mut error = ApiError::parse(status, data.as_bytes());
    error.request_id.clone_from(request_id);
    error
}

/// Maps a failed body read to the error the caller sees.
fn read_error(error: io::Error, events: u64) -> Error {
    if let Some(kind) = DeadlineExceeded::timeout_of(&error) {
        return Error::Timeout(kind);
    }
    Error::StreamCut {
        received: events,
        reason: format!("reading the body failed: {error}"),
        source: Some(error),
    }
}

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

    /// The `x-siliconcloud-trace-id` (else `x-request-id`) of the response: quote it to support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// How many events with data have been received.
    pub fn events_received(&self) -> u64 {
        self.events
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
        ChatCompletion {
            id: acc.id,
            object: "chat.completion".to_string(),
            created: acc.created,
            model: acc.model,
            choices: acc
                .choices
                .iter()
                .map(|c| Choice {
                    index: c.index,
                    message: c.message_with_reasoning(),
                    finish_reason: c.finish_reason.clone(),
                    logprobs: None,
                })
                .collect(),
            usage: acc.usage.get().cloned(),
            system_fingerprint: (!acc.system_fingerprint.is_empty())
                .then_some(acc.system_fingerprint),
        }
    }
}

impl<R: BufRead> Iterator for ChatStream<R> {
    type Item = Result<ChatDelta, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(delta) = self.pending.pop_front() {
                return Some(Ok(delta));
            }
            if self.state != State::Streaming {
                return None;
            }
            let result = self.advance();
            if result.is_err() {
                self.state = State::Ended(StreamEnd::Failed);
            }
            if self.state != State::Streaming {
                self.timings.total = Some(self.started.elapsed());
            }
            if let Err(error) = result {
                return Some(Err(self.redactor.error(error)));
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for ChatStream<R> {}

// ---- Wire parsing -------------------------------------------------------------------------------------

/// What a parsed event turned out to be.
enum ChunkKind<'a> {
    /// A chunk, with its metadata to apply once the whole chunk has parsed.
    Chunk(ChunkMeta<'a>),
    /// An error object (`{"error":…}`, or `code`+`message` without `choices`).
    Error,
}

/// A chunk's metadata, borrowed from the event, applied only when the chunk as a whole is valid.
#[derive(Default)]
struct ChunkMeta<'a> {
    id: Option<Text<'a>>,
    model: Option<Text<'a>>,
    system_fingerprint: Option<Text<'a>>,
    created: Option<u64>,
    usage: Option<&'a RawValue>,
}

impl ChunkMeta<'_> {
    fn apply(self, acc: &mut Accumulator, event: u64) {
        if let Some(id) = self.id {
            set_text(&mut acc.id, &id.0);
        }
        if let Some(model) = self.model {
            set_text(&mut acc.model, &model.0);
        }
        if let Some(fp) = self.system_fingerprint {
            set_text(&mut acc.system_fingerprint, &fp.0);
        }
        if let Some(created) = self.created {
            acc.created = created;
        }
        if let Some(usage) = self.usage {
            acc.usage.set_raw(usage.get(), event);
        }
    }
}

/// Deserializes one chunk, pushing a delta per choice onto `pending`; the metadata comes back to be applied
/// once the chunk is known to be valid.
struct ChunkSeed<'s> {
    pending: &'s mut VecDeque<ChatDelta>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChunkField {
    Id,
    Model,
    Created,
    SystemFingerprint,
    Choices,
    Usage,
    Error,
    Code,
    Message,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for ChunkSeed<'_> {
    type Value = ChunkKind<'de>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<ChunkKind<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed<'_> {
    type Value = ChunkKind<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat completion chunk object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChunkKind<'de>, A::Error> {
        let (mut error, mut code, mut message, mut choices) = (false, false, false, false);
        let mut meta = ChunkMeta::default();
        while let Some(field) = map.next_key::<ChunkField>()? {
            match field {
                ChunkField::Id => meta.id = map.next_value()?,
                ChunkField::Model => meta.model = map.next_value()?,
                ChunkField::SystemFingerprint => meta.system_fingerprint = map.next_value()?,
                ChunkField::Created => meta.created = map.next_value()?,
                ChunkField::Choices => {
                    choices = true;
                    map.next_value_seed(ChoicesSeed {
                        pending: self.pending,
                    })?;
                }
                ChunkField::Usage => meta.usage = map.next_value()?,
                ChunkField::Error => error = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                ChunkField::Code => code = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                ChunkField::Message => message = map.next_value::<Option<IgnoredAny>>()?.is_some(),
                ChunkField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if error || (code && message && !choices) {
            Ok(ChunkKind::Error)
        } else {
            Ok(ChunkKind::Chunk(meta))
        }
    }
}

/// Deserializes `choices` (an array, or `null`) straight into deltas.
struct ChoicesSeed<'s> {
    pending: &'s mut VecDeque<ChatDelta>,
}

impl<'de> DeserializeSeed<'de> for ChoicesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ChoicesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of choices")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(choice) = seq.next_element::<ChoiceWire<'de>>()? {
            self.pending.push_back(choice.into_delta());
        }
        Ok(())
    }
}

/// One choice of a chunk, borrowing its strings where it can.
#[derive(Deserialize)]
struct ChoiceWire<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(borrow, default)]
    delta: Option<DeltaWire<'a>>,
    #[serde(default, deserialize_with = "empty_as_none")]
    finish_reason: Option<FinishReason>,
    #[serde(default)]
    logprobs: Option<Value>,
}

#[derive(Deserialize)]
struct DeltaWire<'a> {
    #[serde(default)]
    role: Option<Role>,
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning: Option<Text<'a>>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallWire>>,
}

#[derive(Deserialize)]
struct ToolCallWire {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    function: Option<FunctionCallDelta>,
}

impl ChoiceWire<'_> {
    fn into_delta(self) -> ChatDelta {
        let mut out = ChatDelta {
            index: self.index.unwrap_or(0),
            finish_reason: self.finish_reason,
            logprobs: self.logprobs,
            ..ChatDelta::default()
        };
        if let Some(delta) = self.delta {
            out.role = delta.role;
            out.content = delta.content.and_then(Text::non_empty);
            // One field or the other, never both: a server sending both sends the same text twice.
            out.reasoning_content = delta
                .reasoning_content
                .and_then(Text::non_empty)
                .or_else(|| delta.reasoning.and_then(Text::non_empty));
            if let Some(calls) = delta.tool_calls {
                out.tool_calls = calls
                    .into_iter()
                    .zip(0..)
                    .map(|(call, position)| ToolCallDelta {
                        // Servers that omit `index` send one call per position.
                        index: call.index.unwrap_or(position),
                        id: call.id,
                        kind: call.kind,
                        function: call.function,
                    })
                    .collect();
            }
        }
        out
    }
}
