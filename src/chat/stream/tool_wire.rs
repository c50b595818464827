//! Parsing a delta's `tool_calls`: the fragments of streamed tool calls, at most `max_tool_calls` per delta,
//! a key given twice keeping its last value.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::delta::{FunctionCallDelta, ToolCallDelta};
use super::wire::ChunkFailure;
use crate::limits::StreamLimits;
use crate::serde_util::Text;

/// Deserializes `tool_calls` (an array, or `null`), at most `max_tool_calls` fragments.
pub(crate) struct ToolCallsSeed<'s> {
    pub limits: &'s StreamLimits,
    pub refused: &'s mut Option<ChunkFailure>,
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
