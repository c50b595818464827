//! [`WireDelta`]: one choice's delta as parsed, and [`Deltas`], the slots the stream keeps them in.

use super::delta::ToolCallDelta;
use super::piece::Span;
use crate::chat::request::Role;
use crate::chat::response::FinishReason;
use crate::raw::RawJson;

/// One choice's delta as parsed: its texts are [`Span`]s of the event (or of the scratch buffer), and once
/// accumulated, of the choice's accumulated text.
#[derive(Debug, Default)]
pub(crate) struct WireDelta {
    pub index: u32,
    /// The position of its choice in the accumulator, once applied.
    pub choice: usize,
    pub role: Option<Role>,
    pub content: Option<Span>,
    pub reasoning_content: Option<Span>,
    pub tool_calls: Vec<ToolCallDelta>,
    pub finish_reason: Option<FinishReason>,
    pub logprobs: Option<RawJson>,
}

impl WireDelta {
    /// The bytes this delta adds to what a stream holds (see `ChatDelta::held_bytes`).
    pub(crate) fn held_bytes(&self) -> usize {
        let len = |span: &Option<Span>| span.as_ref().map_or(0, Span::len);
        len(&self.content)
            + len(&self.reasoning_content)
            + super::delta::tool_call_bytes(&self.tool_calls)
            + self.role.as_ref().map_or(0, Role::held_len)
            + self
                .finish_reason
                .as_ref()
                .map_or(0, FinishReason::held_len)
    }
}

impl WireDelta {
    /// Empties the delta in place, keeping what it has allocated (a fresh one moved into place costs a
    /// `memcpy` call).
    fn reset(&mut self) {
        self.index = 0;
        self.choice = 0;
        self.role = None;
        self.content = None;
        self.reasoning_content = None;
        self.tool_calls.clear();
        self.finish_reason = None;
        self.logprobs = None;
    }
}

/// The deltas of one chunk, in slots reused from chunk to chunk: a slot is reset in place, not dropped
/// and built again (moving a delta into or out of a `Vec` is a `memcpy` call each way, on every chunk).
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    slots: Vec<WireDelta>,
    len: usize,
}

impl Deltas {
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// A new, empty delta at the end.
    pub(crate) fn push_slot(&mut self) -> &mut WireDelta {
        if self.len == self.slots.len() {
            self.slots.push(WireDelta::default());
        }
        self.len += 1;
        let slot = &mut self.slots[self.len - 1];
        slot.reset();
        slot
    }

    pub(crate) fn push(&mut self, delta: WireDelta) {
        *self.push_slot() = delta;
    }

    pub(crate) fn as_slice(&self) -> &[WireDelta] {
        &self.slots[..self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [WireDelta] {
        &mut self.slots[..self.len]
    }
}
