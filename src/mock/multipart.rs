//! A `multipart/form-data` reader, for handlers that receive uploads (audio to transcribe, a batch file).

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormPart {
    /// The field name (`name=` of `Content-Disposition`).
    pub name: String,
    /// The file name, for a file part (`filename=`).
    pub filename: Option<String>,
    /// The part's `Content-Type`, when it has one.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Vec<u8>,
}

impl FormPart {
    /// The bytes as text, when they are UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// The parts of `body` under the boundary of `content_type`; `None` when it is not
/// `multipart/form-data` or the body does not follow it.
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Option<Vec<FormPart>> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = parameter(params, "boundary")?;
    if boundary.is_empty() {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");

    // Anything before the first delimiter is a preamble, to be ignored.
    let start = memchr::memmem::find(body, delimiter.as_bytes())?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = skip_to_line_end(rest)?;
        let header_end = memchr::memmem::find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        rest = &rest[header_end + 4..];
        let data_end = memchr::memmem::find(rest, next_delimiter.as_bytes())?;
        parts.push(part(headers, &rest[..data_end])?);
        rest = &rest[data_end + next_delimiter.len()..];
    }
}

/// What follows the rest of a delimiter line (transport padding, then CR LF).
fn skip_to_line_end(rest: &[u8]) -> Option<&[u8]> {
    let end = memchr::memmem::find(rest, b"\r\n")?;
    rest[..end]
        .iter()
        .all(|b| *b == b' ' || *b == b'\t')
        .then(|| &rest[end + 2..])
}

fn part(headers: &str, data: &[u8]) -> Option<FormPart> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let (key, value) = line.split_once(':')?;
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let (disposition, params) = value.split_once(';').unwrap_or((value, ""));
            if !disposition.trim().eq_ignore_ascii_case("form-data") {
                return None;
            }
            name = parameter(params, "name");
            filename = parameter(params, "filename");
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    Some(FormPart {
        name: name?,
        filename,
        content_type,
        data: data.to_vec(),
    })
}

/// The value of `name=value` or `name="quoted value"` among `;`-separated parameters (a `;` inside
/// quotes does not separate).
fn parameter(params: &str, name: &str) -> Option<String> {
    let mut rest = params;
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = remainder;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nFunAudioLLM/SenseVoiceSmall\r\n\
--XyZ  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b \\\"c\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n\x00\x01\r\n--XyZ--\r\n";
        let parts = parse("multipart/form-data; boundary=\"XyZ\"", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "model");
        assert_eq!(parts[0].text(), Some("FunAudioLLM/SenseVoiceSmall"));
        assert_eq!(parts[1].filename.as_deref(), Some("a;b \"c\".wav"));
        assert_eq!(parts[1].content_type.as_deref(), Some("audio/wav"));
        assert_eq!(parts[1].data, b"RIFF\r\n\x00\x01");
    }

    #[test]
    fn malformed_bodies_are_none() {
        let ct = "multipart/form-data; boundary=b";
        assert!(parse("application/json", b"{}").is_none());
        assert!(parse("multipart/form-data", b"").is_none());
        assert!(parse(ct, b"no delimiter").is_none());
        assert!(parse(
            ct,
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"
        )
        .is_none());
        assert!(parse(
            ct,
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated"
        )
        .is_none());
        assert_eq!(parse(ct, b"--b--").map(|p| p.len()), Some(0));
    }
}
