//! The batch job helper: from chat requests to their results on SiliconFlow's batch engine, at half the
//! online price.
//!
//! [`Client::start_batch_job`] takes an iterator of `(custom_id, ChatRequest)`, writes the JSONL input
//! file (every check of [`crate::batches::input`] runs **before anything is uploaded**: non-empty, unique
//! custom ids, at most 5,000 lines and 1 GB, roles the batch API takes), uploads it (`POST /files`),
//! creates the batch (`POST /batches`) and returns a [`BatchJob`]. [`BatchJob::wait`] polls it
//! (`GET /batches/{id}`) until it is terminal, calling your progress callback with each state (its
//! [`request_counts`](crate::Batch::request_counts)), and returns a typed [`BatchOutcome`]:
//! completed, failed, expired or cancelled. [`BatchJob::results`] then reads the output file and the
//! error file, line by line as they arrive, as `(custom_id, Result<ChatCompletion, ApiError>)`.
//! [`Client::run_batch_job`] does all of it in one call.
//!
//! How result files are fetched is undocumented; see [`Client::file_content`] for the two ways
//! supported and what is verified (neither, against the real service).
//!
//! ```no_run
//! use siliconflow::{BatchJobOptions, BatchOutcome, ChatRequest, Client, Message, PollOptions};
//!
//! let client = Client::from_env()?;
//! let questions = ["What is 2 + 2?", "Name a prime above 100.", "Capital of Peru?"];
//! let requests = questions.iter().enumerate().map(|(i, q)| {
//!     (format!("q-{i}"), ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user(*q)]))
//! });
//! let mut job = client.start_batch_job(requests, &BatchJobOptions::new())?;
//! let outcome = job.wait(&PollOptions::batch(), |batch| {
//!     let counts = &batch.request_counts;
//!     eprintln!("{:?}: {:?}/{:?} done", batch.status, counts.completed, counts.total);
//! })?;
//! if outcome != BatchOutcome::Completed {
//!     eprintln!("the batch ended {outcome:?}: {:?}", job.batch().errors);
//! }
//! for result in job.results() {
//!     let (custom_id, answer) = result?;
//!     match answer {
//!         Ok(completion) => println!("{custom_id}: {}", completion.content()),
//!         Err(error) => println!("{custom_id} failed: {error}"),
//!     }
//! }
//! # Ok::<(), siliconflow::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::input::{BatchInputSummary, BatchInputWriter};
use super::object::{Batch, BatchStatus};
use super::request::BatchRequest;
use super::results::BatchResults;
use crate::chat::request::ChatRequest;
use crate::client::{Client, PollOptions};
use crate::error::Error;
use crate::files::{FileObject, FileUploadRequest};
use crate::multipart::FilePart;

/// The name the input file is uploaded under when none is given.
const DEFAULT_FILE_NAME: &str = "batch_input.jsonl";

/// How a batch job is set up: the batch's options, and where its input file is written.
///
/// ```
/// use siliconflow::BatchJobOptions;
///
/// let options = BatchJobOptions::new()
///     .completion_window_hours(48)
///     .metadata("purpose", "nightly eval")
///     .replace_model("deepseek-ai/DeepSeek-V3")
///     .input_path("/tmp/requests.jsonl");
/// assert_eq!(options.completion_window, "48h");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchJobOptions {
    /// The completion window, `"24h"` (the default) to `"336h"`.
    pub completion_window: String,
    /// Up to 16 string pairs stored with the batch.
    pub metadata: BTreeMap<String, String>,
    /// SiliconFlow's `replace` (for example `{"model": …}`, which overrides every line's model).
    pub replace: Map<String, Value>,
    /// Where to write the input file. `None` (the default): in memory, which holds the whole file (up to
    /// the 1 GB limit) until it is uploaded; a path keeps memory flat and leaves the file for you.
    pub input_path: Option<PathBuf>,
    /// The name the file is uploaded under (default: the path's file name, else `batch_input.jsonl`).
    pub file_name: Option<String>,
    /// Whether each request's messages are checked (roles system/user/assistant only, ending with the
    /// user's; default on).
    pub check_messages: bool,
}

impl Default for BatchJobOptions {
    fn default() -> Self {
        BatchJobOptions::new()
    }
}

impl BatchJobOptions {
    /// A 24-hour window, no metadata, the input file in memory, messages checked.
    pub fn new() -> Self {
        BatchJobOptions {
            completion_window: "24h".to_string(),
            metadata: BTreeMap::new(),
            replace: Map::new(),
            input_path: None,
            file_name: None,
            check_messages: true,
        }
    }

    /// Sets the completion window (`"24h"` to `"336h"`).
    #[must_use]
    pub fn completion_window(mut self, window: impl Into<String>) -> Self {
        self.completion_window = window.into();
        self
    }

    /// Sets the completion window in hours (24 to 336).
    #[must_use]
    pub fn completion_window_hours(self, hours: u32) -> Self {
        self.completion_window(format!("{hours}h"))
    }

    /// Adds a metadata pair.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Runs every line with this model (`replace.model`), whatever the lines say.
    #[must_use]
    pub fn replace_model(mut self, model: impl Into<String>) -> Self {
        self.replace
            .insert("model".to_string(), Value::String(model.into()));
        self
    }

    /// Writes the input file at `path` instead of in memory.
    #[must_use]
    pub fn input_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.input_path = Some(path.into());
        self
    }

    /// Sets the name the input file is uploaded under.
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sets whether each request's messages are checked.
    #[must_use]
    pub fn check_messages(mut self, check: bool) -> Self {
        self.check_messages = check;
        self
    }

    /// The batch request for an uploaded input file.
    fn request(&self, input_file_id: &str) -> BatchRequest {
        let mut request =
            BatchRequest::new(input_file_id).completion_window(self.completion_window.as_str());
        for (key, value) in &self.metadata {
            request = request.metadata(key.as_str(), value.as_str());
        }
        for (key, value) in &self.replace {
            request = request.replace_field(key.as_str(), value.clone());
        }
        request
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchOutcome {
    /// Every request ran; the failures among them are in the error file.
    Completed,
    /// The batch failed as a whole (for example its input was rejected): see
    /// [`Batch::errors`](crate::Batch::errors). Usually no result files.
    Failed,
    /// The completion window passed: the requests that ran are in the output file, the others in the
    /// error file (code `batch_expired`). Only the requests that ran are billed.
    Expired,
    /// The batch was cancelled: the requests that ran before are in the output file, if any.
    Cancelled,
}

impl BatchOutcome {
    /// The outcome of a terminal batch; `None` while it runs (or for a status this crate does not know).
    pub fn of(batch: &Batch) -> Option<BatchOutcome> {
        match batch.status.as_ref()? {
            BatchStatus::Completed => Some(BatchOutcome::Completed),
            BatchStatus::Failed => Some(BatchOutcome::Failed),
            BatchStatus::Expired => Some(BatchOutcome::Expired),
            BatchStatus::Cancelled => Some(BatchOutcome::Cancelled),
            _ => None,
        }
    }
}

/// A batch started by [`Client::start_batch_job`] (or taken up again with
/// [`Client::resume_batch_job`]): its latest known state, and the calls that move it on.
#[derive(Debug, Clone)]
pub struct BatchJob {
    client: Client,
    batch: Batch,
    input_file: Option<FileObject>,
    input: Option<BatchInputSummary>,
}

impl BatchJob {
    /// The batch id, to take the job up again later ([`Client::resume_batch_job`]).
    pub fn id(&self) -> &str {
        &self.batch.id
    }

    /// The batch as last seen.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// The uploaded input file (`None` for a resumed job).
    pub fn input_file(&self) -> Option<&FileObject> {
        self.input_file.as_ref()
    }

    /// How many lines and bytes the input file held (`None` for a resumed job).
    pub fn input_summary(&self) -> Option<BatchInputSummary> {
        self.input
    }

    /// How the batch ended, once it has; `None` while it runs.
    pub fn outcome(&self) -> Option<BatchOutcome> {
        BatchOutcome::of(&self.batch)
    }

    /// Fetches the batch's current state (`GET /batches/{id}`).
    pub fn refresh(&mut self) -> Result<&Batch, Error> {
        self.batch = self.client.get_batch(&self.batch.id)?;
        Ok(&self.batch)
    }

    /// Cancels the batch (`POST /batches/{id}/cancel`); it is `cancelling` until the requests in flight
    /// finish. [`wait`](Self::wait) then ends with [`BatchOutcome::Cancelled`] (or another outcome, if
    /// the batch ended first).
    ///
    /// This request is sent without the client's [`CancelHandle`](crate::CancelHandle), so that it
    /// still goes out after the handle stopped a [`wait`](Self::wait) (the usual way to stop a batch:
    /// stop the wait, then cancel on the server); the client's timeouts and deadline bound it.
    ///
    /// ```no_run
    /// # use siliconflow::{BatchJobOptions, CancelHandle, Client, Error, PollOptions};
    /// # fn run(client: &Client, requests: Vec<(String, siliconflow::ChatRequest)>) -> Result<(), Error> {
    /// let stop = CancelHandle::new(); // cancelled by a Ctrl-C handler, a UI button, ...
    /// let mut job = client
    ///     .with_cancel(&stop)
    ///     .start_batch_job(requests, &BatchJobOptions::new())?;
    /// match job.wait(&PollOptions::batch(), |_| {}) {
    ///     Err(Error::Cancelled) => {
    ///         job.cancel()?; // goes out although `stop` is cancelled
    ///     }
    ///     outcome => println!("{:?}", outcome?),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn cancel(&mut self) -> Result<&Batch, Error> {
        self.batch = self.client.without_cancel().cancel_batch(&self.batch.id)?;
        Ok(&self.batch)
    }

    /// The job, its later requests (refresh, wait, results) made with `client`: to wait again with a
    /// new [`CancelHandle`](crate::CancelHandle) after one stopped a wait (the job's own client keeps
    /// its cancelled handle, whose requests fail at once), or with other timeouts.
    ///
    /// `client` should be for the same account: the batch is looked up by id.
    #[must_use = "the returned job has the client; this job is unchanged"]
    pub fn with_client(&self, client: &Client) -> BatchJob {
        BatchJob {
            client: client.clone(),
            ..self.clone()
        }
    }

    /// Polls the batch until it is terminal and returns how it ended; `progress` gets the batch at every
    /// poll (its [`status`](crate::Batch::status) and [`request_counts`](crate::Batch::request_counts)).
    ///
    /// Polling follows `options` ([`PollOptions::batch`]: 5 s growing to 60 s, no overall limit); past
    /// its timeout the wait fails with [`Error::Timeout`]`(`[`TimeoutKind::Deadline`](crate::TimeoutKind::Deadline)`)`.
    /// The pauses are on this thread, ended at once by a [`CancelHandle`](crate::CancelHandle) of the
    /// client ([`Error::Cancelled`]; the batch goes on on the server: [`BatchJob::cancel`] stops it, and
    /// [`with_client`](Self::with_client) gives a job to wait again with a new handle). A poll that fails
    /// after its retries ends the wait with its error. Whatever ends the wait, [`batch`](Self::batch)
    /// holds the last state seen, and waiting again resumes.
    pub fn wait(
        &mut self,
        options: &PollOptions,
        mut progress: impl FnMut(&Batch),
    ) -> Result<BatchOutcome, Error> {
        let id = self.batch.id.clone();
        let client = &self.client;
        let mut last = None;
        let result = client.poll_until(
            options,
            |client| client.get_batch(&id),
            |batch| BatchOutcome::of(batch).is_some(),
            |batch| {
                last = Some(batch.clone());
                progress(batch);
            },
        );
        if let Some(last) = last {
            self.batch = last;
        }
        let batch = result?;
        self.batch = batch;
        BatchOutcome::of(&self.batch).ok_or_else(|| Error::Protocol {
            reason: "the batch's wait ended on a status that is not terminal".to_string(),
            source: None,
        })
    }

    /// The results, read from the output file and then the error file as they arrive (see
    /// [`BatchResults`]); empty while the batch has no result files (before it ends, or a failed batch).
    pub fn results(&self) -> BatchResults {
        BatchResults::new(
            self.client.clone(),
            [self.batch.output_file(), self.batch.error_file()]
                .into_iter()
                .flatten()
                .collect(),
        )
    }
}

impl Client {
    /// Starts a batch job: writes the requests as a JSONL input file, checks it, uploads it and creates
    /// the batch. See the [module docs](crate::batches::job) for the whole flow.
    ///
    /// Nothing is uploaded unless every check passes: the batch options ([`Error::InvalidConfig`] for a
    /// completion window outside 24–336 h or metadata over its limits), then every line
    /// ([`Error::BatchInput`]: an empty or duplicate `custom_id`, more than 5,000 lines or 1 GB, a
    /// request with no messages, a role other than system/user/assistant, or a last message that is not
    /// the user's). Then the calls' errors, retries and timeouts are those of [`Client::chat`]; the upload
    /// is re-sent on a retry (the file is in memory or at a path).
    ///
    /// ```no_run
    /// use siliconflow::{BatchJobOptions, ChatRequest, Client, Message};
    ///
    /// let client = Client::from_env()?;
    /// let requests = (0..3).map(|i| {
    ///     let request = ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user(format!("Say {i}"))]);
    ///     (format!("request-{i}"), request)
    /// });
    /// let job = client.start_batch_job(requests, &BatchJobOptions::new().metadata("run", "demo"))?;
    /// println!("batch {} created ({:?} lines)", job.id(), job.input_summary().map(|s| s.lines));
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn start_batch_job<I, S>(
        &self,
        requests: I,
        options: &BatchJobOptions,
    ) -> Result<BatchJob, Error>
    where
        I: IntoIterator<Item = (S, ChatRequest)>,
        S: AsRef<str>,
    {
        options
            .request("file-unset")
            .check()
            .map_err(|e| Error::InvalidConfig(e.to_string()))?;
        let (file, summary) = write_input(requests, options)?;
        let uploaded = self.upload_file(FileUploadRequest::batch(file))?;
        if uploaded.id.trim().is_empty() {
            return Err(Error::Protocol {
                reason: "the file upload was answered without a file id".to_string(),
                source: None,
            });
        }
        let batch = self.create_batch(&options.request(&uploaded.id))?;
        Ok(BatchJob {
            client: self.clone(),
            batch,
            input_file: Some(uploaded),
            input: Some(summary),
        })
    }

    /// Starts a batch job and waits for it: [`Client::start_batch_job`] then [`BatchJob::wait`]. The job
    /// comes back terminal (its [`outcome`](BatchJob::outcome) is set); read its
    /// [`results`](BatchJob::results).
    ///
    /// ```no_run
    /// use siliconflow::{BatchJobOptions, ChatRequest, Client, Message, PollOptions};
    ///
    /// let client = Client::from_env()?;
    /// let requests = [("a", ChatRequest::new("deepseek-ai/DeepSeek-V3", vec![Message::user("Hi")]))];
    /// let job = client.run_batch_job(requests, &BatchJobOptions::new(), &PollOptions::batch(), |batch| {
    ///     eprintln!("{:?} {:?}", batch.status, batch.request_counts);
    /// })?;
    /// for result in job.results() {
    ///     let (custom_id, answer) = result?;
    ///     println!("{custom_id}: {:?}", answer.map(|c| c.content().to_string()));
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn run_batch_job<I, S>(
        &self,
        requests: I,
        options: &BatchJobOptions,
        poll: &PollOptions,
        progress: impl FnMut(&Batch),
    ) -> Result<BatchJob, Error>
    where
        I: IntoIterator<Item = (S, ChatRequest)>,
        S: AsRef<str>,
    {
        let mut job = self.start_batch_job(requests, options)?;
        job.wait(poll, progress)?;
        Ok(job)
    }

    /// Takes up a batch job started earlier, by its batch id (`GET /batches/{id}`): wait for it, cancel
    /// it or read its results.
    ///
    /// ```no_run
    /// use siliconflow::{Client, PollOptions};
    ///
    /// let client = Client::from_env()?;
    /// let mut job = client.resume_batch_job("batch_rdyqgrcgjg")?;
    /// let outcome = job.wait(&PollOptions::batch(), |_| {})?;
    /// println!("{outcome:?}, {} results", job.results().count());
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn resume_batch_job(&self, batch_id: &str) -> Result<BatchJob, Error> {
        Ok(BatchJob {
            client: self.clone(),
            batch: self.get_batch(batch_id)?,
            input_file: None,
            input: None,
        })
    }
}

/// Writes and checks the input file, in memory or at the options' path; returns it as a file part.
fn write_input<I, S>(
    requests: I,
    options: &BatchJobOptions,
) -> Result<(FilePart, BatchInputSummary), Error>
where
    I: IntoIterator<Item = (S, ChatRequest)>,
    S: AsRef<str>,
{
    let write = |out: &mut dyn Write| -> Result<BatchInputSummary, Error> {
        let mut writer = BatchInputWriter::new(out).check_messages(options.check_messages);
        for (custom_id, request) in requests {
            writer
                .push(custom_id.as_ref(), &request)
                .map_err(Error::BatchInput)?;
        }
        let (_, summary) = writer.finish().map_err(Error::BatchInput)?;
        Ok(summary)
    };
    let (part, summary) = match &options.input_path {
        Some(path) => {
            let file = File::create(path).map_err(|e| Error::BatchInput(e.into()))?;
            let mut out = BufWriter::new(file);
            let summary = write(&mut out)?;
            out.into_inner()
                .map_err(|e| Error::BatchInput(e.into_error().into()))?
                .sync_all()
                .map_err(|e| Error::BatchInput(e.into()))?;
            (FilePart::path(path)?, summary)
        }
        None => {
            let mut bytes = Vec::new();
            let summary = write(&mut bytes)?;
            (FilePart::bytes(bytes).file_name(DEFAULT_FILE_NAME), summary)
        }
    };
    let part = match &options.file_name {
        Some(name) => part.file_name(name.as_str()),
        None => part,
    };
    Ok((part, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::input::BatchInputError;
    use crate::chat::request::Message;

    fn request(text: &str) -> ChatRequest {
        ChatRequest::new("m", vec![Message::user(text)])
    }

    #[test]
    fn options_make_the_batch_request() {
        let options = BatchJobOptions::new()
            .completion_window_hours(48)
            .metadata("k", "v")
            .replace_model("x");
        let value = serde_json::to_value(options.request("file-1")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"input_file_id": "file-1", "endpoint": "/v1/chat/completions",
                               "completion_window": "48h", "metadata": {"k": "v"},
                               "replace": {"model": "x"}})
        );
    }

    #[test]
    fn input_is_checked_and_written_in_memory() {
        let (part, summary) = write_input(
            [("a", request("1")), ("b", request("2"))],
            &BatchJobOptions::new(),
        )
        .unwrap();
        assert_eq!(summary.lines, 2);
        assert_eq!(part.len(), Some(summary.bytes));
        let duplicate = write_input(
            [("a", request("1")), ("a", request("2"))],
            &BatchJobOptions::new(),
        );
        assert!(matches!(
            duplicate,
            Err(Error::BatchInput(BatchInputError::DuplicateCustomId {
                line: 2,
                ..
            }))
        ));
        let empty = write_input(Vec::<(&str, ChatRequest)>::new(), &BatchJobOptions::new());
        assert!(matches!(
            empty,
            Err(Error::BatchInput(BatchInputError::Empty))
        ));
    }

    #[test]
    fn input_written_at_a_path() {
        let path = std::env::temp_dir().join(format!("sf-batch-{}.jsonl", std::process::id()));
        let options = BatchJobOptions::new().input_path(&path);
        let (part, summary) = write_input([("a", request("1"))], &options).unwrap();
        assert!(part.is_replayable());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.bytes);
        std::fs::remove_file(&path).unwrap();
        let bad = BatchJobOptions::new().input_path("/no/such/dir/x.jsonl");
        assert!(matches!(
            write_input([("a", request("1"))], &bad),
            Err(Error::BatchInput(BatchInputError::Io(_)))
        ));
    }

    #[test]
    fn outcomes_of_terminal_statuses_only() {
        let batch = |status: &str| -> Batch {
            serde_json::from_value(serde_json::json!({"id": "b", "status": status})).unwrap()
        };
        assert_eq!(
            BatchOutcome::of(&batch("completed")),
            Some(BatchOutcome::Completed)
        );
        assert_eq!(
            BatchOutcome::of(&batch("failed")),
            Some(BatchOutcome::Failed)
        );
        assert_eq!(
            BatchOutcome::of(&batch("expired")),
            Some(BatchOutcome::Expired)
        );
        assert_eq!(
            BatchOutcome::of(&batch("cancelled")),
            Some(BatchOutcome::Cancelled)
        );
        for running in [
            "in_queue",
            "validating",
            "in_progress",
            "finalizing",
            "cancelling",
            "odd",
        ] {
            assert_eq!(BatchOutcome::of(&batch(running)), None, "{running}");
        }
    }
}
