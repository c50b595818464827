//! `siliconflow::mock`: every scripting feature, exercised through `siliconflow::Client` (and, for what a
//! client never sends, through a raw socket).
//!
//! Only generous bounds on time: a lower bound proves "paced", an upper bound only "did not hang".
#![cfg(feature = "mock-server")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use siliconflow::mock::{BreakPoint, Framing, MockResponse, MockServer, SseEvent};
use siliconflow::{
    ChatCompletion, ChatDelta, ChatRequest, ChatStream, Client, EmbeddingRequest, Error, Message,
    ModelsQuery, RetryPolicy, TimeoutKind,
};

const KEY: &str = "sk-mock-test-0123456789";

fn client(server: &MockServer) -> Client {
    builder(server).build().expect("client")
}

fn builder(server: &MockServer) -> siliconflow::ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none())
}

fn request() -> ChatRequest {
    ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("你好")])
}

fn chunk(content: &str, finish: Option<&str>) -> SseEvent {
    SseEvent::json(&json!({
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    }))
}

/// A stream of `n` content events "0".."n-1", a finish and `[DONE]`.
fn numbered_stream(n: usize) -> MockResponse {
    let mut events: Vec<SseEvent> = (0..n).map(|i| chunk(&i.to_string(), None)).collect();
    events.push(chunk("", Some("stop")));
    events.push(SseEvent::done());
    MockResponse::sse(events)
}

fn completion_body(text: &str) -> Value {
    json!({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
}

/// Everything a stream yields and accumulates, for comparing two streams.
#[derive(Debug, PartialEq)]
struct Replay {
    deltas: Vec<ChatDelta>,
    error: Option<String>,
    content: String,
    reasoning: String,
    tool_calls: String,
    finish: String,
    usage: String,
}

fn replay<R: BufRead>(mut stream: ChatStream<R>) -> Replay {
    let mut deltas = Vec::new();
    let mut error = None;
    for item in &mut stream {
        match item {
            Ok(delta) => deltas.push(delta),
            // The kind of error, without its I/O details (a socket and a slice end differently).
            Err(e) => error = Some(format!("{e:?}").chars().take(12).collect()),
        }
    }
    Replay {
        deltas,
        error,
        content: stream.content().to_string(),
        reasoning: stream.reasoning_content().to_string(),
        tool_calls: format!("{:?}", stream.tool_calls()),
        finish: format!("{:?}", stream.finish_reason()),
        usage: format!("{:?}", stream.usage()),
    }
}

// ---- Recorded streams --------------------------------------------------------------------------------

#[test]
fn recorded_sse_replay_equals_from_reader_over_the_same_file() {
    let wire = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire");
    let mut captures: Vec<_> = std::fs::read_dir(&wire)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sse"))
        .collect();
    captures.sort();
    assert!(captures.len() >= 10, "{captures:?}");
    let server = MockServer::start().unwrap();
    let client = client(&server);
    for path in &captures {
        let bytes = std::fs::read(path).unwrap();
        let expected = replay(ChatStream::from_reader(&bytes[..]));
        assert!(!expected.deltas.is_empty(), "{path:?}");
        for framing in [
            Framing::Chunked,
            Framing::ContentLength,
            Framing::CloseDelimited,
        ] {
            let response = MockResponse::sse_file(path).unwrap().framing(framing);
            assert_eq!(response.body(), bytes, "{path:?} is replayed byte for byte");
            server.enqueue(response);
            let got = replay(client.chat_stream(&request()).unwrap());
            assert_eq!(got, expected, "{path:?} over {framing:?}");
        }
    }
    assert_eq!(server.request_count(), captures.len() * 3);
}

#[test]
fn recorded_text_and_event_kinds() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    // Comments, CRLF line ends, a multi-line event and `[DONE]`, as raw recorded text.
    let recorded = ": keep-alive\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\n\r\n\
                    data: {\"choices\":[{\"index\":0,\r\ndata: \"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\n";
    server.enqueue(MockResponse::sse_recorded(recorded));
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(stream.by_ref().filter_map(Result::ok).count(), 2);
    assert_eq!(stream.content(), "ab");

    // A named `error` event is a stream error; what came before stays readable.
    server.enqueue(MockResponse::sse(vec![
        chunk("partial", None),
        SseEvent::named("error", r#"{"error":{"message":"overloaded mid-stream"}}"#),
    ]));
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    let error = stream.next().unwrap().unwrap_err();
    assert!(matches!(error, Error::Stream(_)), "{error:?}");
    assert_eq!(stream.content(), "partial");

    // Raw bytes go out exactly as given.
    server.enqueue(MockResponse::sse(vec![SseEvent::raw("data: {oops}\n\n")]));
    let error = client
        .chat_stream(&request())
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(error, Error::MalformedChunk { event: 1, .. }),
        "{error:?}"
    );
}

// ---- JSON bodies, statuses, headers, errors ----------------------------------------------------------

#[test]
fn json_bodies_with_any_status_and_headers() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.enqueue(
        MockResponse::json(completion_body("whole")).header("x-siliconcloud-trace-id", "t-1"),
    );
    let completion: ChatCompletion = client.chat(&request()).unwrap();
    assert_eq!(completion.content(), "whole");

    server.enqueue(
        MockResponse::json(json!({"code": 20015, "message": "bad parameter", "data": null}))
            .status(422)
            .header("x-siliconcloud-trace-id", "trace-422"),
    );
    let error = client.chat(&request()).unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!(api.status, 422);
    assert_eq!(api.code.as_deref(), Some("20015"));
    assert_eq!(api.message, "bad parameter");
    assert_eq!(api.request_id.as_deref(), Some("trace-422"));

    // Without a trace id of its own, every response carries one from the server.
    server.enqueue(MockResponse::model_not_found());
    let error = client.chat(&request()).unwrap_err();
    assert!(error
        .api_error()
        .unwrap()
        .request_id
        .as_deref()
        .unwrap()
        .starts_with("mock-"));
}

#[test]
fn siliconflow_error_helpers_are_read_as_siliconflow_errors() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let cases = [
        (
            MockResponse::model_not_found(),
            400,
            Some("20012"),
            "Model does not exist",
        ),
        (MockResponse::invalid_token(), 401, None, "Invalid token"),
        (
            MockResponse::insufficient_balance(),
            403,
            Some("30001"),
            "balance is insufficient",
        ),
        (MockResponse::not_found(), 404, None, "404 page not found"),
        (
            MockResponse::rate_limited(),
            429,
            None,
            "rejected due to rate limiting",
        ),
        (
            MockResponse::overloaded(),
            503,
            Some("50505"),
            "Model service overloaded",
        ),
        (
            MockResponse::siliconflow_error(400, 20015, "enable_thinking"),
            400,
            Some("20015"),
            "enable_thinking",
        ),
    ];
    for (response, status, code, message) in cases {
        server.enqueue(response);
        let error = client.chat_stream(&request()).unwrap_err();
        let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(api.status, status);
        assert_eq!(api.code.as_deref(), code);
        assert!(api.message.contains(message), "{api:?}");
    }
}

#[test]
fn a_429_then_a_200_shows_the_retry_in_the_recorded_requests() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::rate_limited().header("retry-after-ms", "10"));
    server.enqueue(MockResponse::overloaded().header("retry-after-ms", "10"));
    server.enqueue(numbered_stream(3));
    let client = builder(&server)
        .retry_policy(RetryPolicy::default().max_retries(2))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    for delta in &mut stream {
        delta.unwrap();
    }
    assert_eq!(stream.content(), "012");
    let sent = server.requests();
    assert_eq!(sent.len(), 3, "the first attempt and two retries");
    assert!(sent.iter().all(|r| r.is("POST", "/v1/chat/completions")));
    assert!(
        sent.iter().all(|r| r.body == sent[0].body),
        "the same request re-sent"
    );
    assert_eq!(server.pending(), 0);
}

// ---- Routing, handler, recording ---------------------------------------------------------------------

#[test]
fn a_handler_routes_by_method_and_path_and_queued_responses_come_first() {
    let server = MockServer::with_handler(|request| {
        if request.is("GET", "/v1/models") {
            let kind = request.query_param("type").unwrap_or_default();
            MockResponse::json(json!({"object": "list", "data": [{"id": format!("model-{kind}")}]}))
        } else if request.is("GET", "/v1/user/info") {
            MockResponse::json(json!({"code": 20000, "message": "OK", "status": true,
                "data": {"id": "u1", "balance": "1.5", "totalBalance": "2.5"}}))
        } else {
            MockResponse::not_found()
        }
    })
    .unwrap();
    let client = client(&server);
    server.enqueue_for("GET", "/v1/models", MockResponse::overloaded());
    assert_eq!(client.user_info().unwrap().total_balance, "2.5");
    assert_eq!(
        client.list_models().unwrap_err().status(),
        Some(503),
        "the queued answer first"
    );
    let models = client.models(&ModelsQuery::new().kind("text")).unwrap();
    assert_eq!(
        models.ids().collect::<Vec<_>>(),
        ["model-text"],
        "then the handler"
    );
    assert_eq!(client.chat(&request()).unwrap_err().status(), Some(404));

    // A handler can be replaced while the server runs; a panicking one answers 500.
    server.set_handler(|_| panic!("a test handler that panics"));
    assert_eq!(client.list_models().unwrap_err().status(), Some(500));
    assert_eq!(
        client.user_info().unwrap_err().status(),
        Some(500),
        "the server lives on"
    );
}

#[test]
fn nothing_scripted_is_a_404_that_says_so() {
    let server = MockServer::start().unwrap();
    let error = client(&server).list_models().unwrap_err();
    let api = error.api_error().unwrap();
    assert_eq!(api.status, 404);
    assert!(
        api.message
            .contains("no response scripted for GET /v1/models"),
        "{api:?}"
    );
}

#[test]
fn requests_are_recorded_with_method_path_query_headers_and_body() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.enqueue(MockResponse::json(json!({"object": "list", "data": []})));
    client
        .models(&ModelsQuery::new().kind("text").sub_type("chat"))
        .unwrap();
    server.enqueue(MockResponse::json(json!({
        "object": "list", "model": "BAAI/bge-m3",
        "data": [{"object": "embedding", "embedding": [0.5, 0.25], "index": 0}]
    })));
    let embeddings = client
        .embeddings(&EmbeddingRequest::new("BAAI/bge-m3", vec!["向量"]))
        .unwrap();
    assert_eq!(embeddings.vectors().unwrap(), [[0.5, 0.25]]);

    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(sent[0].query, "type=text&sub_type=chat");
    assert_eq!(sent[0].query_param("sub_type").as_deref(), Some("chat"));
    assert_eq!(sent[0].bearer_token(), Some(KEY));
    assert!(sent[0].body.is_empty());
    assert!(sent[1].is("POST", "/v1/embeddings"));
    assert!(sent[1]
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(sent[1].json().unwrap()["input"], json!(["向量"]));
    assert_eq!(server.last_request().unwrap(), sent[1]);
    server.clear_requests();
    assert_eq!(server.request_count(), 0);
}

#[test]
fn requests_are_readable_while_their_answer_is_still_streaming() {
    let server = MockServer::start().unwrap();
    server.enqueue(numbered_stream(3).stall(BreakPoint::AfterEvents(1)));
    let client = builder(&server)
        .idle_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let mut stream = client.chat_stream(&request()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().content.as_deref(),
        Some("0")
    );
    assert_eq!(
        server.request_count(),
        1,
        "recorded before its answer ended"
    );
    assert!(server.requests()[0].json().unwrap()["stream"] == true);
    let error = stream.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Timeout(TimeoutKind::Idle)),
        "{error:?}"
    );
}

// ---- Pacing ------------------------------------------------------------------------------------------

#[test]
fn pacing_before_the_head_between_events_and_per_byte() {
    let server = MockServer::start().unwrap();
    let client = client(&server);

    server.enqueue(numbered_stream(2).head_delay(Duration::from_millis(300)));
    let started = Instant::now();
    let stream = client.chat_stream(&request()).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "head delayed"
    );
    drop(stream);

    // 6 events 80 ms apart: the first delta long before the last.
    server.enqueue(numbered_stream(4).event_delay(Duration::from_millis(80)));
    let started = Instant::now();
    let mut stream = client.chat_stream(&request()).unwrap();
    let mut arrivals = Vec::new();
    for delta in &mut stream {
        delta.unwrap();
        arrivals.push(started.elapsed());
    }
    assert_eq!(stream.content(), "0123");
    let spread = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(spread >= Duration::from_millis(300), "paced: {arrivals:?}");

    // 60 bytes, 5 ms apart: at least 250 ms in all.
    server.enqueue(
        MockResponse::json(completion_body("byte by byte")).byte_delay(Duration::from_millis(5)),
    );
    let body_len = MockResponse::json(completion_body("byte by byte"))
        .body()
        .len();
    assert!(body_len > 60);
    let started = Instant::now();
    assert_eq!(client.chat(&request()).unwrap().content(), "byte by byte");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_binary_body_trickles_in_pieces() {
    let server = MockServer::start().unwrap();
    let audio: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    server.enqueue(
        MockResponse::bytes("audio/wav", audio.clone())
            .framing(Framing::Chunked)
            .trickle(8_000, Duration::from_millis(60)),
    );
    let started = Instant::now();
    let (head, body) = raw_exchange(server.addr(), b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "4 pauses of 60 ms"
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert!(head.contains("Content-Type: audio/wav"), "{head}");
    assert_eq!(dechunk(&body), audio);
}

// ---- Cuts and stalls ---------------------------------------------------------------------------------

#[test]
fn a_cut_connection_is_a_stream_cut_in_every_framing() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let points = [
        (BreakPoint::AfterEvents(2), "01"),
        (BreakPoint::MidEvent(1), "0"),
        (
            BreakPoint::AfterBytes(numbered_stream(5).body().len() / 2),
            "01",
        ),
        (BreakPoint::AfterEvents(0), ""),
    ];
    for framing in [
        Framing::Chunked,
        Framing::ContentLength,
        Framing::CloseDelimited,
    ] {
        for (point, content) in points {
            server.enqueue(numbered_stream(5).framing(framing).cut(point));
            let mut stream = client.chat_stream(&request()).unwrap();
            let items: Vec<_> = stream.by_ref().collect();
            let last = items.last().unwrap();
            assert!(
                matches!(last, Err(Error::StreamCut { .. })),
                "{framing:?} {point:?}: {last:?}"
            );
            assert!(
                stream.content().starts_with(content),
                "{framing:?} {point:?}"
            );
        }
    }
    // Cut after the whole body but before the chunked body's last chunk: every choice finished and
    // `[DONE]` arrived, so the answer is whole whatever the framing says.
    server.enqueue(numbered_stream(2).cut(BreakPoint::AfterEvents(99)));
    let mut stream = client.chat_stream(&request()).unwrap();
    assert!(stream.by_ref().all(|item| item.is_ok()));
    assert_eq!(stream.content(), "01");
}

#[test]
fn a_cut_before_the_head_is_retried_and_otherwise_a_transport_error() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::empty(200).cut(BreakPoint::BeforeHead));
    let error = client(&server).chat(&request()).unwrap_err();
    assert!(error.is_retryable(), "{error:?}");

    server.enqueue(MockResponse::empty(200).cut(BreakPoint::BeforeHead));
    server.enqueue(MockResponse::json(completion_body("second try")));
    let retrying = builder(&server)
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    assert_eq!(retrying.chat(&request()).unwrap().content(), "second try");
    assert_eq!(server.request_count(), 3);
}

#[test]
fn a_stall_is_a_timeout_and_dropping_the_server_ends_it() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::empty(200).stall(BreakPoint::BeforeHead));
    let client = builder(&server)
        .response_timeout(Duration::from_millis(300))
        .idle_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.chat_stream(&request()).unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A stall mid-body, then drop the server while a client still waits on a stalled connection.
    server.enqueue(
        numbered_stream(3)
            .framing(Framing::ContentLength)
            .stall(BreakPoint::MidEvent(1)),
    );
    let patient = builder(&server).idle_timeout(None).build().unwrap();
    let mut stream = patient.chat_stream(&request()).unwrap();
    assert!(stream.next().unwrap().is_ok());
    let waiter = std::thread::spawn(move || stream.next().map(|item| item.is_err()));
    std::thread::sleep(Duration::from_millis(100));
    let dropping = Instant::now();
    drop(server);
    assert!(
        dropping.elapsed() < Duration::from_secs(5),
        "drop joins promptly"
    );
    assert_eq!(
        waiter.join().unwrap(),
        Some(true),
        "the waiting client sees the connection end"
    );
}

// ---- Connections -------------------------------------------------------------------------------------

#[test]
fn keep_alive_reuse_shows_in_the_connection_count() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    for i in 0..3 {
        server.enqueue(numbered_stream(i + 1));
        let mut stream = client.chat_stream(&request()).unwrap();
        for delta in &mut stream {
            delta.unwrap();
        }
        server.enqueue(MockResponse::json(completion_body("json")));
        client.chat(&request()).unwrap();
    }
    assert_eq!(server.connections(), 1, "six requests on one connection");
    assert!(server.requests().iter().all(|r| r.connection == 1));

    // A close-delimited answer ends the connection: the next request opens another.
    server.enqueue(numbered_stream(1).framing(Framing::CloseDelimited));
    for delta in client.chat_stream(&request()).unwrap() {
        delta.unwrap();
    }
    server.enqueue(MockResponse::json(completion_body("again")));
    client.chat(&request()).unwrap();
    assert_eq!(server.connections(), 2);
    assert_eq!(server.last_request().unwrap().connection, 2);
}

#[test]
fn pipelined_chunked_and_fixed_length_bodies_on_one_raw_connection() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::text("first"));
    server.enqueue(MockResponse::text("second"));
    let mut socket = TcpStream::connect(server.addr()).unwrap();
    socket
        .write_all(
            b"POST /v1/a?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              4\r\nchun\r\n5;ext=1\r\nked b\r\n3\r\nody\r\n0\r\nTrailer: t\r\n\r\n\
              POST /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfixed",
        )
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    assert!(
        answer.contains("first") && answer.ends_with("second"),
        "{answer}"
    );
    let sent = server.requests();
    assert_eq!(sent[0].body, b"chunked body");
    assert_eq!(sent[0].query, "x=1");
    assert_eq!(sent[1].body, b"fixed");
    assert_eq!(server.connections(), 1);
}

#[test]
fn expect_100_continue_and_multipart_uploads() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(json!({"text": "ok"})));
    let body = "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nFunAudioLLM/SenseVoiceSmall\r\n\
                --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
                Content-Type: audio/wav\r\n\r\nRIFF....\r\n--B--\r\n";
    let mut socket = TcpStream::connect(server.addr()).unwrap();
    write!(
        socket,
        "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
         Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
    socket.write_all(body.as_bytes()).unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("HTTP/1.1 200 OK") && rest.ends_with(r#"{"text":"ok"}"#),
        "{rest}"
    );
    let file = server.requests()[0].form_part("file").unwrap();
    assert_eq!(file.filename.as_deref(), Some("a.wav"));
    assert_eq!(file.data, b"RIFF....");
    let model = server.requests()[0].form_part("model").unwrap();
    assert_eq!(model.text(), Some("FunAudioLLM/SenseVoiceSmall"));
}

// ---- Bounds and bad input ----------------------------------------------------------------------------

#[test]
fn oversized_requests_are_refused_without_unbounded_memory() {
    let server = MockServer::builder()
        .max_body_size(1024 * 1024)
        .start()
        .unwrap();

    // Through the client: a 2 MiB embeddings request is answered 413 (the server reads and drops it).
    let big = "x".repeat(2 * 1024 * 1024);
    let error = client(&server)
        .embeddings(&EmbeddingRequest::new("BAAI/bge-m3", vec![big.as_str()]))
        .unwrap_err();
    assert_eq!(error.status(), Some(413), "{error:?}");

    // A declared terabyte, as a length and as a chunk: refused from the head, nothing allocated (an
    // allocation of that size would abort the test process).
    let (head, _) = raw_exchange(
        server.addr(),
        b"POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    let (head, _) = raw_exchange(
        server.addr(),
        b"POST /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000\r\nabc",
    );
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    // Small chunks adding up past the bound.
    let mut chunked =
        b"POST /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend_from_slice(&[b'y'; 0x10000]);
        chunked.extend_from_slice(b"\r\n");
    }
    let (head, _) = raw_exchange(server.addr(), &chunked);
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");

    // A megabyte-long header line is refused after the line bound, and so are too many headers.
    let mut long = b"GET /v1/models HTTP/1.1\r\nX-Long: ".to_vec();
    long.extend_from_slice(&vec![b'z'; 1024 * 1024]);
    long.extend_from_slice(b"\r\n\r\n");
    let (head, _) = raw_exchange(server.addr(), &long);
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
    let many: String = (0..500).map(|i| format!("X-{i}: v\r\n")).collect();
    let (head, _) = raw_exchange(
        server.addr(),
        format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(),
    );
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");

    assert_eq!(server.rejected(), 6);
    assert_eq!(
        server.request_count(),
        0,
        "refused requests reach neither the script nor the record"
    );
}

#[test]
fn bad_input_never_takes_the_server_down() {
    let server = MockServer::start().unwrap();
    let garbage: &[&[u8]] = &[
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\n",
        b"",
    ];
    for input in garbage {
        let (head, _) = raw_exchange(server.addr(), input);
        assert!(
            head.is_empty() || head.starts_with("HTTP/1.1 4") || head.starts_with("HTTP/1.1 5"),
            "{input:?}: {head}"
        );
    }
    server.enqueue(MockResponse::json(
        json!({"object": "list", "data": [{"id": "still-here"}]}),
    ));
    let models = client(&server).list_models().unwrap();
    assert_eq!(models.ids().collect::<Vec<_>>(), ["still-here"]);
}

// ---- Raw socket helpers ------------------------------------------------------------------------------

/// Sends `request`, half-closes, and reads the answer until the server closes: the head (up to the
/// blank line) and the body bytes.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (String, Vec<u8>) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may refuse before reading everything: a failed write is part of the test.
    let _ = socket.write_all(request);
    let _ = socket.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => (
            String::from_utf8_lossy(&answer[..end + 4]).into_owned(),
            answer[end + 4..].to_vec(),
        ),
        None => (String::from_utf8_lossy(&answer).into_owned(), Vec::new()),
    }
}

/// The data of a chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}
