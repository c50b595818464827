//! Text helpers shared by the demo's answers: quoting, a rough tokenizer, ids that look random.

use serde_json::Value;

/// SplitMix64's finaliser: spreads the bits of a seed, for ids that look random.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The text of a message's `content`: a string, or the `text` parts of a content-part array.
pub fn message_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The prompt on one line, cut to `max_chars` characters; "(an empty message)" when empty.
pub fn quote(prompt: &str, max_chars: usize) -> String {
    let one_line = quote_text(prompt, max_chars);
    if one_line.is_empty() {
        return "(an empty message)".to_string();
    }
    one_line
}

/// Text on one line (whitespace runs collapsed), cut to `max_chars` characters with `…`.
pub fn quote_text(text: &str, max_chars: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

/// Splits text into word-ish tokens the way a model's tokenizer roughly would: an ASCII word with
/// its leading space (`" hello"`), one punctuation mark or emoji (with its leading space), up to
/// two CJK characters, or a newline. Concatenating the tokens gives back the text exactly.
pub fn tokenize(text: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Word,
        Letter,
    }
    let mut tokens = Vec::new();
    let mut current = String::new();
    // The kind of the non-space text in `current` and how many characters of it there are.
    let mut kind: Option<Kind> = None;
    let mut len = 0;
    let mut flush = |current: &mut String, kind: &mut Option<Kind>, len: &mut usize| {
        if !current.is_empty() {
            tokens.push(std::mem::take(current));
        }
        *kind = None;
        *len = 0;
    };
    for c in text.chars() {
        if c == '\n' {
            flush(&mut current, &mut kind, &mut len);
            current.push(c);
            flush(&mut current, &mut kind, &mut len);
        } else if c.is_whitespace() {
            if kind.is_some() {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '\'' {
            if kind.is_some_and(|k| k != Kind::Word) {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            kind = Some(Kind::Word);
        } else if c.is_alphabetic() {
            // CJK and other non-ASCII letters: up to two per token.
            if kind.is_some() && (kind != Some(Kind::Letter) || len >= 2) {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            kind = Some(Kind::Letter);
            len += 1;
        } else {
            // Punctuation, symbols and emoji stand alone (after any leading space).
            if kind.is_some() {
                flush(&mut current, &mut kind, &mut len);
            }
            current.push(c);
            flush(&mut current, &mut kind, &mut len);
        }
    }
    flush(&mut current, &mut kind, &mut len);
    tokens
}
