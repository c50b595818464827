//! Parsing one chunk: the event's JSON, straight from the buffer it lies in, into [`WireDelta`]s.
//!
//! Nothing is copied: a string is a [`Span`] of the event (or, when it has escapes, of the scratch buffer
//! it is unescaped into), and the deltas are built in place in a buffer the stream reuses, so parsing a
//! chunk allocates nothing in the common case. The reading is as lenient as openai-python's (Python's
//! `json`): a key given twice keeps its last value, and a lone UTF-16 surrogate escape becomes U+FFFD (see
//! [`Text`]). It is also bounded: a
//! chunk with more choice entries than `max_choices`, or more tool-call fragments than `max_tool_calls`
//! (all its choices together), is refused as soon as the parser reaches the entry past the bound, before
//! anything is built for it.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::accumulator::{metadata_cost, set_text, Accumulator};
use super::parsed::{Deltas, WireDelta};
use super::piece::{RawSpanSeed, Span, SpanSeed};
use super::tool_wire::ToolCallsSeed;
use crate::chat::response::FinishReason;
use crate::limits::StreamLimits;
use crate::raw::RawJson;
use crate::serde_util::Text;

/// What a parsed event turned out to be.
pub(crate) enum ChunkKind<'a> {
    /// A chunk, with its metadata to apply once the whole chunk has parsed.
    Chunk(ChunkMeta<'a>),
    /// An error object (`{"error":…}`, or `code`+`message` without `choices`).
    Error,
}

/// Why a chunk could not be read.
pub(crate) enum ChunkFailure {
    /// It is not chunk JSON.
    Json(serde_json::Error),
    /// It has more choice entries than the bound.
    TooManyChoices,
    /// Its deltas have more tool-call fragments than the bound, all together.
    TooManyToolCalls,
}

/// The bounds one chunk is read within, and what it has used of them so far.
pub(crate) struct Bounds {
    max_choices: usize,
    max_tool_calls: usize,
    /// The tool-call fragments the chunk's deltas hold so far, all choices together.
    fragments: usize,
    /// Why the chunk was refused, when a bound stopped it.
    refused: Option<ChunkFailure>,
}

impl Bounds {
    fn new(limits: &StreamLimits) -> Self {
        Bounds {
            max_choices: limits.max_choices,
            max_tool_calls: limits.max_tool_calls,
            fragments: 0,
            refused: None,
        }
    }

    /// Counts one more fragment; `false` when that is one past the bound (the chunk is then refused).
    pub(crate) fn fragment(&mut self) -> bool {
        if self.fragments >= self.max_tool_calls {
            self.refused = Some(ChunkFailure::TooManyToolCalls);
            return false;
        }
        self.fragments += 1;
        true
    }

    /// Stops counting `n` fragments that were read and then dropped (a key given twice keeps its last
    /// value).
    pub(crate) fn forget(&mut self, n: usize) {
        self.fragments = self.fragments.saturating_sub(n);
    }
}

/// The buffers one chunk is parsed into, reused from chunk to chunk.
pub(crate) struct Buffers<'s> {
    /// A delta per choice is pushed here (nothing stays on failure).
    pub deltas: &'s mut Deltas,
    /// Texts with escapes, unescaped.
    pub scratch: &'s mut String,
}

/// Parses one chunk.
pub(crate) fn parse_chunk<'a>(
    data: &'a str,
    into: Buffers<'_>,
    limits: &StreamLimits,
) -> Result<ChunkKind<'a>, ChunkFailure> {
    let Buffers { deltas, scratch } = into;
    if let Some(meta) = super::fast::parse(data, deltas, scratch, limits) {
        return Ok(ChunkKind::Chunk(meta));
    }
    parse_chunk_general(data, Buffers { deltas, scratch }, limits)
}

/// Parses one chunk with `serde_json` throughout: the general path, which decides whatever the fast path
/// (`fast`) leaves to it.
pub(super) fn parse_chunk_general<'a>(
    data: &'a str,
    into: Buffers<'_>,
    limits: &StreamLimits,
) -> Result<ChunkKind<'a>, ChunkFailure> {
    let Buffers { deltas, scratch } = into;
    let before = deltas.len();
    let mut bounds = Bounds::new(limits);
    let mut deserializer = serde_json::Deserializer::from_str(data);
    let parsed = ChunkSeed {
        deltas: &mut *deltas,
        texts: Texts {
            data,
            scratch,
            raw: false,
        },
        before,
        bounds: &mut bounds,
    }
    .deserialize(&mut deserializer)
    .and_then(|kind| deserializer.end().map(|()| kind));
    match parsed {
        Ok(kind) => Ok(kind),
        Err(error) => {
            deltas.truncate(before);
            Err(bounds.refused.unwrap_or(ChunkFailure::Json(error)))
        }
    }
}

/// Reads a `choices` array, `text` (a slice of the event's `data`), into `deltas` as the general path does;
/// `None` on any failure (the general path then reads the whole chunk again and reports it).
pub(super) fn parse_choices(
    data: &str,
    text: &str,
    deltas: &mut Deltas,
    scratch: &mut String,
    limits: &StreamLimits,
) -> Option<()> {
    let mut bounds = Bounds::new(limits);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    ChoicesSeed {
        deltas,
        texts: Texts {
            data,
            scratch,
            raw: true,
        },
        bounds: &mut bounds,
    }
    .deserialize(&mut deserializer)
    .ok()?;
    deserializer.end().ok()
}

/// Where texts are read from and unescaped into.
struct Texts<'s, 'de> {
    data: &'de str,
    scratch: &'s mut String,
    /// Read strings strictly, raw, and unescape them here (the fast path's choices: see `RawSpanSeed`).
    raw: bool,
}

impl<'de> Texts<'_, 'de> {
    /// The next value, an optional string, as a span.
    fn next<A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<Option<Span>, A::Error> {
        if self.raw {
            return map.next_value_seed(RawSpanSeed {
                data: self.data,
                scratch: &mut *self.scratch,
            });
        }
        map.next_value_seed(SpanSeed {
            data: self.data,
            scratch: &mut *self.scratch,
        })
    }

    fn reborrow(&mut self) -> Texts<'_, 'de> {
        Texts {
            data: self.data,
            scratch: &mut *self.scratch,
            raw: self.raw,
        }
    }
}

/// A chunk's metadata, applied only when the chunk as a whole is valid.
#[derive(Default)]
pub(crate) struct ChunkMeta<'a> {
    pub(super) id: Option<Span>,
    pub(super) model: Option<Span>,
    pub(super) system_fingerprint: Option<Span>,
    pub(super) created: Option<u64>,
    /// The usage object's text.
    pub(super) usage: Option<&'a str>,
}

impl ChunkMeta<'_> {
    /// What the metadata the accumulator keeps costs once this chunk is applied ([`metadata_cost`]): the
    /// four fields, the new value where this chunk sets one.
    pub(crate) fn held_after(&self, acc: &Accumulator) -> usize {
        let len = |new: &Option<Span>, old: &str| new.as_ref().map_or(old.len(), Span::len);
        metadata_cost(
            len(&self.id, &acc.id)
                + len(&self.model, &acc.model)
                + len(&self.system_fingerprint, &acc.system_fingerprint)
                + self.usage.map_or(acc.usage.raw_len(), str::len),
        )
    }

    /// Applies the metadata; `data` and `scratch` are what the chunk was parsed from and into.
    pub(crate) fn apply(self, acc: &mut Accumulator, event: u64, data: &str, scratch: &str) {
        if let Some(id) = self.id {
            set_text(&mut acc.id, id.text(data, scratch));
        }
        if let Some(model) = self.model {
            set_text(&mut acc.model, model.text(data, scratch));
        }
        if let Some(fp) = self.system_fingerprint {
            set_text(&mut acc.system_fingerprint, fp.text(data, scratch));
        }
        if let Some(created) = self.created {
            acc.created = created;
        }
        if let Some(usage) = self.usage {
            acc.usage.set_raw(usage, event);
        }
    }
}

/// Deserializes one chunk object.
struct ChunkSeed<'s, 'de> {
    deltas: &'s mut Deltas,
    texts: Texts<'s, 'de>,
    /// Where this chunk's deltas start.
    before: usize,
    bounds: &'s mut Bounds,
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

impl<'de> DeserializeSeed<'de> for ChunkSeed<'_, 'de> {
    type Value = ChunkKind<'de>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<ChunkKind<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed<'_, 'de> {
    type Value = ChunkKind<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat completion chunk object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<ChunkKind<'de>, A::Error> {
        let (mut error, mut code, mut message, mut choices) = (false, false, false, false);
        let mut meta = ChunkMeta::default();
        while let Some(field) = map.next_key::<ChunkField>()? {
            match field {
                ChunkField::Id => meta.id = self.texts.next(&mut map)?,
                ChunkField::Model => meta.model = self.texts.next(&mut map)?,
                ChunkField::SystemFingerprint => {
                    meta.system_fingerprint = self.texts.next(&mut map)?
                }
                ChunkField::Created => meta.created = map.next_value()?,
                ChunkField::Choices => {
                    // A second `choices` replaces the first, as in Python's `json`.
                    choices = true;
                    self.deltas.truncate(self.before);
                    self.bounds.fragments = 0;
                    map.next_value_seed(ChoicesSeed {
                        deltas: &mut *self.deltas,
                        texts: self.texts.reborrow(),
                        bounds: &mut *self.bounds,
                    })?;
                }
                ChunkField::Usage => {
                    meta.usage = map.next_value::<Option<&RawValue>>()?.map(RawValue::get);
                }
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

/// Deserializes `choices` (an array, or `null`) straight into deltas, at most `max_choices` of them.
struct ChoicesSeed<'s, 'de> {
    deltas: &'s mut Deltas,
    texts: Texts<'s, 'de>,
    bounds: &'s mut Bounds,
}

impl<'de> DeserializeSeed<'de> for ChoicesSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ChoicesSeed<'_, 'de> {
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

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut entries = 0;
        loop {
            if entries == self.bounds.max_choices {
                // One more entry is one too many; the array's end is fine.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    self.bounds.refused = Some(ChunkFailure::TooManyChoices);
                    return Err(serde::de::Error::custom("too many choices"));
                }
                return Ok(());
            }
            let seed = ChoiceSeed {
                deltas: &mut *self.deltas,
                texts: self.texts.reborrow(),
                bounds: &mut *self.bounds,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            entries += 1;
        }
    }
}

/// Deserializes one choice into a new slot of `deltas` (taken only when there is a choice to read).
struct ChoiceSeed<'s, 'de> {
    deltas: &'s mut Deltas,
    texts: Texts<'s, 'de>,
    bounds: &'s mut Bounds,
}

impl<'de> DeserializeSeed<'de> for ChoiceSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(ChoiceVisitor {
            delta: self.deltas.push_slot(),
            texts: self.texts,
            bounds: self.bounds,
        })
    }
}

/// Deserializes one choice into `delta`.
struct ChoiceVisitor<'s, 'de> {
    delta: &'s mut WireDelta,
    texts: Texts<'s, 'de>,
    bounds: &'s mut Bounds,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChoiceField {
    Index,
    Delta,
    /// A legacy or fill-in-the-middle completion chunk (`POST /completions`) carries its text here.
    Text,
    FinishReason,
    Logprobs,
    #[serde(other)]
    Other,
}

impl<'de> Visitor<'de> for ChoiceVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a choice object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key::<ChoiceField>()? {
            match field {
                ChoiceField::Index => {
                    self.delta.index = map.next_value::<Option<u32>>()?.unwrap_or(0);
                }
                ChoiceField::Delta => {
                    map.next_value_seed(DeltaSeed {
                        delta: &mut *self.delta,
                        texts: self.texts.reborrow(),
                        bounds: &mut *self.bounds,
                    })?;
                }
                ChoiceField::Text => self.delta.content = non_empty(self.texts.next(&mut map)?),
                ChoiceField::FinishReason => {
                    self.delta.finish_reason = map
                        .next_value::<Option<Text<'de>>>()?
                        .filter(|t| !t.0.is_empty())
                        .map(|t| FinishReason::from(&*t.0));
                }
                ChoiceField::Logprobs => {
                    self.delta.logprobs = map
                        .next_value::<Option<&'de RawValue>>()?
                        .map(RawJson::from_raw);
                }
                ChoiceField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Deserializes a `delta` object (or `null`) into `delta`, replacing what an earlier `delta` key of the
/// same choice set.
struct DeltaSeed<'s, 'de> {
    delta: &'s mut WireDelta,
    texts: Texts<'s, 'de>,
    bounds: &'s mut Bounds,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum DeltaField {
    Role,
    Content,
    ReasoningContent,
    Reasoning,
    ToolCalls,
    #[serde(other)]
    Other,
}

impl DeltaSeed<'_, '_> {
    /// Clears the parts a `delta` object sets.
    fn reset(&mut self) {
        self.delta.role = None;
        self.delta.content = None;
        self.delta.reasoning_content = None;
        self.drop_tool_calls();
    }

    /// Drops the delta's tool-call fragments (a second `delta` or `tool_calls` key replaces them), which
    /// then no longer count against the chunk's bound.
    fn drop_tool_calls(&mut self) {
        self.bounds.forget(self.delta.tool_calls.len());
        self.delta.tool_calls = Vec::new();
    }
}

impl<'de> DeserializeSeed<'de> for DeltaSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DeltaSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a delta object")
    }

    fn visit_none<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.reset();
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.reset();
        let mut reasoning = None;
        while let Some(field) = map.next_key::<DeltaField>()? {
            match field {
                DeltaField::Role => self.delta.role = map.next_value()?,
                DeltaField::Content => self.delta.content = non_empty(self.texts.next(&mut map)?),
                DeltaField::ReasoningContent => {
                    self.delta.reasoning_content = non_empty(self.texts.next(&mut map)?)
                }
                DeltaField::Reasoning => reasoning = non_empty(self.texts.next(&mut map)?),
                DeltaField::ToolCalls => {
                    self.drop_tool_calls();
                    self.delta.tool_calls = map.next_value_seed(ToolCallsSeed {
                        bounds: &mut *self.bounds,
                    })?;
                }
                DeltaField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // One field or the other, never both: a server sending both sends the same text twice.
        if self.delta.reasoning_content.is_none() {
            self.delta.reasoning_content = reasoning;
        }
        Ok(())
    }
}

/// A text field as the caller gets it: `None` when absent, `null` or `""`.
fn non_empty(span: Option<Span>) -> Option<Span> {
    span.filter(|s| s.len() > 0)
}
