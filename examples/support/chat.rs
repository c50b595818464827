//! `POST /v1/chat/completions`: the canned DeepSeek-R1-style replies, the tool-call behaviour, and
//! SiliconFlow's errors for an unknown model.

use std::time::Duration;

use serde_json::Value;
use siliconflow::mock::{MockResponse, ReceivedRequest, SseEvent};

use super::demo::{json_body, json_of, model, now, Answer, Demo};
use super::text::{message_text, quote, quote_text, tokenize};
use super::wire::{
    AssistantMessage, Chunk, ChunkChoice, Completion, CompletionChoice, Delta, FunctionCall,
    FunctionFragment, TokenDetails, ToolCall, ToolCallFragment, Usage,
};

/// The quoted prompt in the canned reply is cut to this many characters.
const MAX_QUOTE_CHARS: usize = 48;

/// How long the demo "thinks" before the first token (the stream's head is held back this long).
const TIME_TO_FIRST_TOKEN: Duration = Duration::from_millis(150);

/// Answers a chat request: a stream when `stream` is `true`, else a whole `chat.completion`.
pub fn answer(demo: &Demo, request: &ReceivedRequest) -> Answer {
    let body = json_body(request)?;
    let model = model(&body)?.to_string();
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);
    let reply = CannedReply::new(&model, &Value::Object(body), demo.hex_id());
    if !streamed {
        return Ok(json_of(&reply.completion()));
    }
    let chunks = reply.chunks();
    // Aim for about two seconds in all, with 15-30 ms between events.
    let per_event = (1900 / chunks.len().max(1) as u64).clamp(15, 30);
    let mut events = Vec::with_capacity(chunks.len() + 1);
    for chunk in &chunks {
        match serde_json::to_string(chunk) {
            Ok(json) => events.push(SseEvent::data(&json)),
            Err(error) => return Err(MockResponse::text(error.to_string()).status(500)),
        }
    }
    events.push(SseEvent::done());
    Ok(MockResponse::sse(events)
        .header("Cache-Control", "no-cache")
        .head_delay(TIME_TO_FIRST_TOKEN)
        .event_delay(Duration::from_millis(per_event)))
}

/// The whole `chat.completion` the demo answers to `body` (for the batch demo), as JSON.
pub fn completion_value(demo: &Demo, model: &str, body: &Value) -> Value {
    let reply = CannedReply::new(model, body, demo.hex_id());
    serde_json::to_value(reply.completion()).unwrap_or(Value::Null)
}

/// Cities the demo recognises in a prompt when it makes up a weather tool call.
const CITIES: &[&str] = &[
    "Hangzhou",
    "Beijing",
    "Shanghai",
    "Shenzhen",
    "Guangzhou",
    "Chengdu",
    "Hong Kong",
    "Tokyo",
    "Seoul",
    "Singapore",
    "New York",
    "San Francisco",
    "London",
    "Paris",
    "Berlin",
    "Sydney",
    "杭州",
    "北京",
    "上海",
    "深圳",
    "广州",
    "成都",
];

/// The city a tool call uses when the prompt names none of [`CITIES`].
const DEFAULT_CITY: &str = "Hangzhou";

/// The tool-result text quoted in a final answer is cut to this many characters.
const MAX_TOOL_QUOTE_CHARS: usize = 240;

/// What the demo makes of the conversation it was sent.
enum Scenario {
    /// An ordinary turn: answer the last user message.
    Chat {
        last_user: String,
        /// How many user messages the conversation has (this one included).
        turn: usize,
        /// How many messages were sent in all.
        messages: usize,
        system: Option<String>,
    },
    /// The last message is a user message and tools are offered: call one.
    CallTool {
        last_user: String,
        name: String,
        /// The argument name to fill with a city (`city` or `location`), if the tool has one.
        city_param: Option<String>,
    },
    /// The last messages are tool results: answer with them.
    UseToolResults {
        /// `("the <name> tool", call id, content)` of each trailing tool message, in order.
        results: Vec<(String, String, String)>,
    },
}

impl Scenario {
    fn of(body: &Value, messages: &[Value]) -> Scenario {
        let role = |m: &Value| {
            m.get("role")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let last_role = messages.last().map(role).unwrap_or_default();

        if last_role == "tool" {
            let first_result = messages
                .iter()
                .rposition(|m| role(m) != "tool")
                .map_or(0, |i| i + 1);
            let calls = messages[..first_result]
                .iter()
                .rev()
                .find(|m| role(m) == "assistant")
                .and_then(|m| m.get("tool_calls"))
                .and_then(Value::as_array);
            let results = messages[first_result..]
                .iter()
                .map(|m| {
                    let id = m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let name = calls
                        .and_then(|calls| {
                            calls
                                .iter()
                                .find(|c| c.get("id").and_then(Value::as_str) == Some(id.as_str()))
                        })
                        .and_then(|c| c.pointer("/function/name"))
                        .and_then(Value::as_str)
                        .map_or_else(|| "the tool".to_owned(), |name| format!("the {name} tool"));
                    (name, id, message_text(m.get("content")))
                })
                .collect();
            return Scenario::UseToolResults { results };
        }

        let last_user = messages
            .iter()
            .rev()
            .find(|m| role(m) == "user")
            .map(|m| message_text(m.get("content")))
            .unwrap_or_default();

        if last_role == "user" {
            if let Some(tool) = chosen_tool(body) {
                let name = tool
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_owned();
                let properties = tool.pointer("/function/parameters/properties");
                let city_param = ["city", "location"]
                    .into_iter()
                    .find(|p| properties.and_then(|props| props.get(p)).is_some())
                    .map(str::to_owned);
                return Scenario::CallTool {
                    last_user,
                    name,
                    city_param,
                };
            }
        }

        Scenario::Chat {
            last_user,
            turn: messages.iter().filter(|m| role(m) == "user").count(),
            messages: messages.len(),
            system: messages
                .iter()
                .find(|m| role(m) == "system")
                .map(|m| message_text(m.get("content"))),
        }
    }
}

/// The tool the demo calls: the one `tool_choice` names, else the first; none for
/// `tool_choice: "none"` or without tools.
fn chosen_tool(body: &Value) -> Option<&Value> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    match body.get("tool_choice") {
        Some(Value::String(mode)) if mode == "none" => None,
        Some(choice @ Value::Object(_)) => {
            let wanted = choice.pointer("/function/name").and_then(Value::as_str);
            tools
                .iter()
                .find(|t| t.pointer("/function/name").and_then(Value::as_str) == wanted)
                .or_else(|| tools.first())
        }
        _ => tools.first(),
    }
}

/// The first of [`CITIES`] to appear in the text, else [`DEFAULT_CITY`].
fn city_in(text: &str) -> &'static str {
    let text = text.to_lowercase();
    CITIES
        .iter()
        .filter_map(|city| text.find(&city.to_lowercase()).map(|at| (at, *city)))
        .min_by_key(|&(at, _)| at)
        .map_or(DEFAULT_CITY, |(_, city)| city)
}

/// A tool call the demo streams: the id, the name and the arguments in the fragments they are sent in.
struct CannedCall {
    id: String,
    name: String,
    fragments: Vec<String>,
}

impl CannedCall {
    fn arguments(&self) -> String {
        self.fragments.concat()
    }
}

pub struct CannedReply {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u64,
    reasoning: Vec<String>,
    answer: Vec<String>,
    tool_call: Option<CannedCall>,
}

impl CannedReply {
    pub fn new(model: &str, body: &Value, id: String) -> Self {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);

        let (reasoning, answer, tool_call) = match Scenario::of(body, messages) {
            Scenario::Chat {
                last_user,
                turn,
                messages,
                system,
            } => {
                let quote = quote(&last_user, MAX_QUOTE_CHARS);
                let system_note = match &system {
                    Some(system) => format!(
                        " The system prompt says \"{}\".",
                        quote_text(system, MAX_QUOTE_CHARS)
                    ),
                    None => String::new(),
                };
                let reasoning = format!(
                    "The user said \"{quote}\". This is turn {turn} of the conversation.{system_note} \
                     I am the offline demo server, not a real model, so there is nothing to think \
                     hard about. I will stream a short canned reply, one small token per event, the \
                     way SiliconFlow streams DeepSeek-R1: this reasoning first, then the answer. \
                     再加一点中文。\n"
                );
                let history = if messages > 1 {
                    format!("; the history you sent has {messages} messages")
                } else {
                    String::new()
                };
                let system_answer = match &system {
                    Some(system) => format!(
                        " Your system prompt was \"{}\".",
                        quote_text(system, MAX_QUOTE_CHARS)
                    ),
                    None => String::new(),
                };
                let answer = format!(
                    "\nHello from the offline demo! 👋 (turn {turn}) You said \"{quote}\" and I \
                     heard you{history}, but no real model is running here, so this reply is \
                     canned.{system_answer} 这是离线演示服务器的回答。 Set SILICONFLOW_API_KEY to \
                     talk to a real model on SiliconFlow. 😊"
                );
                (reasoning, answer, None)
            }
            Scenario::CallTool {
                last_user,
                name,
                city_param,
            } => {
                let quote = quote(&last_user, MAX_QUOTE_CHARS);
                // SiliconFlow's Kimi-style ids: `functions.<name>:<n>`.
                let id = format!("functions.{name}:0");
                let (fragments, plan) = match city_param {
                    Some(param) => {
                        let city = city_in(&last_user);
                        let param_json = serde_json::to_string(&param).unwrap_or_default();
                        let city_json = serde_json::to_string(city).unwrap_or_default();
                        let fragments = vec![
                            "{".to_string(),
                            param_json,
                            ": ".to_string(),
                            city_json,
                            "}".to_string(),
                        ];
                        (fragments, format!(" with {param} = \"{city}\""))
                    }
                    None => (vec!["{".to_string(), "}".to_string()], String::new()),
                };
                let reasoning = format!(
                    "The user asks: \"{quote}\". I cannot know that without live data, so I will \
                     call the {name} tool{plan} and answer from its result. 先调用工具。\n"
                );
                let call = CannedCall {
                    id,
                    name,
                    fragments,
                };
                (reasoning, String::new(), Some(call))
            }
            Scenario::UseToolResults { results } => {
                let names = results
                    .iter()
                    .map(|(tool, id, _)| format!("{tool} (call {id})"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                let reasoning = format!(
                    "The tool result arrived from {names}. I will answer with it, quoting what it \
                     returned, since the offline demo cannot phrase it any better. 根据工具结果回答。\n"
                );
                let quoted = results
                    .iter()
                    .map(|(tool, _, content)| {
                        format!("{tool} returned {}", quote(content, MAX_TOOL_QUOTE_CHARS))
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let answer = format!(
                    "\nHere is what I found: {quoted}. That is the whole answer from the offline \
                     demo; a real model would turn it into a friendly sentence. ☀️"
                );
                (reasoning, answer, None)
            }
        };

        let prompt_tokens = 4 + messages
            .iter()
            .map(|m| 4 + tokenize(&message_text(m.get("content"))).len() as u64)
            .sum::<u64>();

        Self {
            id,
            created: now(),
            model: model.to_string(),
            prompt_tokens,
            reasoning: tokenize(&reasoning),
            answer: tokenize(&answer),
            tool_call,
        }
    }

    fn finish_reason(&self) -> &'static str {
        if self.tool_call.is_some() {
            "tool_calls"
        } else {
            "stop"
        }
    }

    /// Tokens of the whole reply: reasoning, answer and tool-call fragments.
    fn completion_tokens(&self) -> u64 {
        let call = self.tool_call.as_ref().map_or(0, |c| 1 + c.fragments.len());
        (self.reasoning.len() + self.answer.len() + call) as u64
    }

    fn usage(&self, completion_tokens: u64, reasoning_tokens: Option<u64>) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens + completion_tokens,
            completion_tokens_details: reasoning_tokens
                .map(|reasoning_tokens| TokenDetails { reasoning_tokens }),
        }
    }

    fn chunk<'a>(
        &'a self,
        delta: Delta<'a>,
        finish_reason: Option<&'a str>,
        usage: Usage,
    ) -> Chunk<'a> {
        Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: [ChunkChoice {
                index: 0,
                delta,
                finish_reason,
            }],
            system_fingerprint: "",
            usage,
        }
    }

    /// Every chunk of the stream, in order, as SiliconFlow sends them for DeepSeek-R1 (and, for a
    /// tool call, as it sends them for Kimi and Qwen3).
    pub fn chunks(&self) -> Vec<Chunk<'_>> {
        let delta = |content, reasoning_content, role| Delta {
            content,
            reasoning_content,
            role,
            tool_calls: None,
        };
        let mut chunks = Vec::with_capacity(self.completion_tokens() as usize + 2);
        chunks.push(self.chunk(
            delta(None, Some(""), Some("assistant")),
            None,
            self.usage(0, None),
        ));
        let mut completion = 0;
        for token in &self.reasoning {
            completion += 1;
            chunks.push(self.chunk(
                delta(None, Some(token), Some("assistant")),
                None,
                self.usage(completion, Some(completion)),
            ));
        }
        let reasoning_tokens = completion;
        for token in &self.answer {
            completion += 1;
            chunks.push(self.chunk(
                delta(Some(token), None, Some("assistant")),
                None,
                self.usage(completion, Some(reasoning_tokens)),
            ));
        }
        if let Some(call) = &self.tool_call {
            // The first fragment names the call; the rest carry `"id":null,"type":null` and a
            // piece of the arguments each.
            let first = ToolCallFragment {
                index: 0,
                id: Some(&call.id),
                kind: Some("function"),
                function: FunctionFragment {
                    name: Some(&call.name),
                    arguments: "",
                },
            };
            let rest = call.fragments.iter().map(|piece| ToolCallFragment {
                index: 0,
                id: None,
                kind: None,
                function: FunctionFragment {
                    name: None,
                    arguments: piece,
                },
            });
            for fragment in std::iter::once(first).chain(rest) {
                completion += 1;
                chunks.push(self.chunk(
                    Delta {
                        tool_calls: Some([fragment]),
                        ..delta(None, None, Some("assistant"))
                    },
                    None,
                    self.usage(completion, Some(reasoning_tokens)),
                ));
            }
        }
        chunks.push(self.chunk(
            delta(Some(""), None, None),
            Some(self.finish_reason()),
            self.usage(completion, Some(reasoning_tokens)),
        ));
        chunks
    }

    /// The same reply as one non-streamed `chat.completion` object.
    pub fn completion(&self) -> Completion<'_> {
        let reasoning_tokens = self.reasoning.len() as u64;
        let answer = self.answer.concat();
        let tool_calls = self.tool_call.as_ref().map(|call| {
            vec![ToolCall {
                id: &call.id,
                kind: "function",
                function: FunctionCall {
                    name: &call.name,
                    arguments: call.arguments(),
                },
            }]
        });
        Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: (!answer.is_empty() || tool_calls.is_none()).then_some(answer),
                    reasoning_content: self.reasoning.concat(),
                    tool_calls,
                },
                finish_reason: self.finish_reason(),
            }],
            usage: self.usage(self.completion_tokens(), Some(reasoning_tokens)),
            system_fingerprint: "",
        }
    }
}

// The wire shapes, with fields in the order SiliconFlow sends them. `None` is sent as `null`
// except where SiliconFlow leaves the key out.
