//! The request side of chat completions: [`ChatRequest`], [`Message`], content parts (the options it takes
//! are in [`options`](super::options)).
//!
//! Every parameter is optional and omitted from the JSON when unset: the crate never sends a default the
//! caller did not ask for (SiliconFlow answers 400 when, for example, `enable_thinking` is sent to a model
//! that lacks it). Fields this crate does not know yet go in [`ChatRequest::extra`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::options::{ResponseFormat, Stop, StreamOptions, Tool, ToolChoice};
use super::response::ToolCall;
use crate::serde_util::open_enum;

open_enum! {
    /// The author of a message.
    pub enum Role {
        /// Instructions for the model.
        System = "system",
        /// The person talking to the model.
        User = "user",
        /// The model.
        Assistant = "assistant",
        /// The result of a tool call.
        Tool = "tool",
        /// OpenAI's newer name for system instructions.
        Developer = "developer",
    }
}

/// A message's content: plain text or a list of parts (text, images, video, audio).
///
/// Read from a string or a list of at most [`MAX_CONTENT_PARTS`](crate::MAX_CONTENT_PARTS) parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Multimodal parts.
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text of this content: the string itself, or the text parts joined (other parts skipped).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Content::Text(text) => text.as_str().into(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<String>()
                .into(),
        }
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Text(text.to_string())
    }
}

impl From<&String> for Content {
    fn from(text: &String) -> Self {
        Content::Text(text.clone())
    }
}

impl From<Vec<ContentPart>> for Content {
    fn from(parts: Vec<ContentPart>) -> Self {
        Content::Parts(parts)
    }
}

/// One part of a multimodal message.
///
/// Read from its `type` and the field that type names; other keys are ignored.
///
/// ```
/// use siliconflow::{ContentPart, Message};
///
/// let message = Message::user(vec![
///     ContentPart::text("What is in this picture?"),
///     ContentPart::image_url("https://example.com/cat.png"),
/// ]);
/// let json = serde_json::to_value(&message).unwrap();
/// assert_eq!(json["content"][1]["type"], "image_url");
/// assert_eq!(json["content"][1]["image_url"]["url"], "https://example.com/cat.png");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by URL or `data:` URL (base64).
    ImageUrl {
        /// Where the image is.
        image_url: MediaUrl,
    },
    /// A video, by URL or `data:` URL.
    VideoUrl {
        /// Where the video is.
        video_url: MediaUrl,
    },
    /// Audio, by URL or `data:` URL.
    AudioUrl {
        /// Where the audio is.
        audio_url: MediaUrl,
    },
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text { text: text.into() }
    }

    /// An image part.
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::ImageUrl {
            image_url: MediaUrl::new(url),
        }
    }

    /// A video part.
    pub fn video_url(url: impl Into<String>) -> Self {
        ContentPart::VideoUrl {
            video_url: MediaUrl::new(url),
        }
    }

    /// An audio part.
    pub fn audio_url(url: impl Into<String>) -> Self {
        ContentPart::AudioUrl {
            audio_url: MediaUrl::new(url),
        }
    }
}

/// The location of an image, video or audio part, with its optional processing hints.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MediaUrl {
    /// An `https:` URL or a `data:` URL with base64 content.
    pub url: String,
    /// Image (and video frame) detail: `"auto"`, `"low"` or `"high"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Video: the most frames to sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frames: Option<u32>,
    /// Video: frames sampled per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

impl MediaUrl {
    /// A media URL with no hints.
    pub fn new(url: impl Into<String>) -> Self {
        MediaUrl {
            url: url.into(),
            ..MediaUrl::default()
        }
    }

    /// Sets the detail hint (`"auto"`, `"low"`, `"high"`).
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// One message of a conversation.
///
/// When deserializing, a `reasoning` field (Ollama's and vLLM's name) is read as `reasoning_content`
/// if `reasoning_content` itself is absent.
///
/// Prefix continuation, DeepSeek style: a last assistant message marked `"prefix": true`
/// ([`Message::assistant_prefix`]) is the beginning of the answer, which the model continues.
/// SiliconFlow documents a different form, a top-level `prefix` text ([`ChatRequest::prefix`]).
///
/// ```
/// use siliconflow::{ChatRequest, Message};
///
/// let request = ChatRequest::new(
///     "deepseek-chat",
///     vec![Message::user("Write quick sort in Python."), Message::assistant_prefix("```python\n")],
/// );
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["messages"][1], serde_json::json!({"role": "assistant", "content": "```python\n", "prefix": true}));
/// assert!(json["messages"][0].get("prefix").is_none(), "unset: not sent");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "MessageWire")]
#[non_exhaustive]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its content; `None` for an assistant message that only calls tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The model's reasoning (assistant messages from reasoning models).
    ///
    /// Only sent back to the server if set; most providers ignore or reject it in history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// An optional participant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tool calls an assistant message made (read: at most
    /// [`DEFAULT_MAX_TOOL_CALLS`](crate::DEFAULT_MAX_TOOL_CALLS)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// For a `tool` message: the id of the call it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Marks the last assistant message as the start of the answer to continue (DeepSeek's prefix
    /// completion; see [`Message::assistant_prefix`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<bool>,
}

#[derive(Deserialize)]
struct MessageWire {
    #[serde(default, deserialize_with = "crate::serde_util::null_as_default")]
    role: Option<Role>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "crate::bounded::option_list")]
    tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    /// Read leniently: only a boolean counts.
    #[serde(default, deserialize_with = "crate::lenient::only_bool")]
    prefix: Option<bool>,
}

impl From<MessageWire> for Message {
    fn from(wire: MessageWire) -> Self {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Message {
            role: wire.role.unwrap_or(Role::Assistant),
            content: wire.content,
            reasoning_content: non_empty(wire.reasoning_content).or(non_empty(wire.reasoning)),
            name: wire.name,
            tool_calls: wire.tool_calls,
            tool_call_id: wire.tool_call_id,
            prefix: wire.prefix,
        }
    }
}

impl Message {
    /// A message with the given role and content.
    pub fn new(role: Role, content: impl Into<Content>) -> Self {
        Message {
            role,
            content: Some(content.into()),
            reasoning_content: None,
            name: None,
            tool_calls: None,
            tool_call_id: None,
            prefix: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<Content>) -> Self {
        Message::new(Role::System, content)
    }

    /// A user message: text, or a `Vec<ContentPart>` for images, video or audio.
    pub fn user(content: impl Into<Content>) -> Self {
        Message::new(Role::User, content)
    }

    /// An assistant message (for example an earlier answer, to continue a conversation).
    pub fn assistant(content: impl Into<Content>) -> Self {
        Message::new(Role::Assistant, content)
    }

    /// The beginning of the answer, for the model to continue: an assistant message with
    /// `"prefix": true`, to put last (DeepSeek's prefix completion). Whether the returned content repeats
    /// the prefix is server-specific. For SiliconFlow's documented form use [`ChatRequest::prefix`].
    pub fn assistant_prefix(content: impl Into<Content>) -> Self {
        Message::assistant(content).with_prefix(true)
    }

    /// A tool result answering the call with id `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<Content>) -> Self {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Message::new(Role::Tool, content)
        }
    }

    /// Sets the participant name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the reasoning to send back with an assistant message (DeepSeek's thinking-mode tool loops
    /// require it; SiliconFlow's docs omit it).
    #[must_use]
    pub fn with_reasoning_content(mut self, reasoning: impl Into<String>) -> Self {
        self.reasoning_content = Some(reasoning.into());
        self
    }

    /// Marks (or unmarks) this message as a prefix to continue (`"prefix": true`).
    #[must_use]
    pub fn with_prefix(mut self, prefix: bool) -> Self {
        self.prefix = Some(prefix);
        self
    }

    /// Sets the tool calls of an assistant message.
    #[must_use]
    pub fn with_tool_calls(mut self, tool_calls: Vec<ToolCall>) -> Self {
        self.tool_calls = Some(tool_calls);
        self
    }

    /// The text of the content (text parts joined), or `""` when there is none.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        self.content.as_ref().map(Content::text).unwrap_or_default()
    }
}

macro_rules! optional_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(#[$mmeta:meta])* pub model: String,
            $(#[$gmeta:meta])* pub messages: Vec<Message>,
            $(
                $(#[$fmeta:meta])*
                $field:ident: $ty:ty => $arg:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(#[$mmeta])* pub model: String,
            $(#[$gmeta])* pub messages: Vec<Message>,
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Fields this crate does not know yet, sent as given at the top level of the JSON body.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl $name {
            /// A request for `model` with these messages and every parameter unset.
            pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
                $name {
                    model: model.into(),
                    messages,
                    $($field: None,)*
                    extra: Map::new(),
                }
            }

            crate::setters::option_setters! {
                $($(#[$fmeta])* $field: $arg,)*
            }
        }
    };
}

optional_fields! {
    /// A chat completion request: the model, the messages, and every parameter SiliconFlow documents.
    ///
    /// Each parameter is set with a method of the same name and omitted from the JSON while unset. The
    /// `stream` field is set by [`Client::chat_stream`](crate::Client::chat_stream) and
    /// [`Client::chat`](crate::Client::chat) themselves.
    ///
    /// ```
    /// use siliconflow::{ChatRequest, Message};
    ///
    /// let request = ChatRequest::new("Qwen/Qwen3-8B", vec![Message::user("你好")])
    ///     .max_tokens(512)
    ///     .enable_thinking(true)
    ///     .thinking_budget(1024)
    ///     .temperature(0.7)
    ///     .stop(vec!["\n\n"])
    ///     .extra_field("repetition_penalty", 1.05);
    /// let json = serde_json::to_value(&request).unwrap();
    /// assert_eq!(json["enable_thinking"], true);
    /// assert_eq!(json["repetition_penalty"], 1.05);
    /// assert!(json.get("top_p").is_none(), "unset parameters are not sent");
    /// ```
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[non_exhaustive]
    pub struct ChatRequest {
        /// The model id, for example `deepseek-ai/DeepSeek-R1`.
        pub model: String,
        /// The conversation so far.
        pub messages: Vec<Message>,
        /// Stream the answer as server-sent events (set by the client methods).
        stream: bool => bool,
        /// Options for streamed responses.
        stream_options: StreamOptions => StreamOptions,
        /// The most tokens to generate.
        max_tokens: u32 => u32,
        /// OpenAI's newer name for `max_tokens`.
        max_completion_tokens: u32 => u32,
        /// Switch thinking on or off for hybrid models (Qwen3, GLM, DeepSeek-V3.1 on SiliconFlow).
        enable_thinking: bool => bool,
        /// The most tokens to spend thinking.
        thinking_budget: u32 => u32,
        /// Reasoning effort (`"low"`, `"medium"`, `"high"`) where the server supports it.
        reasoning_effort: String => impl Into<String>,
        /// Dynamic filtering threshold relative to the most likely token.
        min_p: f64 => f64,
        /// Up to four sequences at which generation stops.
        stop: Stop => impl Into<Stop>,
        /// Sampling temperature.
        temperature: f64 => f64,
        /// Nucleus sampling.
        top_p: f64 => f64,
        /// Top-k sampling.
        top_k: i32 => i32,
        /// Penalty for tokens by frequency so far.
        frequency_penalty: f64 => f64,
        /// Penalty for tokens already present.
        presence_penalty: f64 => f64,
        /// Repetition penalty (vLLM, SiliconFlow).
        repetition_penalty: f64 => f64,
        /// How many choices to generate.
        n: u32 => u32,
        /// Seed for reproducible sampling.
        seed: i64 => i64,
        /// The answer's format.
        response_format: ResponseFormat => ResponseFormat,
        /// Tools the model may call.
        tools: Vec<Tool> => Vec<Tool>,
        /// Whether and which tool the model must call.
        tool_choice: ToolChoice => ToolChoice,
        /// Allow several tool calls in one answer.
        parallel_tool_calls: bool => bool,
        /// Return log probabilities.
        logprobs: bool => bool,
        /// How many top log probabilities per token.
        top_logprobs: u32 => u32,
        /// An end-user id for abuse monitoring.
        user: String => impl Into<String>,
        /// Prefix continuation, SiliconFlow's documented form: the answer starts with this text and the
        /// model continues it (for example ```` "```python\n" ````). Non-reasoning models, and Qwen3 with
        /// thinking off; not DeepSeek-R1. Set `max_tokens` high enough not to cut the prefix. Whether
        /// the returned content repeats the prefix is undocumented. (DeepSeek's own API uses
        /// [`Message::assistant_prefix`] instead.)
        prefix: String => impl Into<String>,
        /// Fill-in-the-middle in chat, with [`prefix`](ChatRequest::prefix): the text after the gap
        /// (SiliconFlow).
        suffix: String => impl Into<String>,
    }
}

impl ChatRequest {
    /// Adds a message at the end of the conversation.
    #[must_use]
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// The JSON body to send, with `stream` set as given.
    pub(crate) fn to_body(&self, stream: bool) -> Result<Vec<u8>, crate::Error> {
        crate::json::body_with_stream(self, stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_parameters_are_omitted() {
        let request = ChatRequest::new("m", vec![Message::user("hi")]);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn every_parameter_serializes_under_its_wire_name() {
        let request = ChatRequest::new("m", vec![])
            .stream_options(StreamOptions::include_usage())
            .max_tokens(10)
            .max_completion_tokens(11)
            .enable_thinking(false)
            .thinking_budget(4096)
            .reasoning_effort("low")
            .min_p(0.05)
            .stop("END")
            .temperature(0.5)
            .top_p(0.75)
            .top_k(50)
            .frequency_penalty(0.5)
            .presence_penalty(0.25)
            .repetition_penalty(1.5)
            .n(2)
            .seed(42)
            .response_format(ResponseFormat::JsonObject)
            .tools(vec![Tool::function("f", "d", json!({"type": "object"}))])
            .tool_choice(ToolChoice::Function("f".into()))
            .parallel_tool_calls(true)
            .logprobs(true)
            .top_logprobs(3)
            .user("u1")
            .extra_field("x_custom", json!({"a": 1}));
        let v = serde_json::to_value(&request).unwrap();
        assert_eq!(v["stream_options"], json!({"include_usage": true}));
        assert_eq!(v["max_tokens"], 10);
        assert_eq!(v["max_completion_tokens"], 11);
        assert_eq!(v["enable_thinking"], false);
        assert_eq!(v["thinking_budget"], 4096);
        assert_eq!(v["reasoning_effort"], "low");
        assert_eq!(v["min_p"], 0.05);
        assert_eq!(v["stop"], "END");
        assert_eq!(v["temperature"], 0.5);
        assert_eq!(v["top_p"], 0.75);
        assert_eq!(v["top_k"], 50);
        assert_eq!(v["frequency_penalty"], 0.5);
        assert_eq!(v["presence_penalty"], 0.25);
        assert_eq!(v["repetition_penalty"], 1.5);
        assert_eq!(v["n"], 2);
        assert_eq!(v["seed"], 42);
        assert_eq!(v["response_format"], json!({"type": "json_object"}));
        assert_eq!(v["tools"][0]["type"], "function");
        assert_eq!(v["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(
            v["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(v["parallel_tool_calls"], true);
        assert_eq!(v["logprobs"], true);
        assert_eq!(v["top_logprobs"], 3);
        assert_eq!(v["user"], "u1");
        assert_eq!(v["x_custom"], json!({"a": 1}));
        // And back.
        let back: ChatRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn to_body_sets_stream_without_touching_the_request() {
        let request = ChatRequest::new("m", vec![]).stream(false);
        let body: Value = serde_json::from_slice(&request.to_body(true).unwrap()).unwrap();
        assert_eq!(body["stream"], true);
        assert_eq!(request.stream, Some(false));
    }

    #[test]
    fn messages_of_every_role() {
        let v = serde_json::to_value(vec![
            Message::system("s"),
            Message::user(vec![
                ContentPart::text("t"),
                ContentPart::video_url("https://v"),
                ContentPart::audio_url("data:audio/wav;base64,AAAA"),
                ContentPart::ImageUrl {
                    image_url: MediaUrl::new("https://i").detail("high"),
                },
            ]),
            Message::assistant("a").with_reasoning_content("r"),
            Message::tool("call-1", "42"),
        ])
        .unwrap();
        assert_eq!(v[0], json!({"role": "system", "content": "s"}));
        assert_eq!(
            v[1]["content"][1],
            json!({"type": "video_url", "video_url": {"url": "https://v"}})
        );
        assert_eq!(v[1]["content"][3]["image_url"]["detail"], "high");
        assert_eq!(
            v[2],
            json!({"role": "assistant", "content": "a", "reasoning_content": "r"})
        );
        assert_eq!(
            v[3],
            json!({"role": "tool", "content": "42", "tool_call_id": "call-1"})
        );
    }

    #[test]
    fn message_reads_reasoning_under_either_name_and_nulls() {
        let m: Message = serde_json::from_value(
            json!({"role": "assistant", "content": null, "reasoning": "think", "tool_calls": null}),
        )
        .unwrap();
        assert_eq!(m.reasoning_content.as_deref(), Some("think"));
        assert_eq!(m.content, None);
        let m: Message = serde_json::from_value(
            json!({"role": "assistant", "content": "x", "reasoning_content": "a", "reasoning": "a", "extra": 1}),
        )
        .unwrap();
        assert_eq!(m.reasoning_content.as_deref(), Some("a"));
        assert_eq!(m.text(), "x");
    }

    #[test]
    fn prefix_continuation_both_forms() {
        // DeepSeek style: the last assistant message carries `prefix: true`.
        let message = Message::assistant_prefix("```python\n");
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"role": "assistant", "content": "```python\n", "prefix": true})
        );
        assert_eq!(
            serde_json::to_value(Message::assistant("a").with_prefix(false)).unwrap(),
            json!({"role": "assistant", "content": "a", "prefix": false})
        );
        // Unset, nothing changes on the wire.
        assert_eq!(
            serde_json::to_value(Message::assistant("a")).unwrap(),
            json!({"role": "assistant", "content": "a"})
        );
        // Read back, and leniently (a non-boolean is ignored).
        let back: Message =
            serde_json::from_value(json!({"role": "assistant", "content": "x", "prefix": true}))
                .unwrap();
        assert_eq!(back, Message::assistant_prefix("x"));
        let odd: Message =
            serde_json::from_value(json!({"role": "assistant", "prefix": "yes"})).unwrap();
        assert_eq!(odd.prefix, None);

        // SiliconFlow style: top-level `prefix` (and `suffix` for fill-in-the-middle).
        let request =
            ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user("quick sort")])
                .prefix("def quick_sort(arr):\n")
                .suffix("\nprint(quick_sort([3, 1]))");
        let v = serde_json::to_value(&request).unwrap();
        assert_eq!(v["prefix"], "def quick_sort(arr):\n");
        assert_eq!(v["suffix"], "\nprint(quick_sort([3, 1]))");
        assert_eq!(serde_json::from_value::<ChatRequest>(v).unwrap(), request);
    }

    #[test]
    fn tool_choice_round_trips() {
        for (choice, json) in [
            (ToolChoice::None, json!("none")),
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::Required, json!("required")),
            (
                ToolChoice::Function("f".into()),
                json!({"type": "function", "function": {"name": "f"}}),
            ),
        ] {
            assert_eq!(serde_json::to_value(&choice).unwrap(), json);
            assert_eq!(serde_json::from_value::<ToolChoice>(json).unwrap(), choice);
        }
        assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
    }

    #[test]
    fn role_keeps_unknown_values() {
        let role: Role = serde_json::from_value(json!("narrator")).unwrap();
        assert_eq!(role, Role::Other("narrator".into()));
        assert_eq!(serde_json::to_value(&role).unwrap(), json!("narrator"));
    }
}
