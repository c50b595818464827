//! [`ChatStream`]: server-sent events -> chunks -> [`ChatDelta`]s, accumulated as they go.
//!
//! One job per file, data flowing one way:
//!
//! - [`crate::sse`] decodes the body into events;
//! - `fast` reads the common chunk's top level itself and `wire` the rest (and any chunk `fast` leaves to
//!   it) with `serde_json`, straight from the buffer the event lies in, into deltas whose texts are `piece::Span`s
//!   of the event, in slots (`parsed`) reused from chunk to chunk;
//! - `accumulator` checks a chunk against the [`StreamLimits`] and keeps everything received;
//! - `delta` holds the public pieces handed out;
//! - this file drives the others and hands each delta to the caller as soon as its event's blank line has
//!   arrived: borrowed ([`ChatStream::next_ref`]: its texts are the part of the accumulated text it added)
//!   or owned (the `Iterator`); `access` has the accessors.

mod access;
pub(crate) mod accumulator;
pub(crate) mod delta;
#[cfg(test)]
mod differential;
mod fast;
mod parsed;
pub(crate) mod piece;
pub(crate) mod tool_wire;
pub(crate) mod wire;

use std::fmt;
use std::io::{self, BufRead};
use std::time::{Duration, Instant};

pub use accumulator::StreamChoice;
pub use delta::{
    ChatDelta, ChatDeltaRef, FunctionCallDelta, StreamEnd, StreamTimings, ToolCallDelta,
};

use crate::body::{stop_of, ResponseBody};
use crate::chat::response::ChatCompletion;
use crate::error::{ApiError, Error, MAX_SNIPPET};
use crate::limits::StreamLimits;
use crate::meta::{Headers, ResponseMeta};
use crate::net::scope::Stop;
use crate::redact::Redactor;
use crate::sse::{SseDecoder, SseError};
use accumulator::{Accumulator, Admission, Parts};
use parsed::{Deltas, WireDelta};
use piece::{At, Span};
use wire::{parse_chunk, ChunkFailure, ChunkKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Ended(StreamEnd),
}

/// What an HTTP body does at an event and at `[DONE]` (nothing, for a stream over any other reader).
struct Hooks<R> {
    /// An event arrived: the event timeout restarts.
    event: fn(&mut R),
    /// `[DONE]` arrived: take the end of the body if it is there, without waiting.
    done: fn(&mut R),
}

/// A streamed chat completion: an iterator of [`ChatDelta`]s that accumulates everything it hands out.
///
/// Iterate it with `for delta in &mut stream` to keep the stream for [`content`](Self::content),
/// [`reasoning_content`](Self::reasoning_content), [`usage`](Self::usage) and
/// [`into_completion`](Self::into_completion) afterwards. The iterator is fused: after `[DONE]`, the end of
/// the body, or an error it returns `None`, and what was accumulated stays readable. After `[DONE]` it
/// returns `None` at once, without waiting for the server to end the body.
///
/// [`next_ref`](Self::next_ref) is the lending alternative to `next()`: the same deltas, borrowed from the
/// stream ([`ChatDeltaRef`]), with no allocation per text chunk.
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
pub struct ChatStream<R = ResponseBody> {
    decoder: SseDecoder<R>,
    /// The deltas of the last chunk (their texts held: ranges of the accumulated text), reused.
    ready: Deltas,
    /// The next of `ready` to hand out.
    cursor: usize,
    /// Where texts with escapes are unescaped while a chunk is parsed, reused.
    scratch: String,
    acc: Accumulator,
    state: State,
    events: u64,
    meta: ResponseMeta,
    limits: StreamLimits,
    hooks: Option<Hooks<R>>,
    /// An event arrived and the event hook has not run yet (it runs before the next read).
    hook_due: bool,
    /// An error found before the first `next()` (a replayed completion over the bounds).
    deferred: Option<Error>,
    redactor: Redactor,
    split_think: bool,
    started: Instant,
    timings: StreamTimings,
}

impl<R> fmt::Debug for ChatStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("state", &self.state)
            .field("events", &self.events)
            .field("request_id", &self.meta.request_id())
            .field("choices", &self.acc.choices)
            .field("usage", &self.acc.usage.get())
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> ChatStream<R> {
    /// A stream decoding the server-sent-event body in `reader`, with the default [`StreamLimits`].
    pub fn from_reader(reader: R) -> Self {
        Self::from_decoder(
            SseDecoder::new(reader),
            ResponseMeta::new(200, Headers::default()),
            StreamLimits::default(),
        )
    }

    /// Like [`from_reader`](Self::from_reader), with a bound on the size of one line or event.
    pub fn from_reader_with_limit(reader: R, max_event_size: usize) -> Self {
        Self::from_reader(reader)
            .with_limits(StreamLimits::default().max_event_size(max_event_size))
    }

    fn from_decoder(decoder: SseDecoder<R>, meta: ResponseMeta, limits: StreamLimits) -> Self {
        ChatStream {
            decoder: decoder.with_max_event_size(limits.max_event_size),
            ready: Deltas::default(),
            cursor: 0,
            scratch: String::new(),
            hook_due: false,
            acc: Accumulator::default(),
            state: State::Streaming,
            events: 0,
            meta,
            limits,
            hooks: None,
            deferred: None,
            redactor: Redactor::default(),
            split_think: false,
            started: Instant::now(),
            timings: StreamTimings::default(),
        }
    }

    /// Sets every memory bound (see [`StreamLimits`]); call it before reading.
    #[must_use]
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.decoder.set_max_event_size(limits.max_event_size);
        self.limits = limits;
        self
    }

    /// Bounds what the stream may keep, as allocated: the text it accumulates (content, reasoning and
    /// tool-call arguments of every choice, each byte with an eighth more for the room its strings grow
    /// ahead), the latest metadata, and the bookkeeping of choices and tool calls (see
    /// [`StreamLimits::max_accumulated_size`]); `None` for no bound. Exceeding it is
    /// [`Error::AccumulatedTooLarge`].
    #[must_use]
    pub fn with_max_accumulated_size(mut self, max: Option<usize>) -> Self {
        self.limits.max_accumulated_size = max;
        self
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
    #[must_use]
    pub fn split_think_tags(mut self, on: bool) -> Self {
        self.split_think = on;
        self
    }

    /// A finished stream replaying a whole completion (a streaming request answered with JSON).
    fn from_completion(
        decoder: SseDecoder<R>,
        completion: ChatCompletion,
        meta: ResponseMeta,
        limits: StreamLimits,
    ) -> Self {
        let mut stream = Self::from_decoder(decoder, meta, limits);
        let acc = &mut stream.acc;
        acc.id = completion.id;
        acc.model = completion.model;
        acc.created = completion.created;
        acc.system_fingerprint = completion.system_fingerprint.unwrap_or_default();
        acc.usage.set(completion.usage);
        let deltas: Vec<ChatDelta> = completion
            .choices
            .into_iter()
            .map(|choice| {
                let message = choice.message;
                let text = message.text();
                ChatDelta {
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
                }
            })
            .collect();
        // The body was bounded by `max_event_size`; the choice and tool-call bounds still apply.
        let admissions = deltas.iter().map(|d| Admission {
            index: d.index,
            bytes: d.held_bytes(),
            tool_calls: &d.tool_calls,
        });
        // The id, model and fingerprint just set count as a chunk's would.
        let metadata = stream.acc.metadata_kept();
        match stream.acc.admit(admissions, metadata, &stream.limits) {
            Ok(()) => {
                for delta in deltas {
                    let parts = Parts {
                        role: delta.role.as_ref(),
                        content: delta.content.as_deref(),
                        reasoning_content: delta.reasoning_content.as_deref(),
                        tool_calls: &delta.tool_calls,
                        finish_reason: delta.finish_reason.as_ref(),
                    };
                    let ready = stream.hold(delta.index, parts);
                    stream.ready.push(WireDelta {
                        role: delta.role,
                        tool_calls: delta.tool_calls,
                        finish_reason: delta.finish_reason,
                        logprobs: delta.logprobs,
                        ..ready
                    });
                }
                stream.state = State::Ended(StreamEnd::Json);
            }
            Err(error) => {
                stream.state = State::Ended(StreamEnd::Failed);
                stream.deferred = Some(error);
            }
        }
        stream.timings.total = Some(stream.started.elapsed());
        stream
    }

    /// Applies one delta's parts to its choice; returns a delta (without role, tool calls, finish reason
    /// or log probabilities) whose texts are the ranges they now occupy in the choice's accumulated text.
    fn hold(&mut self, index: u32, parts: Parts<'_>) -> WireDelta {
        let choice = self.acc.position(index);
        let (content, reasoning) = self.acc.choices[choice].apply(parts);
        note_first_text(
            &mut self.timings,
            self.started,
            parts.content.is_some(),
            parts.reasoning_content.is_some(),
        );
        WireDelta {
            index,
            choice,
            content: content.map(held),
            reasoning_content: reasoning.map(held),
            ..WireDelta::default()
        }
    }

    /// Reads and processes events until at least one delta is ready or the stream ends.
    fn advance(&mut self) -> Result<(), Error> {
        self.ready.clear();
        self.cursor = 0;
        loop {
            self.run_event_hook();
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
            // The event timeout restarts before the next read (`data` still borrows the decoder).
            self.hook_due = true;
            if event.event == "error" {
                return Err(stream_error(&self.meta, &self.redactor, data));
            }
            if data == "[DONE]" {
                self.acc.usage.check(&self.redactor)?;
                self.release_held_tags();
                self.state = State::Ended(StreamEnd::Done);
                self.run_event_hook();
                if let Some(hooks) = &self.hooks {
                    (hooks.done)(self.decoder.reader_mut());
                }
                return Ok(());
            }
            self.scratch.clear();
            let into = wire::Buffers {
                deltas: &mut self.ready,
                scratch: &mut self.scratch,
            };
            match parse_chunk(data, into, &self.limits) {
                Ok(ChunkKind::Chunk(meta)) => {
                    let admissions = self.ready.as_slice().iter().map(|d| Admission {
                        index: d.index,
                        bytes: d.held_bytes(),
                        tool_calls: &d.tool_calls,
                    });
                    let metadata = meta.held_after(&self.acc);
                    if let Err(error) = self.acc.admit(admissions, metadata, &self.limits) {
                        self.ready.clear();
                        return Err(error);
                    }
                    meta.apply(&mut self.acc, self.events, data, &self.scratch);
                    self.timings.chunks += 1;
                    for delta in self.ready.as_mut_slice() {
                        let texts = (data, self.scratch.as_str());
                        accumulate(&mut self.acc, delta, texts, self.split_think);
                        note_first_text(
                            &mut self.timings,
                            self.started,
                            delta.content.is_some(),
                            delta.reasoning_content.is_some(),
                        );
                    }
                    if !self.ready.is_empty() {
                        return Ok(());
                    }
                }
                Ok(ChunkKind::Error) => {
                    self.ready.clear();
                    return Err(stream_error(&self.meta, &self.redactor, data));
                }
                Err(ChunkFailure::TooManyChoices) => {
                    return Err(Error::TooManyChoices {
                        limit: self.limits.max_choices,
                    })
                }
                Err(ChunkFailure::TooManyToolCalls) => {
                    return Err(Error::TooManyToolCalls {
                        limit: self.limits.max_tool_calls,
                    })
                }
                Err(ChunkFailure::Json(source)) => {
                    return Err(Error::MalformedChunk {
                        event: self.events,
                        data: self.redactor.scrub_cut(data, MAX_SNIPPET),
                        source: source.into(),
                    });
                }
            }
        }
    }

    /// After an error the stream is over: the buffers chunks were parsed into are released (what was
    /// accumulated stays readable). Called once the deltas made ready before the error were handed out.
    fn release_buffers(&mut self) {
        self.ready = Deltas::default();
        self.cursor = 0;
        self.scratch = String::new();
    }

    /// Runs the event hook if an event arrived since it last ran.
    fn run_event_hook(&mut self) {
        if self.hook_due {
            self.hook_due = false;
            if let Some(hooks) = &self.hooks {
                (hooks.event)(self.decoder.reader_mut());
            }
        }
    }

    /// At the end of the stream, hands out text held back as a possible partial `<think>` tag.
    fn release_held_tags(&mut self) {
        if !self.split_think {
            return;
        }
        for position in 0..self.acc.choices.len() {
            let choice = &mut self.acc.choices[position];
            let (mut reasoning, mut content) = (String::new(), String::new());
            choice.think.finish(&mut reasoning, &mut content);
            if reasoning.is_empty() && content.is_empty() {
                continue;
            }
            let index = choice.index;
            let parts = Parts {
                content: (!content.is_empty()).then_some(content.as_str()),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning.as_str()),
                ..Parts::default()
            };
            let delta = self.hold(index, parts);
            self.ready.push(delta);
        }
    }

    fn end_of_body(&mut self) -> Result<(), Error> {
        self.release_held_tags();
        let finished = !self.acc.choices.is_empty()
            && self.acc.choices.iter().all(|c| c.finish_reason().is_some());
        if finished {
            self.acc.usage.check(&self.redactor)?;
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

    /// Makes the next delta ready: returns its position in `ready`, an error (once; the stream is then
    /// over), or `None` at the end. Deltas made ready before a failure (text held back as a possible
    /// `<think>` tag, released at a cut) go out before its error; after the error, nothing.
    fn fill(&mut self) -> Option<Result<usize, Error>> {
        loop {
            if self.cursor < self.ready.len() {
                self.cursor += 1;
                return Some(Ok(self.cursor - 1));
            }
            if let Some(error) = self.deferred.take() {
                self.release_buffers();
                return Some(Err(error));
            }
            if self.state != State::Streaming {
                return None;
            }
            match self.advance() {
                Ok(()) if self.state == State::Streaming => {}
                Ok(()) => self.timings.total = Some(self.started.elapsed()),
                Err(error) => self.fail(error),
            }
        }
    }

    /// Ends the stream with `error`, handed out once the deltas already made ready are.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, error: Error) {
        self.state = State::Ended(StreamEnd::Failed);
        self.timings.total = Some(self.started.elapsed());
        self.deferred = Some(self.redactor.error(error));
    }

    /// The next delta, borrowed from the stream: the lending counterpart of `next()`, which allocates
    /// nothing per chunk (the `Iterator` allocates the texts of each [`ChatDelta`] it hands out).
    ///
    /// Everything else is as with the `Iterator`: the same deltas in the same order, the same errors, the
    /// same accumulation; the two can be mixed. A [`ChatDeltaRef`]'s texts are the part of the accumulated
    /// text the delta added, valid until the next call.
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
    /// let mut printed = String::new();
    /// while let Some(delta) = stream.next_ref() {
    ///     if let Some(text) = delta?.content {
    ///         printed.push_str(text);
    ///     }
    /// }
    /// assert_eq!(printed, "Hi!");
    /// assert_eq!(stream.reasoning_content(), "Think.");
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn next_ref(&mut self) -> Option<Result<ChatDeltaRef<'_>, Error>> {
        let position = match self.fill()? {
            Ok(position) => position,
            Err(error) => return Some(Err(error)),
        };
        let delta = &self.ready.as_slice()[position];
        let choice = &self.acc.choices[delta.choice];
        Some(Ok(ChatDeltaRef {
            index: delta.index,
            role: delta.role.as_ref(),
            content: delta.content.map(|s| held_text(choice.content(), s)),
            reasoning_content: delta
                .reasoning_content
                .map(|s| held_text(choice.reasoning_content(), s)),
            tool_calls: &delta.tool_calls,
            finish_reason: delta.finish_reason.as_ref(),
            logprobs: delta.logprobs.as_ref(),
        }))
    }
}

/// A range of a choice's accumulated text, as a span.
fn held(range: std::ops::Range<usize>) -> Span {
    Span {
        at: At::Held,
        start: range.start,
        end: range.end,
    }
}

/// The text of a held span (always a range the accumulator returned, so `get` never fails).
fn held_text(text: &str, span: Span) -> &str {
    text.get(span.range()).unwrap_or_default()
}

/// Accumulates one parsed delta (its texts in `texts`: the event's data and the scratch buffer) and turns
/// its texts into held spans.
fn accumulate(
    acc: &mut Accumulator,
    delta: &mut WireDelta,
    texts: (&str, &str),
    split_think: bool,
) {
    let (data, scratch) = texts;
    let position = acc.position(delta.index);
    let choice = &mut acc.choices[position];
    let content = delta.content.map(|s| s.text(data, scratch));
    let reasoning = delta.reasoning_content.map(|s| s.text(data, scratch));
    let split = if split_think {
        choice.split_think(content, reasoning, delta.finish_reason.is_some())
    } else {
        None
    };
    let (content, reasoning) = match &split {
        Some((reasoning, content)) => (
            (!content.is_empty()).then_some(content.as_str()),
            (!reasoning.is_empty()).then_some(reasoning.as_str()),
        ),
        None => (content, reasoning),
    };
    let (content, reasoning) = choice.apply(Parts {
        role: delta.role.as_ref(),
        content,
        reasoning_content: reasoning,
        tool_calls: &delta.tool_calls,
        finish_reason: delta.finish_reason.as_ref(),
    });
    delta.choice = position;
    delta.content = content.map(held);
    delta.reasoning_content = reasoning.map(held);
}

/// An error the server sent inside the stream, scrubbed whole before anything is cut.
fn stream_error(meta: &ResponseMeta, redactor: &Redactor, data: &str) -> Error {
    let error: ApiError = crate::client::api_error(meta, data.as_bytes(), redactor);
    Error::Stream(Box::new(error))
}

impl ChatStream<ResponseBody> {
    /// A stream over an HTTP response body: the event timeout restarts with each event, the connection is
    /// released without waiting after `[DONE]`, and errors are scrubbed of the key.
    pub(crate) fn for_http(
        body: ResponseBody,
        meta: ResponseMeta,
        limits: StreamLimits,
        redactor: Redactor,
    ) -> Self {
        let mut stream = Self::from_decoder(SseDecoder::new(body), meta, limits);
        stream.hooks = Some(Hooks {
            event: ResponseBody::event_arrived,
            done: ResponseBody::finish_if_ready,
        });
        stream.redactor = redactor;
        stream
    }

    /// A finished stream replaying a whole completion that answered a streaming request.
    pub(crate) fn replaying(
        body: ResponseBody,
        completion: ChatCompletion,
        meta: ResponseMeta,
        limits: StreamLimits,
        redactor: Redactor,
    ) -> Self {
        let mut stream = Self::from_completion(SseDecoder::new(body), completion, meta, limits);
        stream.redactor = redactor;
        stream
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
}

/// Records the first reasoning and the first answer text.
fn note_first_text(timings: &mut StreamTimings, started: Instant, content: bool, reasoning: bool) {
    if timings.first_reasoning.is_none() && reasoning {
        timings.first_reasoning = Some(started.elapsed());
    }
    if timings.first_content.is_none() && content {
        timings.first_content = Some(started.elapsed());
    }
}

/// Maps a failed body read to the error the caller sees: a limit that stopped it, or a cut stream.
fn read_error(error: io::Error, events: u64) -> Error {
    match stop_of(&error) {
        Some(Stop::Timeout(kind)) => return Error::Timeout(kind),
        Some(Stop::Cancelled) => return Error::Cancelled,
        _ => {}
    }
    if matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        // A reader of the caller's with a socket read timeout.
        return Error::Timeout(crate::TimeoutKind::Idle);
    }
    Error::StreamCut {
        received: events,
        reason: format!("reading the body failed: {error}"),
        source: Some(error),
    }
}

impl<R: BufRead> Iterator for ChatStream<R> {
    type Item = Result<ChatDelta, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let position = match self.fill()? {
            Ok(position) => position,
            Err(error) => return Some(Err(error)),
        };
        // Handed out once: what the delta owns moves out; its texts are copied from the accumulated text.
        let delta = &mut self.ready.as_mut_slice()[position];
        let choice = &self.acc.choices[delta.choice];
        Some(Ok(ChatDelta {
            index: delta.index,
            role: delta.role.take(),
            content: delta
                .content
                .map(|s| held_text(choice.content(), s).to_string()),
            reasoning_content: delta
                .reasoning_content
                .map(|s| held_text(choice.reasoning_content(), s).to_string()),
            tool_calls: std::mem::take(&mut delta.tool_calls),
            finish_reason: delta.finish_reason.take(),
            logprobs: delta.logprobs.take(),
        }))
    }
}

impl<R: BufRead> std::iter::FusedIterator for ChatStream<R> {}
