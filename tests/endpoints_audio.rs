//! Audio: text-to-speech (binary audio streamed into a writer), transcription (a multipart upload) and
//! reference voices. The exact requests, every documented answer, SiliconFlow's error bodies, retries,
//! redaction, response metadata, and slow bodies in both directions.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::{json, Value};
use siliconflow::audio::transcription::TranscriptionRequest;
use siliconflow::mock::{Framing, MockResponse, MockServer};
use siliconflow::multipart::FilePart;
use siliconflow::{
    Error, MediaInput, RetryPolicy, SpeechFormat, SpeechReference, SpeechRequest, TimeoutKind,
    VoiceUploadForm, VoiceUploadRequest,
};

const TTS: &str = "FunAudioLLM/CosyVoice2-0.5B";
const ASR: &str = "FunAudioLLM/SenseVoiceSmall";

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&[
        "speech_to",
        "speech_bytes",
        "transcribe",
        "upload_voice",
        "upload_voice_form",
        "list_voices",
        "delete_voice",
    ]));
}

// ---------------------------------------------------------------------------------------------------
// POST /audio/speech

#[test]
fn speech_sends_the_documented_request() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::bytes("audio/mpeg", b"ID3".to_vec()));
    let request = SpeechRequest::new(
        TTS,
        "Can you say it happily? <|endofprompt|>Spring is coming!",
    )
    .voice("")
    .reference(SpeechReference::new(
        "https://example.com/ref.mp3",
        "the transcript",
    ))
    .response_format(SpeechFormat::Mp3)
    .sample_rate(44100)
    .stream(true)
    .speed(1.25)
    .gain(-2.0);
    checks::client(&server)
        .speech_to(&request, &mut Vec::new())
        .unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/audio/speech"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("*/*"));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": TTS, "input": "Can you say it happily? <|endofprompt|>Spring is coming!",
               "voice": "", "references": [{"audio": "https://example.com/ref.mp3", "text": "the transcript"}],
               "response_format": "mp3", "sample_rate": 44100, "stream": true, "speed": 1.25, "gain": -2.0})
    );
}

#[test]
fn speech_at_one_byte_per_read_arrives_whole_with_its_metadata() {
    let server = MockServer::start().unwrap();
    let audio: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    server.enqueue(
        MockResponse::bytes("audio/wav", audio.clone())
            .framing(Framing::Chunked)
            .byte_delay(Duration::from_micros(100))
            .header("x-siliconcloud-trace-id", TRACE),
    );
    struct Counting {
        data: Vec<u8>,
        writes: usize,
    }
    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            self.data.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Counting {
        data: Vec::new(),
        writes: 0,
    };
    let request = SpeechRequest::new(TTS, "hi").response_format(SpeechFormat::Wav);
    let download = checks::client(&server)
        .speech_to(&request, &mut out)
        .unwrap();
    assert_eq!(out.data, audio);
    assert_eq!(download.bytes, 3000);
    assert!(out.writes > 1, "written as it arrived, not at the end");
    assert_eq!(download.request_id(), Some(TRACE));
    assert_eq!(download.content_type(), Some("audio/wav"));
}

/// The first bytes reach the writer while the server still holds the rest back: nothing is buffered.
#[test]
fn speech_is_written_before_the_rest_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let (written_tx, written_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        common::read_request(&mut reader).unwrap();
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        write!(out, "400\r\n{}\r\n", "a".repeat(1024)).unwrap();
        out.flush().unwrap();
        // The rest only once the client's writer has the first piece.
        let before_rest = written_rx.recv_timeout(Duration::from_secs(10)).is_ok();
        write!(out, "400\r\n{}\r\n0\r\n\r\n", "b".repeat(1024)).unwrap();
        out.flush().unwrap();
        before_rest
    });
    struct Signal {
        tx: Option<mpsc::Sender<()>>,
        data: Vec<u8>,
    }
    impl Write for Signal {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.data.extend_from_slice(buf);
            if let Some(tx) = self.tx.take() {
                let _ = tx.send(());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Signal {
        tx: Some(written_tx),
        data: Vec::new(),
    };
    common::client(&base)
        .speech_to(&SpeechRequest::new(TTS, "hi"), &mut out)
        .unwrap();
    assert!(
        server.join().unwrap(),
        "the first piece was written before the rest was sent"
    );
    assert_eq!(out.data.len(), 2048);
}

#[test]
fn speech_bytes_returns_the_audio() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::bytes("application/audio", vec![9u8; 50_000])
            .trickle(4096, Duration::from_millis(1))
            .header("x-siliconcloud-trace-id", TRACE),
    );
    let audio = checks::client(&server)
        .speech_bytes(&SpeechRequest::new(TTS, "hi"))
        .unwrap();
    assert_eq!(audio.data, vec![9u8; 50_000]);
    assert_eq!(audio.content_type(), Some("application/audio"));
    assert_eq!(audio.request_id(), Some(TRACE));
    assert_eq!(
        siliconflow::audio::speech::MAX_SPEECH_BYTES,
        64 * 1024 * 1024
    );
}

#[test]
fn speech_bytes_past_the_limit_is_body_too_large_and_speech_to_still_takes_it() {
    let limit = siliconflow::audio::speech::MAX_SPEECH_BYTES;
    let server = MockServer::start().unwrap();
    let over = vec![1u8; limit as usize + 1];
    server.enqueue(MockResponse::bytes("audio/mpeg", over.clone()));
    server.enqueue(MockResponse::bytes("audio/mpeg", over).framing(Framing::Chunked));
    server.enqueue(MockResponse::bytes("audio/mpeg", vec![2u8; limit as usize]));
    let client = checks::client(&server);
    for framing in ["content-length", "chunked"] {
        let result = client.speech_bytes(&SpeechRequest::new(TTS, "hi"));
        assert!(
            matches!(result, Err(Error::BodyTooLarge { limit: l }) if l == limit),
            "{framing}: {:?}",
            result.map(|audio| audio.data.len())
        );
    }
    let exact = client.speech_bytes(&SpeechRequest::new(TTS, "hi")).unwrap();
    assert_eq!(exact.data.len() as u64, limit);
    // A writer has no such limit: the same audio streams through.
    server.enqueue(MockResponse::bytes(
        "audio/mpeg",
        vec![3u8; limit as usize + 1],
    ));
    let mut counted = Counter(0);
    let written = client
        .speech_to(&SpeechRequest::new(TTS, "hi"), &mut counted)
        .unwrap();
    assert_eq!(counted.0, limit + 1);
    assert_eq!(written.bytes, limit + 1);

    struct Counter(u64);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

#[test]
fn a_json_error_sent_with_200_is_an_error_not_audio() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"code": 20015, "message": "voice not found", "data": null}),
    ));
    server.enqueue(MockResponse::json(
        json!({"error": {"message": "bad input"}}),
    ));
    let client = checks::client(&server);
    let mut out = Vec::new();
    let Err(Error::Api(error)) = client.speech_to(&SpeechRequest::new(TTS, "hi"), &mut out) else {
        panic!("expected Error::Api");
    };
    assert_eq!((error.status, error.code.as_deref()), (200, Some("20015")));
    assert!(out.is_empty());
    let Err(Error::Api(error)) = client.speech_bytes(&SpeechRequest::new(TTS, "hi")) else {
        panic!("expected Error::Api");
    };
    assert_eq!(error.message, "bad input");
}

/// With `stream: true` (the default) the head must come within the idle timeout; with `stream: false`
/// the audio is made before the head, which only the response timeout bounds.
#[test]
fn the_head_wait_follows_the_stream_flag() {
    let server = MockServer::start().unwrap();
    let slow = || {
        MockResponse::bytes("audio/mpeg", b"ID3".to_vec()).head_delay(Duration::from_millis(700))
    };
    let client = checks::client(&server).with_idle_timeout(Some(Duration::from_millis(250)));
    server.enqueue(slow());
    let streamed = client.speech_bytes(&SpeechRequest::new(TTS, "hi"));
    assert!(
        matches!(streamed, Err(Error::Timeout(TimeoutKind::Idle))),
        "{streamed:?}"
    );
    server.enqueue(slow());
    let whole = client.speech_bytes(&SpeechRequest::new(TTS, "hi").stream(false));
    assert_eq!(whole.unwrap().data, b"ID3");
}

// ---------------------------------------------------------------------------------------------------
// POST /audio/transcriptions

fn transcription_ok() -> MockResponse {
    MockResponse::json(json!({"text": "今天天气不错。"})).header("x-siliconcloud-trace-id", TRACE)
}

#[test]
fn transcription_uploads_the_documented_parts_from_bytes_a_path_and_a_reader() {
    let server = MockServer::start().unwrap();
    let audio = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    let path = std::env::temp_dir().join(format!("sf-asr-{}.wav", std::process::id()));
    std::fs::write(&path, &audio).unwrap();
    let client = checks::client(&server);
    let sources = [
        FilePart::bytes(audio.clone()).file_name("hello.wav"),
        FilePart::path(&path).unwrap(),
        FilePart::reader(std::io::Cursor::new(audio.clone())).file_name("hello.wav"),
    ];
    for (n, source) in sources.into_iter().enumerate() {
        server.enqueue(transcription_ok());
        let request = TranscriptionRequest::new(ASR, source.content_type("audio/wav"))
            .extra_field("language", "zh");
        let answer = client.transcribe(request).unwrap();
        assert_eq!(answer.text, "今天天气不错。");
        assert_eq!(answer.request_id(), Some(TRACE));
        let sent = server.last_request().unwrap();
        assert!(sent.is("POST", "/v1/audio/transcriptions"));
        assert_eq!(sent.bearer_token(), Some(KEY));
        assert!(sent
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="));
        let parts = sent.multipart().expect("a multipart body");
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["model", "language", "file"]);
        assert_eq!(parts[0].text(), Some(ASR));
        let file = &parts[2];
        assert_eq!(file.data, audio);
        assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
        let expected_name = if n == 1 {
            path.file_name().unwrap().to_str().unwrap()
        } else {
            "hello.wav"
        };
        assert_eq!(file.filename.as_deref(), Some(expected_name));
        // A reader of unknown length is sent chunked; the others with their length.
        let chunked = sent.header("transfer-encoding") == Some("chunked");
        assert_eq!(chunked, n == 2, "source {n}");
        assert_eq!(
            sent.header("content-length").is_some(),
            n != 2,
            "source {n}"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn transcription_answers_of_every_shape() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(json!({"text": null})));
    server.enqueue(MockResponse::json(
        json!({"text": "<|HAPPY|>hi", "duration": 1.5}),
    ));
    let client = checks::client(&server);
    let audio = || TranscriptionRequest::new(ASR, FilePart::bytes(b"x".to_vec()));
    assert_eq!(client.transcribe(audio()).unwrap().text, "");
    let tagged = client.transcribe(audio()).unwrap();
    assert_eq!(tagged.text, "<|HAPPY|>hi", "kept as sent");
    assert_eq!(tagged.extra.get("duration").unwrap().get(), "1.5");
}

#[test]
fn a_file_upload_is_re_sent_on_a_retry_but_a_reader_once_read_is_not() {
    let server = MockServer::start().unwrap();
    let client = common::builder(&server.base_url())
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    server.enqueue(MockResponse::overloaded());
    server.enqueue(transcription_ok());
    let bytes = TranscriptionRequest::new(ASR, FilePart::bytes(vec![3u8; 10_000]));
    assert_eq!(client.transcribe(bytes).unwrap().text, "今天天气不错。");
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body);

    server.clear_requests();
    server.enqueue(MockResponse::overloaded());
    server.enqueue(transcription_ok());
    let reader = TranscriptionRequest::new(
        ASR,
        FilePart::reader(std::io::Cursor::new(vec![3u8; 10_000])),
    );
    let Err(Error::Api(error)) = client.transcribe(reader) else {
        panic!("a one-shot reader that was read is not sent again");
    };
    assert_eq!(error.status, 503);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn an_unreadable_source_is_an_upload_error() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("device unplugged"))
        }
    }
    let server = MockServer::start().unwrap();
    let result = checks::client(&server)
        .transcribe(TranscriptionRequest::new(ASR, FilePart::reader(Broken)));
    assert!(
        matches!(&result, Err(Error::Upload { source }) if source.to_string().contains("device unplugged")),
        "{result:?}"
    );
    let missing = FilePart::path("/no/such/audio.wav").map_err(Error::from);
    assert!(matches!(missing, Err(Error::Upload { .. })));
}

/// A server that reads the upload slowly, a piece every few milliseconds: each write makes progress, so
/// the idle timeout never fires and the upload completes.
#[test]
fn a_transcription_upload_to_a_server_that_reads_slowly_completes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::with_capacity(4096, stream.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut received = 0;
        let mut piece = vec![0u8; 16 * 1024];
        while received < length {
            let want = piece.len().min(length - received);
            let n = reader.read(&mut piece[..want]).unwrap();
            assert!(n > 0, "the client stopped sending");
            received += n;
            std::thread::sleep(Duration::from_millis(5));
        }
        let body = format!("{{\"text\":\"{received} bytes\"}}");
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        received
    });
    let client = common::client(&base).with_idle_timeout(Some(Duration::from_millis(700)));
    let audio = vec![b'a'; 3 << 20];
    let start = Instant::now();
    let answer = client
        .transcribe(TranscriptionRequest::new(ASR, FilePart::bytes(audio)))
        .unwrap();
    let received = server.join().unwrap();
    assert_eq!(answer.text, format!("{received} bytes"));
    assert!(received > 3 << 20);
    // 192 pieces at least 5 ms apart: the upload took longer than the idle timeout, which never fired
    // because every write made progress.
    assert!(
        start.elapsed() > Duration::from_millis(900),
        "the server really read slowly ({:?})",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------------
// Reference voices

#[test]
fn a_voice_uploads_as_json_or_multipart() {
    let server = MockServer::start().unwrap();
    let uri = "speech:my-voice:cm04pf7az00061413w7kz5qxs:mjtkgbyuunvtybnsvbxd";
    let answer =
        || MockResponse::json(json!({"uri": uri})).header("x-siliconcloud-trace-id", TRACE);
    server.enqueue(answer());
    server.enqueue(answer());
    let client = checks::client(&server);

    let json_upload = VoiceUploadRequest::new(
        TTS,
        "my-voice",
        "在一无所知中",
        MediaInput::from_bytes([0xFF, 0xFB], "audio/mpeg"),
    );
    let voice = client.upload_voice(&json_upload).unwrap();
    assert_eq!(voice.uri, uri);
    assert_eq!(voice.request_id(), Some(TRACE));
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/uploads/audio/voice"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": TTS, "customName": "my-voice", "text": "在一无所知中", "audio": "data:audio/mpeg;base64,//s="})
    );

    let form = VoiceUploadForm::new(
        TTS,
        "my-voice",
        "在一无所知中",
        FilePart::bytes(vec![0xFF, 0xFB])
            .file_name("sample.mp3")
            .content_type("audio/mpeg"),
    );
    assert_eq!(client.upload_voice_form(form).unwrap().uri, uri);
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/uploads/audio/voice"));
    let parts = sent.multipart().unwrap();
    let fields: Vec<(&str, Option<&str>)> = parts
        .iter()
        .map(|p| (p.name.as_str(), p.filename.as_deref()))
        .collect();
    assert_eq!(
        fields,
        [
            ("model", None),
            ("customName", None),
            ("text", None),
            ("file", Some("sample.mp3"))
        ]
    );
    assert_eq!(parts[1].text(), Some("my-voice"));
    assert_eq!(parts[3].data, [0xFF, 0xFB]);
}

#[test]
fn the_voice_list_in_every_shape() {
    let server = MockServer::start().unwrap();
    let voice = json!({"model": TTS, "customName": "v1", "text": "t", "uri": "speech:v1:a:b"});
    for body in [
        json!({"results": [voice]}),
        json!({"result": [voice]}),
        json!({"results": null}),
        json!({}),
    ] {
        server.enqueue(MockResponse::json(body).header("x-siliconcloud-trace-id", TRACE));
    }
    let client = checks::client(&server);
    for expected in [1, 1, 0, 0] {
        let list = client.list_voices().unwrap();
        assert_eq!(list.results.len(), expected);
        assert_eq!(list.request_id(), Some(TRACE));
        let sent = server.last_request().unwrap();
        assert!(sent.is("GET", "/v1/audio/voice/list"));
        assert!(sent.body.is_empty());
    }
}

#[test]
fn deleting_a_voice_takes_any_2xx_answer() {
    let server = MockServer::start().unwrap();
    let bodies: [(&str, Value); 4] = [
        ("\"ok\"", json!("ok")),
        ("{}", json!({})),
        ("", Value::Null),
        ("deleted", json!("deleted")),
    ];
    for (body, _) in &bodies {
        server.enqueue(
            MockResponse::bytes("application/json", body.to_string())
                .header("x-siliconcloud-trace-id", TRACE),
        );
    }
    let client = checks::client(&server);
    for (_, expected) in bodies {
        let answer = client.delete_voice("speech:v1:a:b").unwrap();
        assert_eq!(answer.body.to_value(), expected);
        assert_eq!(answer.request_id(), Some(TRACE));
        let sent = server.last_request().unwrap();
        assert!(sent.is("POST", "/v1/audio/voice/deletions"));
        assert_eq!(sent.json().unwrap(), json!({"uri": "speech:v1:a:b"}));
    }
    server.enqueue(MockResponse::json(
        json!({"error": {"message": "no such voice"}}),
    ));
    let Err(Error::Api(error)) = client.delete_voice("speech:x:a:b") else {
        panic!("an error object is an error");
    };
    assert_eq!(
        (error.status, error.message.as_str()),
        (200, "no such voice")
    );
}
