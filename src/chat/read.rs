//! How answers' messages are read: [`Content`] (a string or a list of parts) and [`ContentPart`] (tagged by
//! `type`), by visitors that skip unknown keys without buffering them and bound the list of parts
//! ([`MAX_CONTENT_PARTS`](crate::MAX_CONTENT_PARTS)); serde's `untagged` and `tag` readers buffer a whole
//! value as a tree of serde values first, many times its text's size. And a text completion
//! (`choices[].text`) read as a chat completion ([`text_completion_as_chat`]).

use std::fmt;

use serde::de::{Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::bounded::{collect, Entry, MAX_CONTENT_PARTS};
use crate::chat::request::{Content, ContentPart, MediaUrl, Message};
use crate::chat::response::{join_text_parts, ChatCompletion, Choice, FinishReason, Usage};
use crate::json::Key;
use crate::limits::DEFAULT_MAX_CHOICES;
use crate::raw::RawJson;
use crate::serde_util::{empty_as_none, null_as_default};

impl Entry for ContentPart {
    const WHAT: &'static str = "content parts";
    const MAX: usize = MAX_CONTENT_PARTS;
}

/// A string, or a list of parts (at most [`MAX_CONTENT_PARTS`]).
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ContentVisitor)
    }
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Content;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of content parts")
    }

    fn visit_str<E>(self, v: &str) -> Result<Content, E> {
        Ok(Content::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Content, E> {
        Ok(Content::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Content, A::Error> {
        collect(seq).map(Content::Parts)
    }
}

/// The part types, by their `type`.
const TYPES: &[&str] = &["text", "image_url", "video_url", "audio_url"];

/// A part's fields that carry its content; the one that matters is the one its `type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Text,
    Image,
    Video,
    Audio,
}

impl Field {
    fn of_key(key: &str) -> Option<Field> {
        Some(match key {
            "text" => Field::Text,
            "image_url" => Field::Image,
            "video_url" => Field::Video,
            "audio_url" => Field::Audio,
            _ => return None,
        })
    }

    fn key(self) -> &'static str {
        match self {
            Field::Text => "text",
            Field::Image => "image_url",
            Field::Video => "video_url",
            Field::Audio => "audio_url",
        }
    }
}

/// `{"type": "text", "text": …}`, `{"type": "image_url", "image_url": {…}}`, and the same for video and
/// audio; other keys are skipped, and so are the content fields of other types.
impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PartVisitor)
    }
}

struct PartVisitor;

/// What a part holds as it is read.
#[derive(Default)]
struct Part {
    text: Option<String>,
    media: Option<MediaUrl>,
}

impl Part {
    fn read<'de, A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<(), A::Error> {
        match field {
            Field::Text => self.text = Some(map.next_value()?),
            _ => self.media = Some(map.next_value()?),
        }
        Ok(())
    }

    fn parse<E: serde::de::Error>(&mut self, field: Field, raw: &RawValue) -> Result<(), E> {
        let text = raw.get();
        match field {
            Field::Text => self.text = Some(serde_json::from_str(text).map_err(E::custom)?),
            _ => self.media = Some(serde_json::from_str(text).map_err(E::custom)?),
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for PartVisitor {
    type Value = ContentPart;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a content part")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContentPart, A::Error> {
        let mut kind: Option<Field> = None;
        let mut part = Part::default();
        // Content fields met before the `type`, kept as text until it says which one matters.
        let mut early: Vec<(Field, Box<RawValue>)> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "type" {
                let Key(name) = map.next_value::<Key<'de>>()?;
                kind = Some(
                    Field::of_key(&name).ok_or_else(|| A::Error::unknown_variant(&name, TYPES))?,
                );
                continue;
            }
            let Some(field) = Field::of_key(&key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match kind {
                Some(kind) if kind == field => part.read(field, &mut map)?,
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
                None => {
                    let raw = map.next_value::<Box<RawValue>>()?;
                    early.retain(|(f, _)| *f != field);
                    early.push((field, raw));
                }
            }
        }
        let kind = kind.ok_or_else(|| A::Error::missing_field("type"))?;
        for (field, raw) in early {
            // A value met after the `type` came later: it wins.
            let later = match field {
                Field::Text => part.text.is_some(),
                _ => part.media.is_some(),
            };
            if field == kind && !later {
                part.parse::<A::Error>(field, &raw)?;
            }
        }
        let missing = || A::Error::missing_field(kind.key());
        Ok(match kind {
            Field::Text => ContentPart::Text {
                text: part.text.ok_or_else(missing)?,
            },
            Field::Image => ContentPart::ImageUrl {
                image_url: part.media.ok_or_else(missing)?,
            },
            Field::Video => ContentPart::VideoUrl {
                video_url: part.media.ok_or_else(missing)?,
            },
            Field::Audio => ContentPart::AudioUrl {
                audio_url: part.media.ok_or_else(missing)?,
            },
        })
    }
}

/// A whole text completion (`choices[].text`) read as a chat completion, each text as the assistant
/// message's content: for a streamed request answered with one JSON body. `None` when `raw` is not one (no
/// `choices` list, a choice with a `message`, fields of the wrong type).
pub(crate) fn text_completion_as_chat(raw: &[u8]) -> Option<ChatCompletion> {
    let answer: TextAnswer = crate::json::from_slice_lenient(raw).ok()?;
    let choices = answer.choices?;
    if choices.iter().any(|choice| choice.message) {
        return None;
    }
    let choices = choices
        .into_iter()
        .map(|choice| {
            let mut message = Message::assistant("");
            message.content = choice.text;
            join_text_parts(&mut message);
            Choice {
                index: choice.index,
                message,
                finish_reason: choice.finish_reason,
                logprobs: choice.logprobs,
            }
        })
        .collect();
    Some(ChatCompletion {
        id: answer.id,
        object: answer.object,
        created: answer.created,
        model: answer.model,
        choices,
        usage: answer.usage,
        system_fingerprint: answer.system_fingerprint,
        ..ChatCompletion::default()
    })
}

/// A text completion, with the fields and the types of a [`ChatCompletion`].
#[derive(Deserialize)]
struct TextAnswer {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    object: String,
    #[serde(default, deserialize_with = "null_as_default")]
    created: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    model: String,
    #[serde(default, deserialize_with = "crate::bounded::option_list")]
    choices: Option<Vec<TextChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
}

/// A choice of a text completion.
#[derive(Deserialize)]
struct TextChoice {
    #[serde(default, deserialize_with = "null_as_default")]
    index: u32,
    #[serde(default)]
    text: Option<Content>,
    #[serde(default, deserialize_with = "empty_as_none")]
    finish_reason: Option<FinishReason>,
    #[serde(default)]
    logprobs: Option<RawJson>,
    /// Whether the choice has a `message` (then it is a chat choice, not a text one).
    #[serde(default, deserialize_with = "crate::json::present")]
    message: bool,
}

impl Entry for TextChoice {
    const WHAT: &'static str = "choices";
    const MAX: usize = DEFAULT_MAX_CHOICES;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::request::Role;
    use serde_json::json;

    fn part(value: serde_json::Value) -> Result<ContentPart, serde_json::Error> {
        serde_json::from_str(&value.to_string())
    }

    #[test]
    fn parts_of_every_type_round_trip() {
        for p in [
            ContentPart::text("t"),
            ContentPart::image_url("https://i"),
            ContentPart::video_url("https://v"),
            ContentPart::audio_url("data:audio/wav;base64,AAAA"),
            ContentPart::ImageUrl {
                image_url: MediaUrl::new("https://i").detail("high"),
            },
        ] {
            let value = serde_json::to_value(&p).unwrap();
            assert_eq!(part(value.clone()).unwrap(), p);
            assert_eq!(serde_json::from_value::<ContentPart>(value).unwrap(), p);
        }
    }

    #[test]
    fn order_unknown_keys_and_other_types_fields_do_not_matter() {
        assert_eq!(
            part(json!({"text": "a", "x": [1], "type": "text"})).unwrap(),
            ContentPart::text("a")
        );
        assert_eq!(
            part(json!({"image_url": 5, "type": "text", "text": "b"})).unwrap(),
            ContentPart::text("b")
        );
        assert_eq!(
            serde_json::from_str::<ContentPart>(
                r#"{"image_url":{"url":"a"},"type":"image_url","image_url":{"url":"b"}}"#
            )
            .unwrap(),
            ContentPart::image_url("b")
        );
        for bad in [
            json!({"text": "a"}),
            json!({"type": "text"}),
            json!({"type": "sound", "text": "a"}),
            json!({"type": 1}),
            json!({"text": 1, "type": "text"}),
            json!("text"),
        ] {
            assert!(part(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_completions_read_as_leniently_as_other_answers() {
        // A key given twice keeps its last value; a lone surrogate reads as U+FFFD.
        let chat = text_completion_as_chat(
            br#"{"id":"a","id":"c","choices":[{"index":0,"text":"x\ud800"}]}"#,
        )
        .unwrap();
        assert_eq!(chat.id, "c");
        assert_eq!(chat.content(), "x\u{fffd}");
    }

    #[test]
    fn text_completions_read_as_chat() {
        let chat = text_completion_as_chat(
            br#"{"id":"c","created":1,"choices":[{"index":0,"text":"hi","finish_reason":"stop",
                "logprobs":{"tokens":["hi"]}},{"index":1,"text":null}],"usage":{"total_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!((chat.id.as_str(), chat.created), ("c", 1));
        assert_eq!(chat.content(), "hi");
        assert_eq!(chat.finish_reason(), Some(&FinishReason::Stop));
        assert_eq!(chat.choices[1].message.content, None);
        assert_eq!(chat.choices[1].message.role, Role::Assistant);
        assert_eq!(
            chat.choices[0].logprobs.as_ref().map(RawJson::get),
            Some(r#"{"tokens":["hi"]}"#)
        );
        assert_eq!(chat.usage.map(|u| u.total_tokens), Some(3));
        for not_text in [
            &br#"{"choices":[{"index":0,"message":{"content":"x"}}]}"#[..],
            br#"{"id":"c"}"#,
            br#"{"choices":null}"#,
            br#"{"choices":[1]}"#,
            br#"{"created":"1","choices":[]}"#,
            b"not json",
        ] {
            assert!(
                text_completion_as_chat(not_text).is_none(),
                "{}",
                String::from_utf8_lossy(not_text)
            );
        }
    }

    #[test]
    fn content_is_a_string_or_bounded_parts() {
        let text: Content = serde_json::from_str(r#""hi""#).unwrap();
        assert_eq!(text, Content::Text("hi".into()));
        let parts: Content = serde_json::from_str(r#"[{"type":"text","text":"a"}]"#).unwrap();
        assert_eq!(parts, Content::Parts(vec![ContentPart::text("a")]));
        assert!(serde_json::from_str::<Content>("5").is_err());
        let many = format!(
            "[{}]",
            vec![r#"{"type":"text","text":""}"#; MAX_CONTENT_PARTS + 1].join(",")
        );
        let e = serde_json::from_str::<Content>(&many).unwrap_err();
        assert!(e.to_string().starts_with("too many content parts"), "{e}");
    }
}
