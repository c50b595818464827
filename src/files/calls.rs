//! The file calls: upload, list, delete, and reading a file's content — the one place that fetches a
//! stored file, by URL or by id ([`Client::open_file`]).

use std::io::Write;

use super::{DeletedFile, FileList, FileListQuery, FileObject, FileRef, FileUploadRequest};
use crate::client::{Call, Client, Exchange, Method, Payload, Target};
use crate::download::{external, Download};
use crate::error::Error;

impl Client {
    /// Uploads a file (`POST /files`, `multipart/form-data` with `purpose` and `file`), streamed from its
    /// source; for batches, a JSONL file of requests (see [`crate::batches::input`]). SiliconFlow wraps
    /// the answer in its envelope; a bare answer is read too, and an envelope reporting a failure is
    /// [`Error::Api`] with status 200. Errors, retries and timeouts are those of [`Client::chat`];
    /// retries re-send a file from a path or bytes, and a reader only when none of it was read.
    ///
    /// ```no_run
    /// use siliconflow::multipart::FilePart;
    /// use siliconflow::{Client, FileUploadRequest};
    ///
    /// let client = Client::from_env()?;
    /// let file = FilePart::path("requests.jsonl")?.content_type("application/jsonl");
    /// let uploaded = client.upload_file(FileUploadRequest::batch(file))?;
    /// println!("{} ({:?} bytes)", uploaded.id, uploaded.bytes);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn upload_file(&self, request: FileUploadRequest) -> Result<FileObject, Error> {
        let (body, meta) = self.post_form_body("files", request.into_form())?;
        self.decode_enveloped(&body, meta, "POST /files")
    }

    /// Lists uploaded files (`GET /files?purpose=batch&limit=…`); no paging is documented. The answer is
    /// read wrapped or bare, like [`Client::upload_file`]'s.
    ///
    /// ```no_run
    /// use siliconflow::{Client, FileListQuery};
    ///
    /// let client = Client::from_env()?;
    /// for file in client.list_files(&FileListQuery::new().limit(20))?.data {
    ///     println!("{} {} {:?} lines", file.id, file.filename, file.line_count);
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn list_files(&self, query: &FileListQuery) -> Result<FileList, Error> {
        self.call_enveloped(Call::get(&query.path()), "GET /files")
    }

    /// Deletes an uploaded file (`DELETE /files/{id}`). **Not documented by SiliconFlow** (it is OpenAI's
    /// endpoint, which OpenAI-compatible servers have): unverified there. The answer is read wrapped or
    /// bare. Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let deleted = client.delete_file("file-jkvytbjtow")?;
    /// println!("deleted: {}", deleted.deleted);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn delete_file(&self, file_id: &str) -> Result<DeletedFile, Error> {
        let mut path = String::from("files/");
        crate::query::push_encoded(&mut path, file_id);
        let call = Call {
            method: Method::Delete,
            target: Target::Api(&path),
            payload: Payload::Empty,
            accept: "application/json",
            streaming: false,
        };
        self.call_enveloped(call, "DELETE /files/{id}")
    }

    /// Writes a stored file's content into `out` as it arrives: a batch's output or error file
    /// ([`Batch::output_file`](crate::Batch::output_file), [`Batch::error_file`](crate::Batch::error_file)),
    /// an uploaded file.
    ///
    /// How SiliconFlow serves these files is **not documented**, and neither way is verified against the
    /// real service: a [`FileRef::Url`] (the docs call the result file a URL valid for a month) is fetched
    /// directly, **without the API key**, like a generated image; a [`FileRef::Id`] through
    /// `GET /files/{id}/content` with the key (OpenAI's endpoint, which a public SiliconFlow batch script
    /// uses, and which the examples' offline demo serves). Both go through one internal function (`Client::open_file`), the one
    /// place to correct should SiliconFlow document otherwise. The event timeout bounds the whole body
    /// (default 10 minutes; raise it with [`Client::with_event_timeout`] for a large file).
    ///
    /// ```no_run
    /// use siliconflow::{Client, FileRef};
    ///
    /// let client = Client::from_env()?;
    /// let batch = client.get_batch("batch_rdyqgrcgjg")?;
    /// if let Some(output) = batch.output_file() {
    ///     let mut file = std::fs::File::create("output.jsonl").map_err(|e| siliconflow::Error::Write { source: e })?;
    ///     client.file_content(&output, &mut file)?;
    /// }
    /// let _by_id = FileRef::Id("file-jkvytbjtow".to_string());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn file_content(&self, file: &FileRef, out: &mut dyn Write) -> Result<Download, Error> {
        self.file_content_inner(file, out)
            .map_err(|e| self.redact(e))
    }

    fn file_content_inner(&self, file: &FileRef, out: &mut dyn Write) -> Result<Download, Error> {
        let Exchange { meta, mut body, .. } = self.open_file(file)?;
        let bytes = body.copy_to(out)?;
        out.flush().map_err(|e| Error::Write { source: e })?;
        Ok(Download {
            bytes,
            response: meta,
        })
    }

    /// Opens a stored file for reading: **the one place** that decides how a file is fetched (see
    /// [`Client::file_content`]). A URL is fetched without the key; an id through
    /// `GET /files/{id}/content`. The body is read under the request's limits.
    pub(crate) fn open_file(&self, file: &FileRef) -> Result<Exchange, Error> {
        match file {
            FileRef::Url(url) => self.execute(external(url)),
            FileRef::Id(_) => {
                let path = file.content_path().unwrap_or_default();
                self.execute(Call {
                    method: Method::Get,
                    target: Target::Api(&path),
                    payload: Payload::Empty,
                    accept: "*/*",
                    streaming: true,
                })
            }
        }
    }
}
