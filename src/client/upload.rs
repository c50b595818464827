//! Multipart uploads: a [`Form`] as the body of a request, re-sent on a retry when it can be.
//!
//! A form whose parts are all replayable (text, bytes, files by path) is read again from its start for each
//! attempt. A form with a one-shot reader part is read once: the attempt that first reads it keeps it, and
//! [`send`](super::send) retries such a request only when no attempt read any of it (a connection refused
//! before the body went out), in which case the same untouched reader is handed to the next attempt.

use std::io::{self, Read};

use serde::de::DeserializeOwned;

use super::send::{Call, Method, Payload, Target, Upload};
use super::Client;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::multipart::{Form, FormReader, MultipartError};

/// A [`Form`] being sent: the form, and the reader of the attempt that read it (one-shot forms only).
pub(crate) struct FormUpload {
    form: Form,
    current: Option<FormReader>,
}

impl FormUpload {
    pub(crate) fn new(form: Form) -> Self {
        FormUpload {
            form,
            current: None,
        }
    }
}

impl Upload for FormUpload {
    fn content_type(&self) -> String {
        self.form.content_type()
    }

    fn content_length(&self) -> Option<u64> {
        self.form.content_length()
    }

    fn reader(&mut self) -> io::Result<Box<dyn Read + '_>> {
        // A replayable form starts again; a one-shot form keeps the one reader it can make (retried only
        // while nothing was read of it, see the module docs).
        if self.form.is_replayable() || self.current.is_none() {
            self.current = Some(self.form.reader().map_err(io_error)?);
        }
        match self.current.as_mut() {
            Some(reader) => Ok(Box::new(reader)),
            // Set just above.
            None => Err(io::Error::other("the multipart body has no reader")),
        }
    }

    fn replayable(&self) -> bool {
        self.form.is_replayable()
    }
}

/// A form that cannot be read as an I/O error, for [`Error::Upload`].
fn io_error(error: MultipartError) -> io::Error {
    match error {
        MultipartError::File { source, .. } => source,
        other => io::Error::new(io::ErrorKind::InvalidInput, other),
    }
}

impl From<MultipartError> for Error {
    /// A file part that cannot be used ([`FilePart::path`](crate::multipart::FilePart::path) of a missing
    /// file) is [`Error::Upload`]; a form that cannot be sent (an invalid content type, a reader already
    /// consumed) is [`Error::InvalidConfig`].
    fn from(error: MultipartError) -> Self {
        match error {
            MultipartError::File { path, source } => Error::Upload {
                source: io::Error::new(source.kind(), format!("{}: {source}", path.display())),
            },
            other => Error::InvalidConfig(other.to_string()),
        }
    }
}

impl Client {
    /// `POST {base}/{path}` with `form` as a `multipart/form-data` body, and the JSON answer (bounded by
    /// `max_event_size`), with the same errors, retries and limits as chat.
    pub(crate) fn post_form<T: DeserializeOwned>(
        &self,
        path: &str,
        form: Form,
    ) -> Result<(T, ResponseMeta), Error> {
        let mut upload = FormUpload::new(form);
        self.call_json(form_call(path, &mut upload), false)
    }

    /// `POST {base}/{path}` with `form` as a `multipart/form-data` body, and the answer's bytes (bounded
    /// by `max_event_size`), for answers parsed by their endpoint (an envelope).
    pub(crate) fn post_form_body(
        &self,
        path: &str,
        form: Form,
    ) -> Result<(Vec<u8>, ResponseMeta), Error> {
        let mut upload = FormUpload::new(form);
        self.call_body(form_call(path, &mut upload))
    }
}

/// The call of a form upload.
fn form_call<'a>(path: &'a str, upload: &'a mut FormUpload) -> Call<'a> {
    Call {
        method: Method::Post,
        target: Target::Api(path),
        payload: Payload::Upload(upload),
        accept: "application/json",
        streaming: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multipart::FilePart;

    fn read_all(upload: &mut FormUpload) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        upload.reader()?.read_to_end(&mut body)?;
        Ok(body)
    }

    #[test]
    fn replayable_forms_start_again() {
        let form = Form::new().file("file", FilePart::bytes(b"abc".to_vec()));
        let mut upload = FormUpload::new(form);
        assert!(upload.replayable());
        let first = read_all(&mut upload).unwrap();
        assert_eq!(first, read_all(&mut upload).unwrap());
        assert_eq!(upload.content_length(), Some(first.len() as u64));
        assert!(upload
            .content_type()
            .starts_with("multipart/form-data; boundary="));
    }

    #[test]
    fn one_shot_forms_hand_out_their_one_reader() {
        let form = Form::new().file("file", FilePart::reader(&b"abc"[..]));
        let mut upload = FormUpload::new(form);
        assert!(!upload.replayable());
        assert_eq!(upload.content_length(), None);
        // An attempt that never read: the next gets the same reader, from its start.
        drop(upload.reader().unwrap());
        let body = read_all(&mut upload).unwrap();
        assert!(String::from_utf8_lossy(&body).contains("abc"));
        // Read once: what is left is nothing (send does not retry it).
        assert!(read_all(&mut upload).unwrap().is_empty());
    }

    #[test]
    fn multipart_errors_map_to_client_errors() {
        let missing = FilePart::path("/no/such/file.wav").unwrap_err();
        let error = Error::from(missing);
        assert!(
            matches!(&error, Error::Upload { source } if source.kind() == io::ErrorKind::NotFound),
            "{error:?}"
        );
        assert!(error.to_string().contains("/no/such/file.wav"));
        let consumed = Error::from(MultipartError::ReaderConsumed("file".into()));
        assert!(matches!(consumed, Error::InvalidConfig(_)));
    }
}
