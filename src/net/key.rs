//! The API key goes onto the wire only: ureq is given a placeholder of the same length as the
//! `Authorization` value, and the last layer of the connector chain (above TLS, where the request head is
//! still plain text) puts the real value in its place as the head is sent.
//!
//! Why: ureq-proto logs every byte of the request head it writes at `trace` level (a hex dump, target
//! `ureq_proto`), and ureq logs requests at `debug`. With the placeholder, no log record of any crate
//! holds the key, whatever the application's log level; only the socket (or TLS) sees it.

use std::fmt;
use std::sync::Arc;

use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// The `Authorization` value ureq is given, and the real one that replaces it on the wire.
#[derive(Clone)]
pub(crate) struct KeySplice {
    placeholder: Arc<str>,
    value: Arc<[u8]>,
}

impl fmt::Debug for KeySplice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySplice(<redacted>)")
    }
}

/// What the placeholder is made of, repeated or cut to the key's length.
const PATTERN: &str = "siliconflow-api-key-placeholder-";

impl KeySplice {
    /// For the `Authorization` value `Bearer <key>`.
    pub(crate) fn new(key: &str) -> Self {
        let value = format!("Bearer {key}").into_bytes();
        let mut placeholder = String::from("Bearer ");
        placeholder.extend(PATTERN.chars().cycle().take(key.len()));
        KeySplice {
            placeholder: placeholder.into(),
            value: value.into(),
        }
    }

    /// The value to give ureq: printable ASCII, as long as the real one.
    pub(crate) fn placeholder(&self) -> &str {
        &self.placeholder
    }

    /// Puts the real value in place of the placeholder in `output`, when it begins a request head and the
    /// placeholder is a header's whole value in that head. Returns whether it did.
    fn splice(&self, output: &mut [u8]) -> bool {
        const METHODS: [&[u8]; 6] = [b"GET ", b"POST ", b"PUT ", b"DELETE ", b"PATCH ", b"HEAD "];
        if !METHODS.iter().any(|m| output.starts_with(m)) {
            return false;
        }
        let head_end = memchr::memmem::find(output, b"\r\n\r\n").map_or(output.len(), |e| e + 2);
        let head = &output[..head_end];
        let placeholder = self.placeholder.as_bytes();
        let len = placeholder.len();
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&head[from..], placeholder) {
            let at = from + at;
            let after = &head[at + len..];
            if matches!(head[..at].last(), Some(b':' | b' ')) && after.starts_with(b"\r\n") {
                output[at..at + len].copy_from_slice(&self.value);
                return true;
            }
            from = at + 1;
        }
        false
    }
}

impl<In: Transport> Connector<In> for KeySplice {
    type Out = KeyTransport<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| KeyTransport {
            inner,
            splice: self.clone(),
            head_due: true,
        }))
    }
}

/// A connection whose request heads get the real `Authorization` value as they are sent.
pub(crate) struct KeyTransport<T> {
    inner: T,
    splice: KeySplice,
    /// Whether a request head is the next thing sent: when the connection is new, and once a response
    /// is awaited. Cleared when the head's end has gone out, so body bytes are never looked at.
    head_due: bool,
}

impl<T> fmt::Debug for KeyTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyTransport")
    }
}

impl<T: Transport> Transport for KeyTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.head_due {
            let output = self.inner.buffers().output();
            let sent = amount.min(output.len());
            let output = &mut output[..sent];
            self.splice.splice(output);
            if memchr::memmem::find(output, b"\r\n\r\n").is_some() {
                self.head_due = false;
            }
        }
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.head_due = true;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(authorization: &str) -> Vec<u8> {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\naccept: */*\r\nauthorization: {authorization}\r\nx-other: 1\r\n\r\n{{\"a\":1}}"
        )
        .into_bytes()
    }

    #[test]
    fn the_placeholder_is_as_long_as_the_value_and_holds_nothing_of_the_key() {
        for key in [
            "k",
            "sk-abc",
            "sk-0123456789abcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            let splice = KeySplice::new(key);
            assert_eq!(splice.placeholder().len(), format!("Bearer {key}").len());
            assert!(!splice.placeholder().contains(key) || key.len() < 3);
            assert!(splice
                .placeholder()
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' '));
        }
    }

    #[test]
    fn the_real_value_replaces_the_placeholder_in_a_request_head_only() {
        let key = "sk-secret-0123456789";
        let splice = KeySplice::new(key);
        let mut output = head(splice.placeholder());
        assert!(splice.splice(&mut output));
        assert_eq!(output, head(&format!("Bearer {key}")));
        // Once only: a second copy (in a header of the caller's) stays.
        let text = String::from_utf8(head(splice.placeholder()))
            .unwrap()
            .replace("x-other: 1", &format!("x-other: {}", splice.placeholder()));
        let mut twice = text.into_bytes();
        assert!(splice.splice(&mut twice));
        let text = String::from_utf8(twice).unwrap();
        assert_eq!(text.matches(key).count(), 1);
        assert_eq!(text.matches(splice.placeholder()).count(), 1);
        // Not a request head (a body that happens to hold the placeholder), or the placeholder only in
        // the body, or not a whole header value: unchanged.
        for mut output in [
            format!("{{\"authorization: {}\r\n\"}}", splice.placeholder()).into_bytes(),
            format!(
                "POST / HTTP/1.1\r\nhost: x\r\n\r\nauthorization: {}\r\n",
                splice.placeholder()
            )
            .into_bytes(),
            format!("GET / HTTP/1.1\r\nx: a{}\r\n\r\n", splice.placeholder()).into_bytes(),
            format!("GET / HTTP/1.1\r\nx: {}b\r\n\r\n", splice.placeholder()).into_bytes(),
        ] {
            let before = output.clone();
            assert!(!splice.splice(&mut output));
            assert_eq!(output, before);
        }
    }
}
