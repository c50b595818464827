//! Unit tests of the client's configuration.
//!
//! Compiled only in tests: the parent module declares it `#[cfg(test)] mod tests;`.
use super::*;
use crate::chat::stream::ChatStream;
use crate::error::Error;

#[test]
fn missing_and_blank_keys_are_errors() {
    assert!(matches!(
        Client::builder().build(),
        Err(Error::MissingApiKey)
    ));
    assert!(matches!(
        Client::builder().api_key("  ").build(),
        Err(Error::MissingApiKey)
    ));
}

#[test]
fn key_with_a_newline_is_rejected_without_echoing_it() {
    let err = Client::builder()
        .api_key("sk-secret\nInjected: yes")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)));
    assert!(!format!("{err} {err:?}").contains("sk-secret"));
}

#[test]
fn bad_base_urls_and_headers_are_config_errors() {
    for url in [
        "ftp://x/v1",
        "not a url",
        "http://",
        "api.siliconflow.cn/v1",
    ] {
        let err = Client::builder()
            .api_key("k")
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{url}: {err:?}");
    }
    let err = Client::builder()
        .api_key("k")
        .header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)));
}

#[test]
fn base_url_is_normalised_and_defaults_to_siliconflow() {
    let client = Client::builder().api_key("k").build().unwrap();
    assert_eq!(client.base_url(), DEFAULT_BASE_URL);
    let client = Client::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:8080/v1/")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:8080/v1");
}

#[test]
fn https_needs_a_tls_feature() {
    let result = Client::builder()
        .api_key("k")
        .base_url("https://example.com/v1")
        .build();
    if cfg!(any(feature = "rustls", feature = "native-tls")) {
        assert!(result.is_ok());
    } else {
        assert!(matches!(result, Err(Error::InvalidConfig(m)) if m.contains("without TLS")));
    }
}

#[test]
fn debug_never_shows_the_key() {
    let builder = Client::builder().api_key("sk-do-not-print-me");
    assert!(!format!("{builder:?}").contains("sk-do-not-print-me"));
    let client = builder.build().unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains("sk-do-not-print-me"), "{debug}");
    assert!(debug.contains("<redacted>"));
}

#[test]
fn client_is_send_sync_and_stream_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Client>();
    send::<ChatStream>();
    send_sync::<Error>();
}
