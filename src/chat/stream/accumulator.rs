//! The accumulator: everything a stream has received, per choice, and the bounds on what it may hold.
//!
//! Content and reasoning are concatenated per choice; tool-call fragments are merged by `index` (`null`
//! never overwrites a known id, type or name; arguments are concatenated raw); the latest usage replaces
//! the previous one. [`Accumulator::admit`] checks a chunk's deltas against the [`StreamLimits`] before
//! any of them is applied, so what the accumulator holds is always exactly what was handed out.
//!
//! The bound counts what is allocated, not only the text's length:
//!
//! - the `Vec`s of choices, of tool calls and of their positions grow by doubling, reserved exactly
//!   ([`push`]), so `admit` knows beforehand the capacity a chunk leads to and counts it;
//! - the accumulated texts (content, reasoning, tool-call arguments) grow by an eighth of their size at a
//!   time, not by doubling ([`reserve_text`]), so a text's allocation is never more than an eighth over
//!   its length, and `admit` counts every text byte with an eighth more ([`text_cost`]);
//! - the kept metadata (id, model, fingerprint, usage) is counted at the capacity it will have
//!   (its length and [`kept_spare`]), and a slot whose capacity is far over its new value is allocated anew, so a
//!   large value sent once does not stay allocated behind a small one.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use crate::chat::request::{Message, Role};
use crate::chat::response::{FinishReason, ToolCall, Usage};
use crate::chat::think::ThinkSplitter;
use crate::error::{Error, MAX_SNIPPET};
use crate::limits::StreamLimits;
use crate::redact::Redactor;

use super::delta::ToolCallDelta;

/// What one choice may allocate beyond its text and its entries in the accumulator's `Vec`s (counted
/// apart, by capacity): the smallest allocation of each of its texts (8 bytes), a held-back `<think>` tag.
const CHOICE_EXTRA: usize = 64;

/// What one tool call may allocate beyond its text and its entries in its choice's `Vec`s: the smallest
/// allocation (8 bytes) of each of its four strings (id, type, name, arguments).
const TOOL_CALL_EXTRA: usize = 32;

/// The most one index out of place costs in a [`Positions`] map, its root node apart: a node of std's
/// `BTreeMap<u32, usize>` takes at most 240 bytes (144 for a leaf), and every node but the root holds at
/// least 5 entries.
const MAP_ENTRY_COST: usize = 48;

/// The root node of a [`Positions`] map, at most (an internal node).
const MAP_ROOT_COST: usize = 240;

/// Everything accumulated for one choice of a stream.
#[derive(Clone, PartialEq, Default)]
pub struct StreamChoice {
    pub(crate) index: u32,
    role: Option<Role>,
    content: String,
    reasoning_content: String,
    tool_calls: Vec<ToolCall>,
    tool_positions: Positions,
    finish_reason: Option<FinishReason>,
    pub(crate) think: ThinkSplitter,
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

    /// Applies one delta's parts; returns the ranges its texts now occupy in `content` and
    /// `reasoning_content` (what the stream hands out for it).
    pub(crate) fn apply(
        &mut self,
        parts: Parts<'_>,
    ) -> (Option<Range<usize>>, Option<Range<usize>>) {
        if self.role.is_none() {
            self.role = parts.role.cloned();
        }
        let content = parts.content.map(|text| append(&mut self.content, text));
        let reasoning = parts
            .reasoning_content
            .map(|text| append(&mut self.reasoning_content, text));
        for fragment in parts.tool_calls {
            self.merge_tool_call(fragment);
        }
        if let Some(reason) = parts.finish_reason {
            self.finish_reason = Some(reason.clone());
        }
        (content, reasoning)
    }

    /// Merges one fragment: a new index starts a call; `None` never overwrites a known id, type or name;
    /// arguments are concatenated raw.
    fn merge_tool_call(&mut self, fragment: &ToolCallDelta) {
        let position = match self.tool_positions.find(fragment.index) {
            Some(position) => position,
            None => {
                push(&mut self.tool_calls, ToolCall::default());
                self.tool_positions.insert(fragment.index)
            }
        };
        let call = &mut self.tool_calls[position];
        fill(&mut call.id, fragment.id.as_deref());
        fill(&mut call.kind, fragment.kind.as_deref());
        if let Some(function) = &fragment.function {
            fill(&mut call.function.name, function.name.as_deref());
            if let Some(arguments) = &function.arguments {
                append(&mut call.function.arguments, arguments);
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
    /// Moves `<think>…</think>` text of a delta's `content` into its reasoning; at the choice's finish,
    /// releases a held-back partial tag. Returns the new (reasoning, content), or `None` when the delta
    /// has no content and does not finish the choice (it is then unchanged).
    pub(crate) fn split_think(
        &mut self,
        content: Option<&str>,
        reasoning: Option<&str>,
        finishing: bool,
    ) -> Option<(String, String)> {
        if content.is_none() && !finishing {
            return None;
        }
        let mut new_reasoning = reasoning.unwrap_or_default().to_string();
        let mut new_content = String::new();
        if let Some(text) = content {
            self.think.split(text, &mut new_reasoning, &mut new_content);
        }
        if finishing {
            self.think.finish(&mut new_reasoning, &mut new_content);
        }
        Some((new_reasoning, new_content))
    }
}

/// Appends `text` to `slot`, returning the range it occupies there.
#[inline]
fn append(slot: &mut String, text: &str) -> Range<usize> {
    let start = slot.len();
    if text.len() > slot.capacity() - start {
        reserve_text(slot, text.len());
    }
    slot.push_str(text);
    start..slot.len()
}

/// Makes room for `more` bytes in an accumulated text, growing its allocation by an eighth at a time (or
/// to what is needed, when that is more), reserved exactly. `push_str` alone would double it, so that a
/// text just past a power of two would hold almost twice its length; this way the allocation is at most
/// the length and an eighth of it (after a growth, either it is exactly what was needed, or it is an eighth
/// over the previous capacity, which the length had passed), which [`text_cost`] counts.
#[cold]
#[inline(never)]
fn reserve_text(slot: &mut String, more: usize) {
    let needed = slot.len().saturating_add(more);
    if needed > slot.capacity() {
        let grown = needed.max(slot.capacity().saturating_add(slot.capacity() / 8));
        slot.reserve_exact(grown - slot.len());
    }
}

/// What `bytes` of text (one chunk's) cost against the accumulation bound: the bytes, and the eighth more
/// their strings may have allocated ahead ([`reserve_text`]), rounded up. Summed over the chunks, this is
/// at least the texts' lengths and an eighth of each, which bounds their allocations.
pub(crate) fn text_cost(bytes: usize) -> usize {
    bytes.saturating_add(bytes.div_ceil(8))
}

/// One delta's parts, as [`StreamChoice::apply`] applies them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Parts<'a> {
    pub role: Option<&'a Role>,
    pub content: Option<&'a str>,
    pub reasoning_content: Option<&'a str>,
    pub tool_calls: &'a [ToolCallDelta],
    pub finish_reason: Option<&'a FinishReason>,
}

/// What [`Accumulator::admit`] needs to know of one delta.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission<'a> {
    pub index: u32,
    /// Its text, as the accumulation bound counts it.
    pub bytes: usize,
    pub tool_calls: &'a [ToolCallDelta],
}

/// Sets `slot` from `value` when the slot is still empty and the value is a real one.
fn fill(slot: &mut String, value: Option<&str>) {
    if let Some(value) = value {
        if slot.is_empty() && !value.is_empty() {
            slot.push_str(value);
        }
    }
}

/// Metadata and per-choice accumulation.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    pub id: String,
    pub model: String,
    pub created: u64,
    pub system_fingerprint: String,
    pub usage: UsageSlot,
    pub choices: Vec<StreamChoice>,
    positions: Positions,
    /// The bytes held so far (text and bookkeeping), counted against `max_accumulated_size`.
    held: usize,
    /// The size of the latest metadata kept, counted against it too.
    metadata_held: usize,
}

/// The latest usage, kept as the JSON text it arrived as and parsed when first read.
///
/// SiliconFlow sends a running total on every chunk; parsing each one would cost more than the rest of the
/// chunk. The last one is checked at the end of the stream, so a malformed total is still reported.
#[derive(Debug, Default)]
pub(crate) struct UsageSlot {
    raw: String,
    /// The number of the event it came in, for the error that names it.
    event: u64,
    parsed: std::cell::OnceCell<Option<Usage>>,
}

impl UsageSlot {
    pub(crate) fn set_raw(&mut self, raw: &str, event: u64) {
        replace_text(&mut self.raw, raw);
        self.event = event;
        self.parsed = std::cell::OnceCell::new();
    }

    pub(crate) fn set(&mut self, usage: Option<Usage>) {
        self.raw = String::new();
        self.parsed = std::cell::OnceCell::from(usage);
    }

    fn parse(&self) -> Result<Option<Usage>, serde_json::Error> {
        if self.raw.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&self.raw).map(Some)
    }

    pub(crate) fn get(&self) -> Option<&Usage> {
        self.parsed
            .get_or_init(|| self.parse().ok().flatten())
            .as_ref()
    }

    /// The size of the latest usage's text.
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// The error for a malformed last usage, if it is one (its text scrubbed of the key before it is cut).
    pub(crate) fn check(&self, redactor: &Redactor) -> Result<(), Error> {
        if self.parsed.get().is_some_and(Option::is_some) {
            return Ok(());
        }
        self.parse()
            .map(drop)
            .map_err(|source| Error::MalformedChunk {
                event: self.event,
                data: redactor.scrub_cut(&self.raw, MAX_SNIPPET),
                source: source.into(),
            })
    }
}

impl Accumulator {
    /// The position of the choice with this wire index, created on first sight (after
    /// [`admit`](Self::admit) allowed it).
    pub(crate) fn position(&mut self, index: u32) -> usize {
        match self.positions.find(index) {
            Some(position) => position,
            None => {
                push(
                    &mut self.choices,
                    StreamChoice {
                        index,
                        ..StreamChoice::default()
                    },
                );
                self.positions.insert(index)
            }
        }
    }

    /// Checks that applying one chunk's deltas keeps the stream within `limits`: distinct choices, distinct
    /// tool calls per choice, and the bytes held (text plus bookkeeping, as it will be allocated). When
    /// they fit, counts them as held; when not, nothing is applied and the stream fails with the limit's
    /// error.
    pub(crate) fn admit<'d, I>(
        &mut self,
        deltas: I,
        metadata: usize,
        limits: &StreamLimits,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = Admission<'d>> + Clone,
    {
        // The common chunk: choices already known, and tool calls (if any) too, as the argument fragments
        // of a call in progress. Only the bytes count.
        let mut bytes = 0usize;
        for delta in deltas.clone() {
            let known = self.positions.find(delta.index).is_some_and(|p| {
                let calls = &self.choices[p].tool_positions;
                delta
                    .tool_calls
                    .iter()
                    .all(|c| calls.find(c.index).is_some())
            });
            if !known {
                return self.admit_new(deltas, metadata, limits);
            }
            bytes = bytes.saturating_add(delta.bytes);
        }
        self.hold(text_cost(bytes), metadata, limits)
    }

    /// [`admit`](Self::admit) for a chunk that creates choices or carries tool calls.
    fn admit_new<'d>(
        &mut self,
        deltas: impl IntoIterator<Item = Admission<'d>>,
        metadata: usize,
        limits: &StreamLimits,
    ) -> Result<(), Error> {
        let mut bytes = 0usize;
        // What this chunk would create: choices (with how many of them sit out of place), and per choice,
        // tool calls.
        let (mut new_choices, mut choices_elsewhere) = (HashSet::new(), 0);
        let mut new_calls: HashSet<(u32, u32)> = HashSet::new();
        let mut growth: HashMap<u32, NewCalls> = HashMap::new();
        for delta in deltas {
            bytes = bytes.saturating_add(delta.bytes);
            let existing = self.positions.find(delta.index).map(|p| &self.choices[p]);
            if existing.is_none() && !new_choices.contains(&delta.index) {
                let position = self.choices.len() + new_choices.len();
                if position >= limits.max_choices {
                    return Err(Error::TooManyChoices {
                        limit: limits.max_choices,
                    });
                }
                choices_elsewhere += usize::from(position != delta.index as usize);
                new_choices.insert(delta.index);
            }
            for call in delta.tool_calls {
                let known = existing.is_some_and(|c| c.tool_positions.find(call.index).is_some());
                if known || !new_calls.insert((delta.index, call.index)) {
                    continue;
                }
                let new = growth.entry(delta.index).or_default();
                let position = existing.map_or(0, |c| c.tool_calls.len()) + new.calls;
                if position >= limits.max_tool_calls {
                    return Err(Error::TooManyToolCalls {
                        limit: limits.max_tool_calls,
                    });
                }
                new.elsewhere += usize::from(position != call.index as usize);
                new.calls += 1;
            }
        }
        let choices = new_choices.len();
        let mut added = text_cost(bytes)
            .saturating_add(vec_growth::<StreamChoice>(
                self.choices.len(),
                self.choices.capacity(),
                choices,
            ))
            .saturating_add(self.positions.growth(choices, choices_elsewhere))
            .saturating_add(choices.saturating_mul(CHOICE_EXTRA));
        for (index, new) in &growth {
            let existing = self.positions.find(*index).map(|p| &self.choices[p]);
            added = added.saturating_add(calls_growth(existing, new));
        }
        self.hold(added, metadata, limits)
    }

    /// Counts `added` bytes as held, and `metadata` as the size of the metadata kept (the latest id,
    /// model, fingerprint and usage: replaced, not added up), unless that goes past the bound.
    fn hold(&mut self, added: usize, metadata: usize, limits: &StreamLimits) -> Result<(), Error> {
        let held = self.held.saturating_add(added);
        if let Some(max) = limits.max_accumulated_size {
            if held.saturating_add(metadata) > max {
                return Err(Error::AccumulatedTooLarge { limit: max });
            }
        }
        self.held = held;
        self.metadata_held = metadata;
        Ok(())
    }

    /// The bytes held so far, as [`admit`](Self::admit) counts them.
    pub(crate) fn held(&self) -> usize {
        self.held.saturating_add(self.metadata_held)
    }

    /// The size of the metadata kept (see [`hold`](Self::hold)).
    #[cfg(test)]
    pub(crate) fn metadata_held(&self) -> usize {
        self.metadata_held
    }

    /// What the metadata the accumulator keeps now costs ([`metadata_cost`]).
    pub(crate) fn metadata_kept(&self) -> usize {
        metadata_cost(
            self.id.len() + self.model.len() + self.system_fingerprint.len() + self.usage.raw_len(),
        )
    }

    /// Choice 0, the one the single-choice accessors report.
    pub(crate) fn first(&self) -> Option<&StreamChoice> {
        self.positions.find(0).map(|p| &self.choices[p])
    }
}

/// The tool calls one chunk adds to a choice, and how many of them sit out of place.
#[derive(Debug, Default)]
struct NewCalls {
    calls: usize,
    elsewhere: usize,
}

/// The bytes a choice (`None`: a new one) allocates for `new` tool calls.
fn calls_growth(choice: Option<&StreamChoice>, new: &NewCalls) -> usize {
    let (len, capacity) = choice.map_or((0, 0), |c| (c.tool_calls.len(), c.tool_calls.capacity()));
    let positions = match choice {
        Some(c) => c.tool_positions.growth(new.calls, new.elsewhere),
        None => Positions::default().growth(new.calls, new.elsewhere),
    };
    vec_growth::<ToolCall>(len, capacity, new.calls)
        .saturating_add(positions)
        .saturating_add(new.calls.saturating_mul(TOOL_CALL_EXTRA))
}

/// The capacity a `Vec` of `capacity` grows to through [`push`] to hold `needed` entries: it doubles,
/// from 1.
fn grown(capacity: usize, needed: usize) -> usize {
    let mut capacity = capacity;
    while capacity < needed {
        capacity = capacity.saturating_mul(2).max(1);
    }
    capacity
}

/// The bytes a `Vec<T>` of `len` entries in `capacity` allocates anew when `new` more are pushed through
/// [`push`].
fn vec_growth<T>(len: usize, capacity: usize, new: usize) -> usize {
    let needed = len.saturating_add(new);
    (grown(capacity, needed) - capacity).saturating_mul(std::mem::size_of::<T>())
}

/// Pushes `value` onto one of the accumulator's `Vec`s, growing it to the capacity [`grown`] names (and
/// no more: reserved exactly), which is what [`Accumulator::admit`] counted.
fn push<T>(vec: &mut Vec<T>, value: T) {
    if vec.len() == vec.capacity() {
        let capacity = grown(vec.capacity(), vec.len().saturating_add(1));
        vec.reserve_exact(capacity - vec.len());
    }
    vec.push(value);
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
        push(&mut self.indices, index);
        if position != index as usize {
            self.elsewhere.insert(index, position);
        }
        position
    }

    /// The bytes recording `new` more indices, `elsewhere` of them out of place, allocates.
    fn growth(&self, new: usize, elsewhere: usize) -> usize {
        let map = match elsewhere {
            0 => 0,
            _ if self.elsewhere.is_empty() => MAP_ROOT_COST,
            _ => 0,
        };
        vec_growth::<u32>(self.indices.len(), self.indices.capacity(), new)
            .saturating_add(map)
            .saturating_add(elsewhere.saturating_mul(MAP_ENTRY_COST))
    }
}

/// Sets `slot` to `value` when they differ, reusing the slot's allocation.
pub(crate) fn set_text(slot: &mut String, value: &str) {
    if !same(slot.as_bytes(), value.as_bytes()) {
        replace_text(slot, value);
    }
}

/// Replaces a kept text with `value`: in its allocation when the value fits with at most
/// [`kept_spare`] to spare (the usage total, replaced on every chunk, reuses its allocation), else in one
/// of exactly its size, so a large value sent once does not stay allocated behind small ones. A kept
/// text's capacity is thus never more than its length and [`kept_spare`], which
/// [`ChunkMeta::held_after`](super::wire::ChunkMeta::held_after) counts.
#[inline]
fn replace_text(slot: &mut String, value: &str) {
    let capacity = slot.capacity();
    if capacity >= value.len() && capacity - value.len() <= kept_spare(value.len()) {
        slot.clear();
        slot.push_str(value);
    } else {
        reallocate_text(slot, value);
    }
}

#[cold]
#[inline(never)]
fn reallocate_text(slot: &mut String, value: &str) {
    *slot = value.to_owned();
}

/// The most a kept text (id, model, fingerprint, usage) of `len` bytes may have allocated beyond its
/// length: an eighth of it and [`KEPT_SPARE`] bytes.
#[inline]
fn kept_spare(len: usize) -> usize {
    len / 8 + KEPT_SPARE
}

/// The bytes a kept text may have allocated beyond its length and an eighth of it.
const KEPT_SPARE: usize = 64;

/// What the four kept texts (id, model, fingerprint, usage) cost against the accumulation bound, given
/// the sum of their lengths: the lengths and the spare their allocations may have beyond them (an eighth
/// and [`KEPT_SPARE`] each; the eighths of the four add up to at most the eighth of their total).
pub(crate) fn metadata_cost(total_len: usize) -> usize {
    total_len + total_len / 8 + 4 * KEPT_SPARE
}

/// Byte equality without a call into the C library: the ids and model names compared on every chunk are
/// a few dozen bytes, for which `memcmp`'s call and vector setup cost more than the comparison.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::stream::ChatStream;

    /// The bookkeeping as allocated: the capacities of the `Vec`s, the maps at the cost counted for them.
    fn allocated(acc: &Accumulator) -> usize {
        let positions = |p: &Positions| {
            p.indices.capacity() * 4 + Positions::default().growth(0, p.elsewhere.len())
        };
        let calls: usize = acc
            .choices
            .iter()
            .map(|c| {
                c.tool_calls.capacity() * std::mem::size_of::<ToolCall>()
                    + c.tool_calls.len() * TOOL_CALL_EXTRA
                    + positions(&c.tool_positions)
            })
            .sum();
        acc.choices.capacity() * std::mem::size_of::<StreamChoice>()
            + acc.choices.len() * CHOICE_EXTRA
            + positions(&acc.positions)
            + calls
    }

    /// An event's choices: each an index and the indices of its tool-call fragments.
    type Event = Vec<(u32, Vec<u32>)>;

    /// One event: each choice a delta of tool-call fragments (indices only: no text).
    fn event(choices: &[(u32, Vec<u32>)]) -> String {
        let choices: Vec<String> = choices
            .iter()
            .map(|(index, calls)| {
                let calls: Vec<String> =
                    calls.iter().map(|c| format!("{{\"index\":{c}}}")).collect();
                format!(
                    "{{\"index\":{index},\"delta\":{{\"tool_calls\":[{}]}}}}",
                    calls.join(",")
                )
            })
            .collect();
        format!("data: {{\"choices\":[{}]}}\n\n", choices.join(","))
    }

    #[test]
    fn the_bound_counts_the_bookkeeping_as_it_is_allocated() {
        let shapes: Vec<Vec<Event>> = vec![
            // One call, then more in order, one event at a time.
            (0..40).map(|t| vec![(0, vec![t])]).collect(),
            // Calls out of order, and the same ones again.
            vec![
                vec![(0, (0..100).rev().collect())],
                vec![(0, (0..100).collect())],
                vec![(0, vec![1_000_000, 5, 1_000_000])],
            ],
            // Choices out of order, calls from far away, two deltas of one choice in one event.
            vec![
                vec![(7, vec![3, 2]), (7, vec![2, 9]), (2, vec![])],
                vec![(0, (1_000..1_513).collect()), (1_000, vec![0])],
            ],
            // Many choices in one event, then more.
            vec![
                (0..300).map(|c| (c, vec![0])).collect(),
                (300..700).map(|c| (c * 3, vec![])).collect(),
            ],
        ];
        for events in shapes {
            let body: String = events.iter().map(|e| event(e)).collect();
            let mut stream = ChatStream::from_reader(body.as_bytes());
            stream.by_ref().for_each(drop);
            assert!(!stream.acc.choices.is_empty());
            // No text: what is held beyond the (empty) metadata is the bookkeeping.
            let bookkeeping = stream.acc.held() - stream.acc.metadata_held();
            assert_eq!(bookkeeping, allocated(&stream.acc), "{events:?}");
        }
    }

    /// A few pseudo-random sizes, some around powers of two.
    fn sizes(seed: u64, n: usize) -> Vec<usize> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 4 {
                    0 => (x >> 8) as usize % 8,
                    1 => (x >> 8) as usize % 300,
                    2 => 1 << ((x >> 8) % 14),
                    _ => (1 << ((x >> 8) % 14)) + 1,
                }
            })
            .collect()
    }

    #[test]
    fn an_accumulated_text_never_allocates_more_than_its_cost() {
        for seed in 1..200u64 {
            let mut text = String::new();
            let mut counted = 0usize;
            for size in sizes(seed, 60) {
                append(&mut text, &"x".repeat(size));
                counted += text_cost(size);
                assert!(
                    text.capacity() <= counted,
                    "seed {seed}: {} > {counted}",
                    text.capacity()
                );
                assert!(
                    text.capacity() <= text.len() + text.len() / 8,
                    "seed {seed}: capacity {} for {} bytes",
                    text.capacity(),
                    text.len()
                );
            }
        }
    }

    #[test]
    fn a_kept_text_never_allocates_more_than_its_length_and_spare() {
        for seed in 1..200u64 {
            let mut slot = String::new();
            for size in sizes(seed, 60) {
                let value = "y".repeat(size);
                let before = slot.capacity();
                replace_text(&mut slot, &value);
                assert_eq!(slot, value);
                assert!(slot.capacity() <= size + kept_spare(size), "seed {seed}");
                // The allocation is kept when it is within the spare, replaced otherwise.
                if before >= size && before - size <= kept_spare(size) {
                    assert_eq!(slot.capacity(), before, "seed {seed}");
                } else {
                    assert_eq!(slot.capacity(), size, "seed {seed}");
                }
            }
        }
        // A large value, then a small one: the large allocation goes.
        let mut slot = "z".repeat(1 << 20);
        set_text(&mut slot, "small");
        assert_eq!((slot.as_str(), slot.capacity()), ("small", 5));
    }

    #[test]
    fn the_accumulator_grows_by_doubling_from_one() {
        assert_eq!(grown(0, 0), 0);
        assert_eq!(grown(0, 1), 1);
        assert_eq!(grown(1, 2), 2);
        assert_eq!(grown(4, 5), 8);
        assert_eq!(grown(3, 513), 768);
        assert_eq!(grown(usize::MAX / 2 + 1, usize::MAX), usize::MAX);
        let mut vec = Vec::new();
        for n in 1..=100u32 {
            let before = vec.capacity();
            let counted = vec_growth::<u32>(vec.len(), before, 1);
            push(&mut vec, n);
            assert_eq!(vec.capacity(), grown(before, n as usize));
            assert_eq!((vec.capacity() - before) * 4, counted);
        }
    }
}
