//! Compiled only in tests: the parent module declares it `#[cfg(test)] mod tests;`.
use std::io::{Cursor, Read};

use super::*;

fn body(form: &mut Form) -> Vec<u8> {
    let mut out = Vec::new();
    form.reader().unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Reads one byte at a time, the worst split a transport can ask for.
fn body_bytewise(form: &mut Form) -> Vec<u8> {
    let mut reader = form.reader().unwrap();
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte).unwrap() {
            0 => return out,
            _ => out.push(byte[0]),
        }
    }
}

fn temp_file(tag: &str, content: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "sf-multipart-{}-{tag}-{:x}",
        std::process::id(),
        random_u64()
    ));
    fs::write(&path, content).unwrap();
    path
}

/// A parsed part: name, file name, content type, content.
type Parsed = (String, Option<String>, Option<String>, Vec<u8>);

/// A minimal RFC 7578 parser, independent of the encoder: split on the delimiter, read the headers.
fn parse(body: &[u8], boundary: &str) -> Vec<Parsed> {
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = body
        .strip_prefix(format!("--{boundary}").as_bytes())
        .expect("body starts with the first delimiter");
    let mut parts = Vec::new();
    loop {
        if let Some(tail) = rest.strip_prefix(b"--\r\n") {
            assert!(tail.is_empty(), "nothing after the closing delimiter");
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        let end = memchr::memmem::find(rest, delimiter.as_bytes()).expect("a next delimiter");
        let (part, next) = (&rest[..end], &rest[end + delimiter.len()..]);
        let split = memchr::memmem::find(part, b"\r\n\r\n").expect("headers end");
        let headers = std::str::from_utf8(&part[..split]).unwrap();
        let content = part[split + 4..].to_vec();
        let (mut name, mut file_name, mut content_type) = (None, None, None);
        for line in headers.split("\r\n") {
            let (key, value) = line.split_once(": ").unwrap();
            match key {
                "Content-Disposition" => {
                    for param in value.split("; ").skip(1) {
                        let (k, v) = param.split_once('=').unwrap();
                        let v = v.trim_matches('"').to_string();
                        match k {
                            "name" => name = Some(v),
                            "filename" => file_name = Some(v),
                            other => panic!("unexpected parameter {other}"),
                        }
                    }
                }
                "Content-Type" => content_type = Some(value.to_string()),
                other => panic!("unexpected header {other}"),
            }
        }
        parts.push((name.unwrap(), file_name, content_type, content));
        rest = next;
    }
}

#[test]
fn exact_bytes_of_a_form() {
    let mut form = Form::new()
        .text("model", "FunAudioLLM/SenseVoiceSmall")
        .text("na\"me\r\nX-Evil: 1", "line one\r\nline two")
        .file(
            "file",
            FilePart::bytes(b"\x00\x01binary\r\n--".to_vec())
                .file_name("my \"song\"\n.mp3")
                .content_type("audio/mpeg"),
        )
        .file("empty", FilePart::bytes(Vec::new()))
        .with_boundary("XyZ");
    let expected: &[u8] = b"--XyZ\r\n\
Content-Disposition: form-data; name=\"model\"\r\n\
\r\n\
FunAudioLLM/SenseVoiceSmall\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"na%22me%0D%0AX-Evil: 1\"\r\n\
\r\n\
line one\r\nline two\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"my %22song%22%0A.mp3\"\r\n\
Content-Type: audio/mpeg\r\n\
\r\n\
\x00\x01binary\r\n--\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"empty\"; filename=\"file\"\r\n\
Content-Type: application/octet-stream\r\n\
\r\n\
\r\n\
--XyZ--\r\n";
    assert_eq!(
        String::from_utf8_lossy(&body(&mut form)),
        String::from_utf8_lossy(expected)
    );
    assert_eq!(
        body(&mut form),
        expected,
        "a replayable form reads the same twice"
    );
    assert_eq!(body_bytewise(&mut form), expected);
    assert_eq!(form.content_length(), Some(expected.len() as u64));
    assert_eq!(form.content_type(), "multipart/form-data; boundary=XyZ");
}

#[test]
fn empty_form_is_the_closing_delimiter() {
    let mut form = Form::default().with_boundary("b");
    assert_eq!(body(&mut form), b"--b--\r\n");
    assert_eq!(form.content_length(), Some(7));
}

#[test]
fn round_trip_through_an_independent_parser() {
    let path = temp_file("rt", b"{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n");
    let mut form = Form::new()
        .text("purpose", "batch")
        .text("tricky", "--not-a-boundary\r\n\r\n--")
        .text("unicode 名字", "值")
        .file(
            "file",
            FilePart::path(&path)
                .unwrap()
                .content_type("application/jsonl"),
        )
        .file(
            "stream",
            FilePart::reader(Cursor::new(vec![7u8; 10_000])).file_name("x.bin"),
        );
    assert_eq!(form.content_length(), None, "a reader of unknown size");
    assert!(!form.is_replayable());
    let boundary = form.boundary().to_string();
    let bytes = body(&mut form);
    fs::remove_file(&path).unwrap();
    let parts = parse(&bytes, &boundary);
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        parts,
        vec![
            ("purpose".into(), None, None, b"batch".to_vec()),
            (
                "tricky".into(),
                None,
                None,
                b"--not-a-boundary\r\n\r\n--".to_vec()
            ),
            ("unicode 名字".into(), None, None, "值".as_bytes().to_vec()),
            (
                "file".into(),
                Some(file_name),
                Some("application/jsonl".into()),
                b"{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n".to_vec()
            ),
            (
                "stream".into(),
                Some("x.bin".into()),
                Some(DEFAULT_CONTENT_TYPE.into()),
                vec![7u8; 10_000]
            ),
        ]
    );
    // The one-shot reader was taken: the form cannot be sent again.
    assert!(matches!(
        form.reader(),
        Err(MultipartError::ReaderConsumed(name)) if name == "stream"
    ));
    assert!(format!("{form:?}").contains("consumed"));
}

#[test]
fn content_length_of_paths_and_sized_readers() {
    let path = temp_file("len", &[1u8; 4096]);
    let mut form = Form::new()
        .text("model", "m")
        .file("a", FilePart::path(&path).unwrap())
        .file(
            "b",
            FilePart::reader_with_len(Cursor::new(vec![2u8; 300]), 300),
        );
    let announced = form.content_length().unwrap();
    let bytes = body_bytewise(&mut form);
    fs::remove_file(&path).unwrap();
    assert_eq!(announced, bytes.len() as u64);
    let parts = parse(&bytes, form.boundary());
    assert_eq!(parts[1].3, vec![1u8; 4096]);
    assert_eq!(parts[2].3, vec![2u8; 300]);
}

#[test]
fn replayable_forms_reopen_from_the_start() {
    let path = temp_file("replay", b"abc");
    let mut form = Form::new()
        .text("t", "v")
        .file("f", FilePart::path(&path).unwrap())
        .file("g", FilePart::bytes("xyz"));
    assert!(form.is_replayable());
    let mut first = form.reader().unwrap();
    let mut partial = [0u8; 10];
    first.read_exact(&mut partial).unwrap(); // a failed attempt stops midway
    drop(first);
    let again = body(&mut form);
    fs::remove_file(&path).unwrap();
    assert_eq!(&again[..10], &partial);
    assert_eq!(again.len() as u64, form.content_length().unwrap());
}

#[test]
fn sized_sources_that_lie_fail_the_read() {
    // A reader shorter or longer than announced.
    for (len, content) in [(5u64, vec![0u8; 3]), (2, vec![0u8; 3])] {
        let mut form = Form::new().file("f", FilePart::reader_with_len(Cursor::new(content), len));
        let mut out = Vec::new();
        let error = form.reader().unwrap().read_to_end(&mut out).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ),
            "{error}"
        );
    }
    // A file that changed size after the part was made.
    let path = temp_file("shrink", b"0123456789");
    let mut form = Form::new().file("f", FilePart::path(&path).unwrap());
    fs::write(&path, b"0123").unwrap();
    let error = form
        .reader()
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    fs::write(&path, b"0123456789ABC").unwrap();
    let error = form
        .reader()
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    // And one removed: the error names it.
    fs::remove_file(&path).unwrap();
    let error = form
        .reader()
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert!(error.to_string().contains("sf-multipart"), "{error}");
}

#[test]
fn bad_paths_and_content_types_are_refused() {
    assert!(matches!(
        FilePart::path("/definitely/not/here.mp3"),
        Err(MultipartError::File { .. })
    ));
    assert!(matches!(
        FilePart::path(std::env::temp_dir()),
        Err(MultipartError::File { .. })
    ));
    let mut form = Form::new().file(
        "f",
        FilePart::bytes("x").content_type("text/plain\r\nX-Injected: 1"),
    );
    assert!(matches!(
        form.reader(),
        Err(MultipartError::InvalidContentType(_))
    ));
}

#[test]
fn boundary_is_redrawn_when_content_contains_it() {
    let form = Form::new();
    let taken = form.boundary().to_string();
    let form = form.text("t", format!("xx{taken}yy"));
    assert_ne!(form.boundary(), taken);
    assert!(!form.boundary().is_empty() && form.boundary().len() <= 70);

    let form = Form::new().text("a", "b");
    let taken = form.boundary().to_string();
    let form = form.file("f", FilePart::bytes(format!("--{taken}").into_bytes()));
    assert_ne!(form.boundary(), taken);

    let form = Form::new();
    let taken = form.boundary().to_string();
    let form = form.file("f", FilePart::bytes("x").file_name(taken.clone()));
    assert_ne!(form.boundary(), taken);

    // Fresh boundaries differ from one another.
    assert_ne!(Form::new().boundary(), Form::new().boundary());
}

#[test]
fn reader_is_send_and_static() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let mut form = Form::new().text("a", "b");
    assert_send_static(&form.reader().unwrap());
    assert!(format!("{:?}", form.reader().unwrap()).contains("FormReader"));
    assert_eq!(form.reader().unwrap().read(&mut []).unwrap(), 0);
}
