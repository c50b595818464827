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
    /// Empties the delta in place, releasing what it owns (a fresh one moved into place costs a `memcpy`
    /// call). Its tool-call fragments go too: the parser builds a new `Vec` for every delta that has some,
    /// so a kept one would only be memory held for nothing.
    fn reset(&mut self) {
        self.index = 0;
        self.choice = 0;
        self.role = None;
        self.content = None;
        self.reasoning_content = None;
        self.tool_calls = Vec::new();
        self.finish_reason = None;
        self.logprobs = None;
    }
}

/// The deltas of one chunk, in slots reused from chunk to chunk: a slot is reset in place, not dropped
/// and built again (moving a delta into or out of a `Vec` is a `memcpy` call each way, on every chunk).
///
/// A slot is reset as it leaves the deltas ([`clear`](Self::clear), [`truncate`](Self::truncate)), so the
/// slots past [`len`](Self::len) own nothing: what a chunk's deltas held is released when they are
/// dropped, not kept until another chunk as wide reuses their slots.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    slots: Vec<WireDelta>,
    len: usize,
}

impl Deltas {
    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `len` deltas; the others are reset.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.len {
            for slot in &mut self.slots[len..self.len] {
                slot.reset();
            }
            self.len = len;
        }
    }

    /// A new, empty delta at the end.
    pub(crate) fn push_slot(&mut self) -> &mut WireDelta {
        if self.len == self.slots.len() {
            self.slots.push(WireDelta::default());
        }
        self.len += 1;
        // Empty already: the slots past `len` were reset as they left.
        &mut self.slots[self.len - 1]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_emptied_as_they_leave() {
        let mut deltas = Deltas::default();
        for _ in 0..3 {
            let slot = deltas.push_slot();
            slot.tool_calls = vec![ToolCallDelta::default(); 100];
            slot.role = Some(Role::Assistant);
        }
        deltas.truncate(1);
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas.as_slice()[0].tool_calls.len(), 100);
        assert!(deltas
            .slots
            .iter()
            .skip(1)
            .all(|s| s.tool_calls.capacity() == 0 && s.role.is_none()));
        deltas.clear();
        assert!(deltas.slots.iter().all(|s| s.tool_calls.capacity() == 0));
        // A slot taken again is empty.
        assert!(deltas.push_slot().tool_calls.is_empty());
    }
}
