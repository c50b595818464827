//! Parsing a delta's `tool_calls`: the fragments of streamed tool calls, at most `max_tool_calls` in one
//! chunk (all its deltas together), a key given twice keeping its last value.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::delta::{FunctionCallDelta, ToolCallDelta};
use super::wire::Bounds;
use crate::serde_util::Text;

/// Deserializes `tool_calls` (an array, or `null`), counting its fragments against the chunk's bound.
pub(crate) struct ToolCallsSeed<'s> {
    pub bounds: &'s mut Bounds,
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
        let bounds = self.bounds;
        let mut calls = Vec::new();
        loop {
            match seq.next_element_seed(FragmentSeed {
                bounds: &mut *bounds,
            })? {
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

/// Deserializes one fragment, once the chunk's bound allows one more: a fragment past it is refused
/// before anything is read or built for it (the array's end is fine).
struct FragmentSeed<'s> {
    bounds: &'s mut Bounds,
}

impl<'de> DeserializeSeed<'de> for FragmentSeed<'_> {
    type Value = ToolCallWire<'de>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<ToolCallWire<'de>, D::Error> {
        if !self.bounds.fragment() {
            return Err(serde::de::Error::custom("too many tool calls"));
        }
        ToolCallWire::deserialize(deserializer)
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

#[cfg(test)]
mod tests {
    use super::super::parsed::Deltas;
    use super::super::wire::{parse_chunk, parse_chunk_general, Buffers, ChunkFailure, ChunkKind};
    use crate::limits::StreamLimits;

    /// `n` fragments `{"index":i}`.
    fn fragments(n: usize) -> String {
        let calls: Vec<String> = (0..n).map(|i| format!("{{\"index\":{i}}}")).collect();
        format!("[{}]", calls.join(","))
    }

    /// The fragments each delta of the chunk holds, or which bound refused it.
    fn read(data: &str, general: bool) -> Result<Vec<usize>, &'static str> {
        let (mut deltas, mut scratch) = (Deltas::default(), String::new());
        let into = Buffers {
            deltas: &mut deltas,
            scratch: &mut scratch,
        };
        let limits = StreamLimits::default().max_tool_calls(1000);
        let parse = if general {
            parse_chunk_general
        } else {
            parse_chunk
        };
        match parse(data, into, &limits) {
            Ok(ChunkKind::Chunk(_)) => {}
            Ok(ChunkKind::Error) => return Err("error"),
            Err(ChunkFailure::TooManyToolCalls) => return Err("tool calls"),
            Err(ChunkFailure::TooManyChoices) => return Err("choices"),
            Err(ChunkFailure::Json(_)) => return Err("json"),
        }
        Ok(deltas
            .as_slice()
            .iter()
            .map(|d| d.tool_calls.len())
            .collect())
    }

    #[test]
    fn the_fragments_of_one_chunk_are_bounded_all_choices_together() {
        let choice = |index: usize, n: usize| {
            format!(
                "{{\"index\":{index},\"delta\":{{\"tool_calls\":{}}}}}",
                fragments(n)
            )
        };
        let chunk = |choices: &[String]| format!("{{\"choices\":[{}]}}", choices.join(","));
        let cases: Vec<(String, Result<Vec<usize>, &str>)> = vec![
            (chunk(&[choice(0, 1000)]), Ok(vec![1000])),
            (chunk(&[choice(0, 1001)]), Err("tool calls")),
            (chunk(&[choice(0, 500), choice(1, 500)]), Ok(vec![500, 500])),
            (chunk(&[choice(0, 500), choice(1, 501)]), Err("tool calls")),
            (
                chunk(&[choice(0, 400), choice(1, 300), choice(2, 301)]),
                Err("tool calls"),
            ),
            // A key given twice keeps its last value: what it replaced no longer counts.
            (
                format!(
                    "{{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":{},\"tool_calls\":{}}}}}]}}",
                    fragments(1000),
                    fragments(900)
                ),
                Ok(vec![900]),
            ),
            (
                format!(
                    "{{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":{}}},\"delta\":{{\"tool_calls\":{}}}}}]}}",
                    fragments(1000),
                    fragments(1000)
                ),
                Ok(vec![1000]),
            ),
            (
                format!(
                    "{{\"choices\":[{}],\"choices\":[{}]}}",
                    choice(0, 1000),
                    choice(1, 1000)
                ),
                Ok(vec![1000]),
            ),
        ];
        for (data, expected) in cases {
            for general in [false, true] {
                assert_eq!(read(&data, general), expected, "{general} {data:.80}");
            }
        }
    }
}
