//! [`StreamLimits`]: the bounds that keep a client's memory bounded whatever a server sends.

use crate::sse::DEFAULT_MAX_EVENT_SIZE;

/// The default bound on what one stream keeps, as allocated: 64 MiB, about 56 MiB of text (some 14 million
/// tokens; a real answer is well under 1 MiB). See [`StreamLimits::max_accumulated_size`].
pub const DEFAULT_MAX_ACCUMULATED_SIZE: usize = 64 * 1024 * 1024;

/// The default bound on the distinct choices of one stream (and the choice entries of one event): 1,024.
/// OpenAI allows `n` up to 128; SiliconFlow sends one.
pub const DEFAULT_MAX_CHOICES: usize = 1024;

/// The default bound on the distinct tool calls of one choice (and on the tool-call fragments of one event,
/// all its choices together): 1,024. Models call a handful of tools in parallel, and servers send a
/// fragment or a few per event.
pub const DEFAULT_MAX_TOOL_CALLS: usize = 1024;

/// What one stream, or one non-streamed body, may make the client hold in memory.
///
/// With these bounds, the memory one stream holds is at most about five times `max_event_size` (the line
/// and event being decoded, the deltas of one event) plus `max_accumulated_size`, which counts what the
/// stream keeps as it is allocated: the accumulated text (each byte with an eighth more, the room its
/// strings may have grown ahead), the latest id, model, fingerprint and usage, and the bookkeeping of
/// every choice and tool call. The
/// deltas of one event are few whatever its size: at most `max_choices`, with at most `max_tool_calls`
/// tool-call fragments among them (each about 100 bytes beyond its text; raising the two bounds raises
/// what one event may cost accordingly). A server that goes past
/// one fails the stream with a typed error ([`Error::EventTooLarge`](crate::Error::EventTooLarge),
/// [`Error::AccumulatedTooLarge`](crate::Error::AccumulatedTooLarge),
/// [`Error::TooManyChoices`](crate::Error::TooManyChoices),
/// [`Error::TooManyToolCalls`](crate::Error::TooManyToolCalls)); what arrived before stays readable.
///
/// ```
/// use siliconflow::{Client, StreamLimits};
///
/// let client = Client::builder()
///     .api_key("sk-example")
///     .limits(StreamLimits::default().max_accumulated_size(Some(1 << 20)).max_choices(8))
///     .build()?;
/// assert_eq!(client.limits().max_choices, 8);
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamLimits {
    /// The bound on one line or one event of a stream, and on a whole non-streamed JSON body (default
    /// 8 MiB).
    pub max_event_size: usize,
    /// The bound on what one stream keeps, as allocated: the text it accumulates (content, reasoning and
    /// tool-call arguments of every choice, each byte counted with an eighth more: the strings grow by an
    /// eighth at a time, so a text of 8 MiB may have 9 MiB allocated), the latest metadata (id, model,
    /// fingerprint, usage), and the bookkeeping of choices and tool calls (about 280 bytes per choice and
    /// 130 per tool call, up to about twice that as their lists grow by doubling); `None` for none (default
    /// 64 MiB, about 56 MiB of text).
    pub max_accumulated_size: Option<usize>,
    /// The bound on the distinct choices of a stream and on the choice entries of one event (default
    /// 1,024).
    pub max_choices: usize,
    /// The bound on the distinct tool calls of one choice, and on the tool-call fragments of one event, all
    /// its choices together (default 1,024). A choice's fragments merge into its calls by `index`, so
    /// fragments are counted per event and calls per choice over the whole stream.
    pub max_tool_calls: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_accumulated_size: Some(DEFAULT_MAX_ACCUMULATED_SIZE),
            max_choices: DEFAULT_MAX_CHOICES,
            max_tool_calls: DEFAULT_MAX_TOOL_CALLS,
        }
    }
}

impl StreamLimits {
    /// Sets the bound on one line or event, and on a whole JSON body (at least 1).
    #[must_use]
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes.max(1);
        self
    }

    /// Sets the bound on what one stream keeps: its text and bookkeeping, as allocated (`None`: none; see
    /// [`max_accumulated_size`](Self::max_accumulated_size)).
    #[must_use]
    pub fn max_accumulated_size(mut self, bytes: Option<usize>) -> Self {
        self.max_accumulated_size = bytes;
        self
    }

    /// Sets the bound on distinct choices (at least 1).
    #[must_use]
    pub fn max_choices(mut self, choices: usize) -> Self {
        self.max_choices = choices.max(1);
        self
    }

    /// Sets the bound on distinct tool calls per choice, and on tool-call fragments per event (at least
    /// 1).
    #[must_use]
    pub fn max_tool_calls(mut self, calls: usize) -> Self {
        self.max_tool_calls = calls.max(1);
        self
    }
}
