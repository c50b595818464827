//! Moving `<think>…</think>` out of streamed content into reasoning.
//!
//! Some servers (a raw vLLM or SGLang deployment, older DeepSeek-R1 distills, QwQ) send a reasoning model's
//! thinking inside `content`, wrapped in `<think>` tags, instead of in `reasoning_content`. The splitter
//! works on text as it streams: a tag cut across two chunks is recognised, and a possible tag prefix at the
//! end of a chunk is held back (never shown as content) until the next chunk decides it.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// The state of one choice's `<think>` splitting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ThinkSplitter {
    inside: bool,
    /// A suffix of the text so far that may be the start of the next tag.
    held: String,
}

impl ThinkSplitter {
    /// Splits `text` into its reasoning and content parts, appended to `reasoning` and `content`.
    pub(crate) fn split(&mut self, text: &str, reasoning: &mut String, content: &mut String) {
        let joined;
        let mut rest: &str = if self.held.is_empty() {
            text
        } else {
            joined = std::mem::take(&mut self.held) + text;
            &joined
        };
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            let out = if self.inside {
                &mut *reasoning
            } else {
                &mut *content
            };
            if let Some(at) = rest.find(tag) {
                out.push_str(&rest[..at]);
                rest = &rest[at + tag.len()..];
                self.inside = !self.inside;
                continue;
            }
            let keep = partial_tag_suffix(rest, tag);
            out.push_str(&rest[..rest.len() - keep]);
            self.held.push_str(&rest[rest.len() - keep..]);
            return;
        }
    }

    /// Releases a held-back partial tag at the end of the stream: it was text after all.
    pub(crate) fn finish(&mut self, reasoning: &mut String, content: &mut String) {
        let held = std::mem::take(&mut self.held);
        if self.inside {
            reasoning.push_str(&held);
        } else {
            content.push_str(&held);
        }
    }
}

/// The length of the longest proper suffix of `text` that is a prefix of `tag`.
fn partial_tag_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::default();
        let (mut reasoning, mut content) = (String::new(), String::new());
        for chunk in chunks {
            splitter.split(chunk, &mut reasoning, &mut content);
        }
        splitter.finish(&mut reasoning, &mut content);
        (reasoning, content)
    }

    #[test]
    fn every_two_way_and_three_way_split() {
        let text = "<think>Let me 想 a < b</think>The answer: x<y 😊";
        let expected = (
            "Let me 想 a < b".to_string(),
            "The answer: x<y 😊".to_string(),
        );
        let cuts: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for &i in &cuts {
            assert_eq!(run(&[&text[..i], &text[i..]]), expected, "cut at {i}");
            for &j in cuts.iter().filter(|&&j| j >= i) {
                assert_eq!(
                    run(&[&text[..i], &text[i..j], &text[j..]]),
                    expected,
                    "cuts {i} {j}"
                );
            }
        }
        let bytes: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(run(&refs), expected, "one character per chunk");
    }

    #[test]
    fn no_tags_is_all_content_and_partials_are_released() {
        assert_eq!(
            run(&["plain ", "text"]),
            (String::new(), "plain text".into())
        );
        assert_eq!(
            run(&["ends with <thi"]),
            (String::new(), "ends with <thi".into())
        );
        assert_eq!(
            run(&["<think>never closed </thi"]),
            ("never closed </thi".into(), String::new())
        );
        assert_eq!(run(&["a<b>c"]), (String::new(), "a<b>c".into()));
    }

    #[test]
    fn several_blocks() {
        assert_eq!(
            run(&["<think>one</think>A<think>two</think>B"]),
            ("onetwo".into(), "AB".into())
        );
    }
}
