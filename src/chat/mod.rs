//! Chat completions: the request, the response, and the stream.

mod calls;
pub mod options;
mod read;
pub mod request;
pub mod response;
pub mod stream;
mod think;

pub use options::{FunctionDefinition, ResponseFormat, Stop, StreamOptions, Tool, ToolChoice};
pub use request::{ChatRequest, Content, ContentPart, MediaUrl, Message, Role};
pub use response::{
    ChatCompletion, Choice, CompletionTokensDetails, FinishReason, FunctionCall,
    PromptTokensDetails, ToolCall, Usage,
};
pub use stream::{
    ChatDelta, ChatDeltaRef, ChatStream, FunctionCallDelta, StreamChoice, StreamEnd, StreamTimings,
    ToolCallDelta,
};
