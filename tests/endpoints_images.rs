//! Images: `POST /images/generations` and downloading a generated image from its pre-signed URL.
//! The exact request, every documented answer, SiliconFlow's error bodies, retries, redaction, response
//! metadata; the download sends nothing of the caller's, streams, and a stalled one times out.

mod common;

use std::time::{Duration, Instant};

use common::checks::{self, TRACE};
use common::KEY;
use serde_json::json;
use siliconflow::mock::{BreakPoint, MockResponse, MockServer};
use siliconflow::{Error, ImageRequest, MediaInput, TimeoutKind};

#[test]
fn every_endpoint_keeps_the_promises() {
    checks::assert_promises(&checks::rows(&["generate_images", "download_image"]));
}

#[test]
fn generation_sends_the_documented_request() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"images": [{"url": "https://e/1.png"}]}),
    ));
    let request = ImageRequest::new("Qwen/Qwen-Image-Edit-2509", "put a hat on the cat")
        .negative_prompt("blurry")
        .seed(9_999_999_999)
        .num_inference_steps(50)
        .cfg(4.0)
        .image(MediaInput::from_bytes(
            [0x89, b'P', b'N', b'G'],
            "image/png",
        ))
        .image2("https://example.com/hat.png")
        .extra_field("output_format", "png");
    checks::client(&server).generate_images(&request).unwrap();
    let sent = server.last_request().unwrap();
    assert!(sent.is("POST", "/v1/images/generations"));
    assert_eq!(sent.bearer_token(), Some(KEY));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(
        sent.json().unwrap(),
        json!({"model": "Qwen/Qwen-Image-Edit-2509", "prompt": "put a hat on the cat",
               "negative_prompt": "blurry", "seed": 9_999_999_999u64, "num_inference_steps": 50,
               "cfg": 4.0, "image": "data:image/png;base64,iVBORw==",
               "image2": "https://example.com/hat.png", "output_format": "png"})
    );
}

#[test]
fn generation_reads_every_documented_answer_with_its_metadata() {
    let server = MockServer::start().unwrap();
    let url = "https://sc-maas.oss-cn-shanghai.aliyuncs.com/outputs/a.png?Expires=1761280528&OSSAccessKeyId=x&Signature=y";
    // The documented answer, then with the fields seen in real answers, then OpenAI's `data` only.
    server.enqueue(
        MockResponse::json(
            json!({"images": [{"url": url}], "timings": {"inference": 0.385}, "seed": 12345}),
        )
        .header("x-siliconcloud-trace-id", TRACE),
    );
    server.enqueue(MockResponse::json(json!({
        "images": [{"url": url}, {"url": "https://s3.siliconflow.cn/temporary/outputs/b.png"}],
        "timings": {"inference": 0.272}, "seed": 9_999_999_999u64,
        "data": [{"url": url}], "created": 1761276928, "shared_id": "0"
    })));
    server.enqueue(MockResponse::json(
        json!({"data": [{"url": url}], "seed": null, "timings": null}),
    ));
    let client = checks::client(&server);
    let request = ImageRequest::new("Kwai-Kolors/Kolors", "fox");

    let documented = client.generate_images(&request).unwrap();
    assert_eq!(documented.urls().collect::<Vec<_>>(), [url]);
    assert_eq!(documented.seed, Some(12345));
    assert_eq!(
        documented.timings.inference_duration(),
        Some(Duration::from_millis(385))
    );
    assert_eq!(documented.request_id(), Some(TRACE));
    assert_eq!(documented.response().status(), 200);

    let observed = client.generate_images(&request).unwrap();
    assert_eq!(observed.urls().count(), 2);
    assert_eq!(observed.seed, Some(9_999_999_999));
    assert_eq!(observed.created, Some(1761276928));
    assert_eq!(observed.extra.get("shared_id").unwrap().get(), r#""0""#);

    let openai_style = client.generate_images(&request).unwrap();
    assert_eq!(openai_style.urls().collect::<Vec<_>>(), [url]);
    assert_eq!(openai_style.seed, None);
}

#[test]
fn a_200_error_object_and_a_body_of_another_shape_are_errors() {
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::json(
        json!({"error": {"message": "content policy"}}),
    ));
    server.enqueue(MockResponse::json(json!({"images": "not a list"})));
    let client = checks::client(&server);
    let request = ImageRequest::new("m", "p");
    let Err(Error::Api(error)) = client.generate_images(&request) else {
        panic!("expected Error::Api");
    };
    assert_eq!(
        (error.status, error.message.as_str()),
        (200, "content policy")
    );
    assert!(matches!(
        client.generate_images(&request),
        Err(Error::MalformedChunk { event: 0, .. })
    ));
}

#[test]
fn a_download_sends_nothing_of_the_caller_and_streams_the_whole_image() {
    let server = MockServer::start().unwrap();
    let image: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    server.enqueue(
        MockResponse::bytes("image/png", image.clone())
            .trickle(7_000, Duration::from_millis(2))
            .header("x-oss-request-id", "oss-1"),
    );
    let client = checks::client(&server)
        .with_header("x-team", "research")
        .with_query("api-version", "1");
    let url = server.url("/outputs/a.png?Expires=1761280528&Signature=abc");
    let mut out = Vec::new();
    let download = client.download_image(&url, &mut out).unwrap();
    assert_eq!(out, image);
    assert_eq!(download.bytes, image.len() as u64);
    assert_eq!(download.content_type(), Some("image/png"));
    assert_eq!(
        download.response().header("x-oss-request-id"),
        Some("oss-1")
    );
    let sent = server.last_request().unwrap();
    assert!(sent.is("GET", "/outputs/a.png"));
    assert_eq!(
        sent.query, "Expires=1761280528&Signature=abc",
        "the URL as given"
    );
    assert_eq!(
        sent.header("authorization"),
        None,
        "no key for the image host"
    );
    assert_eq!(sent.header("x-team"), None, "no header of the caller's");
    assert_eq!(sent.header("accept-encoding"), Some("identity"));
}

#[test]
fn an_expired_url_is_an_api_error_and_a_bad_one_is_refused_before_sending() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::bytes(
            "application/xml",
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        )
        .status(403),
    );
    let client = checks::client(&server);
    let mut out = Vec::new();
    let Err(Error::Api(error)) = client.download_image(&server.url("/outputs/old.png"), &mut out)
    else {
        panic!("expected Error::Api");
    };
    assert_eq!(error.status, 403);
    assert!(error.body.contains("Request has expired"));
    assert!(out.is_empty(), "an error body is not written as the image");
    for bad in [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "/outputs/a.png",
        "http://",
    ] {
        assert!(
            matches!(
                client.download_image(bad, &mut out),
                Err(Error::InvalidConfig(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_stalled_download_times_out_with_what_arrived_written() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::bytes("image/png", vec![7u8; 100_000]).stall(BreakPoint::AfterBytes(30_000)),
    );
    let client = checks::client(&server).with_idle_timeout(Some(Duration::from_millis(300)));
    let mut out = Vec::new();
    let start = Instant::now();
    let result = client.download_image(&server.url("/outputs/a.png"), &mut out);
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Idle))),
        "{result:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(out.len(), 30_000, "what arrived was written as it arrived");
}

#[test]
fn a_download_trickling_forever_ends_at_the_event_timeout() {
    let server = MockServer::start().unwrap();
    server.enqueue(
        MockResponse::bytes("image/png", vec![1u8; 10_000]).trickle(10, Duration::from_millis(20)),
    );
    let client = checks::client(&server).with_event_timeout(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let result = client.download_image(&server.url("/outputs/a.png"), &mut std::io::sink());
    assert!(
        matches!(result, Err(Error::Timeout(TimeoutKind::Event))),
        "{result:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_failing_writer_is_a_write_error() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let server = MockServer::start().unwrap();
    server.enqueue(MockResponse::bytes("image/png", vec![1u8; 100]));
    let result = checks::client(&server).download_image(&server.url("/outputs/a.png"), &mut Full);
    assert!(matches!(result, Err(Error::Write { .. })), "{result:?}");
}
