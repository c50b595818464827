//! Parsing one chunk: the event's JSON, straight from the decoder's buffer, into [`ChatDelta`]s.
//!
//! Strings are borrowed from the event where they have no escapes; the only allocations are the texts
//! handed out. The reading is as lenient as openai-python's (Python's `json`): a key given twice keeps its
//! last value, and a lone UTF-16 surrogate escape becomes U+FFFD (see [`Text`]). It is also bounded: a
//! chunk with more choice entries than `max_choices`, or a delta with more tool-call fragments than
//! `max_tool_calls`, is refused as soon as the parser reaches the entry past the bound, before anything is
//! built for it.

use std::collections::VecDeque;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::accumulator::{set_text, Accumulator};
use super::delta::{ChatDelta, FunctionCallDelta, ToolCallDelta};
use crate::chat::request::Role;
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
    /// One of its deltas has more tool-call fragments than the bound.
    TooManyToolCalls,
}

/// Parses one chunk, pushing a delta per choice onto `pending` (nothing stays there on failure).
pub(crate) fn parse_chunk<'a>(
    data: &'a str,
    pending: &mut VecDeque<ChatDelta>,
    limits: &StreamLimits,
) -> Result<ChunkKind<'a>, ChunkFailure> {
    let before = pending.len();
    let mut refused = None;
    let mut deserializer = serde_json::Deserializer::from_str(data);
    let parsed = ChunkSeed {
        pending: &mut *pending,
        before,
        limits,
        refused: &mut refused,
    }
    .deserialize(&mut deserializer)
    .and_then(|kind| deserializer.end().map(|()| kind));
    match parsed {
        Ok(kind) => Ok(kind),
        Err(error) => {
            pending.truncate(before);
            Err(refused.unwrap_or(ChunkFailure::Json(error)))
        }
    }
}

/// A chunk's metadata, borrowed from the event, applied only when the chunk as a whole is valid.
#[derive(Default)]
pub(crate) struct ChunkMeta<'a> {
    id: Option<Text<'a>>,
    model: Option<Text<'a>>,
    system_fingerprint: Option<Text<'a>>,
    created: Option<u64>,
    usage: Option<&'a RawValue>,
}

impl ChunkMeta<'_> {
    pub(crate) fn apply(self, acc: &mut Accumulator, event: u64) {
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

/// Deserializes one chunk object.
struct ChunkSeed<'s> {
    pending: &'s mut VecDeque<ChatDelta>,
    /// Where this chunk's deltas start in `pending`.
    before: usize,
    limits: &'s StreamLimits,
    refused: &'s mut Option<ChunkFailure>,
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
                    // A second `choices` replaces the first, as in Python's `json`.
                    choices = true;
                    self.pending.truncate(self.before);
                    map.next_value_seed(ChoicesSeed {
                        pending: &mut *self.pending,
                        limits: self.limits,
                        refused: &mut *self.refused,
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

/// Deserializes `choices` (an array, or `null`) straight into deltas, at most `max_choices` of them.
struct ChoicesSeed<'s> {
    pending: &'s mut VecDeque<ChatDelta>,
    limits: &'s StreamLimits,
    refused: &'s mut Option<ChunkFailure>,
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
        let mut entries = 0;
        loop {
            if entries == self.limits.max_choices {
                // One more entry is one too many; the array's end is fine.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    *self.refused = Some(ChunkFailure::TooManyChoices);
                    return Err(serde::de::Error::custom("too many choices"));
                }
                return Ok(());
            }
            let seed = ChoiceSeed {
                limits: self.limits,
                refused: &mut *self.refused,
            };
            match seq.next_element_seed(seed)? {
                Some(delta) => self.pending.push_back(delta),
                None => return Ok(()),
            }
            entries += 1;
        }
    }
}

/// Deserializes one choice into a [`ChatDelta`].
struct ChoiceSeed<'s> {
    limits: &'s StreamLimits,
    refused: &'s mut Option<ChunkFailure>,
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

impl<'de> DeserializeSeed<'de> for ChoiceSeed<'_> {
    type Value = ChatDelta;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ChatDelta, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChoiceSeed<'_> {
    type Value = ChatDelta;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a choice object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChatDelta, A::Error> {
        let mut out = ChatDelta::default();
        while let Some(field) = map.next_key::<ChoiceField>()? {
            match field {
                ChoiceField::Index => out.index = map.next_value::<Option<u32>>()?.unwrap_or(0),
                ChoiceField::Delta => {
                    let delta = map.next_value_seed(DeltaSeed {
                        limits: self.limits,
                        refused: &mut *self.refused,
                    })?;
                    out.role = delta.role;
                    out.content = delta.content;
                    out.reasoning_content = delta.reasoning_content;
                    out.tool_calls = delta.tool_calls;
                }
                ChoiceField::Text => {
                    out.content = non_empty(map.next_value()?);
                }
                ChoiceField::FinishReason => {
                    out.finish_reason = map
                        .next_value::<Option<Text<'de>>>()?
                        .filter(|t| !t.0.is_empty())
                        .map(|t| FinishReason::from(&*t.0));
                }
                ChoiceField::Logprobs => {
                    out.logprobs = map
                        .next_value::<Option<&'de RawValue>>()?
                        .map(RawJson::from_raw);
                }
                ChoiceField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The parts of a choice's `delta` object.
#[derive(Default)]
struct DeltaParts {
    role: Option<Role>,
    content: Option<String>,
    reasoning_content: Option<String>,
    tool_calls: Vec<ToolCallDelta>,
}

/// Deserializes a `delta` object (or `null`).
struct DeltaSeed<'s> {
    limits: &'s StreamLimits,
    refused: &'s mut Option<ChunkFailure>,
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

impl<'de> DeserializeSeed<'de> for DeltaSeed<'_> {
    type Value = DeltaParts;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DeltaParts, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DeltaSeed<'_> {
    type Value = DeltaParts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a delta object")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<DeltaParts, E> {
        Ok(DeltaParts::default())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<DeltaParts, E> {
        Ok(DeltaParts::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<DeltaParts, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeltaParts, A::Error> {
        let mut parts = DeltaParts::default();
        let mut reasoning = None;
        while let Some(field) = map.next_key::<DeltaField>()? {
            match field {
                DeltaField::Role => parts.role = map.next_value()?,
                DeltaField::Content => parts.content = non_empty(map.next_value()?),
                DeltaField::ReasoningContent => {
                    parts.reasoning_content = non_empty(map.next_value()?)
                }
                DeltaField::Reasoning => reasoning = non_empty(map.next_value()?),
                DeltaField::ToolCalls => {
                    parts.tool_calls = map.next_value_seed(ToolCallsSeed {
                        limits: self.limits,
                        refused: &mut *self.refused,
                    })?;
                }
                DeltaField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // One field or the other, never both: a server sending both sends the same text twice.
        if parts.reasoning_content.is_none() {
            parts.reasoning_content = reasoning;
        }
        Ok(parts)
    }
}

/// A text field as the caller gets it: `None` when absent, `null` or `""`; the one allocation per text.
fn non_empty(text: Option<Text<'_>>) -> Option<String> {
    text.and_then(Text::non_empty)
}

/// Deserializes `tool_calls` (an array, or `null`), at most `max_tool_calls` fragments.
struct ToolCallsSeed<'s> {
    limits: &'s StreamLimits,
    refused: &'s mut Option<ChunkFailure>,
}

impl<'de> DeserializeSeed<'de> for ToolCallsSeed<'_> {
    type Value = Vec<ToolCallDelta>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<ToolCallDelta>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ToolCallsSeed<'_> {
    type Value = Vec<ToolCallDelta>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tool calls")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Vec<ToolCallDelta>, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<ToolCallDelta>, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<ToolCallDelta>, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<ToolCallDelta>, A::Error> {
        let mut calls = Vec::new();
        loop {
            if calls.len() == self.limits.max_tool_calls {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    *self.refused = Some(ChunkFailure::TooManyToolCalls);
                    return Err(serde::de::Error::custom("too many tool calls"));
                }
                return Ok(calls);
            }
            match seq.next_element::<ToolCallWire<'de>>()? {
                // Servers that omit `index` send one call per position.
                Some(call) => {
                    let position = calls.len() as u32;
                    calls.push(call.into_delta(position));
                }
                None => return Ok(calls),
            }
        }
    }
}

/// One tool-call fragment; a key given twice keeps its last value.
struct ToolCallWire<'a> {
    index: Option<u32>,
    id: Option<Text<'a>>,
    kind: Option<Text<'a>>,
    function: Option<FunctionWire<'a>>,
}

impl ToolCallWire<'_> {
    fn into_delta(self, position: u32) -> ToolCallDelta {
        ToolCallDelta {
            index: self.index.unwrap_or(position),
            id: self.id.map(|t| t.0.into_owned()),
            kind: self.kind.map(|t| t.0.into_owned()),
            function: self.function.map(|f| FunctionCallDelta {
                name: f.name.map(|t| t.0.into_owned()),
                arguments: f.arguments.map(|t| t.0.into_owned()),
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ToolCallField {
    Index,
    Id,
    #[serde(rename = "type")]
    Kind,
    Function,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolCallWire<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ToolCallWire<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool call object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut call = ToolCallWire {
                    index: None,
                    id: None,
                    kind: None,
                    function: None,
                };
                while let Some(field) = map.next_key::<ToolCallField>()? {
                    match field {
                        ToolCallField::Index => call.index = map.next_value()?,
                        ToolCallField::Id => call.id = map.next_value()?,
                        ToolCallField::Kind => call.kind = map.next_value()?,
                        ToolCallField::Function => call.function = map.next_value()?,
                        ToolCallField::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(call)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The `function` of a tool-call fragment; a key given twice keeps its last value.
struct FunctionWire<'a> {
    name: Option<Text<'a>>,
    arguments: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum FunctionField {
    Name,
    Arguments,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for FunctionWire<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FunctionWire<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a function object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut function = FunctionWire {
                    name: None,
                    arguments: None,
                };
                while let Some(field) = map.next_key::<FunctionField>()? {
                    match field {
                        FunctionField::Name => function.name = map.next_value()?,
                        FunctionField::Arguments => function.arguments = map.next_value()?,
                        FunctionField::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(function)
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}
