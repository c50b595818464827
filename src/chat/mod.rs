//! Chat completions: the request, the response, and the stream.

mod calls;
mod read;
pub mod request;
pub mod response;
pub mod stream;
mod think;

pub use request::{
    ChatRequest, Content, ContentPart, FunctionDefinition, MediaUrl, Message, ResponseFormat, Role,
    Stop, StreamOptions, Tool, ToolChoice,
};
pub use response::{
    ChatCompletion, Choice, CompletionTokensDetails, FinishReason, FunctionCall,
    PromptTokensDetails, ToolCall, Usage,
};
pub use stream::{
    ChatDelta, ChatDeltaRef, ChatStream, FunctionCallDelta, StreamChoice, StreamEnd, StreamTimings,
    ToolCallDelta,
};
