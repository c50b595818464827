//! Batch inference: many chat requests in one file, at half price, answered within a window of 24 h
//! to 14 days.
//!
//! The flow, and the module for each step:
//! 1. Write the input file — [`input`]: [`BatchInputWriter`](input::BatchInputWriter) checks custom ids
//!    and the documented limits (5 000 lines, 1 GB) before anything is uploaded.
//! 2. Upload it — [`crate::files`]: [`FileUploadRequest::batch`](crate::FileUploadRequest::batch).
//! 3. Create the batch — [`request`]: [`BatchRequest`](request::BatchRequest) (`POST /batches`).
//! 4. Poll it — [`object`]: the [`Batch`](object::Batch) that create, retrieve (`GET /batches/{id}`),
//!    cancel (`POST /batches/{id}/cancel`) and list (`GET /batches`) return, until
//!    [`Batch::is_terminal`](object::Batch::is_terminal).
//! 5. Read the results — [`output`]: each line of the output and error files as
//!    `(custom_id, Result<ChatCompletion, ApiError>)`. How to download the files is undocumented: see
//!    [`FileRef`](crate::FileRef). Result files are kept 30 days.
//!
//! Batches are billed from the recharged balance only (not the gift balance), for the requests that
//! ran, and do not count against the online rate limits.

mod calls;
pub mod input;
pub mod job;
pub mod object;
pub mod output;
pub mod request;
pub(crate) mod results;
