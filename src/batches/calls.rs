//! The batch calls: create (`POST /batches`), list (`GET /batches`), retrieve (`GET /batches/{id}`) and
//! cancel (`POST /batches/{id}/cancel`). Each answer is the bare batch object (or list) SiliconFlow
//! documents; an answer wrapped in its `{code,message,status,data}` envelope is read too.

use super::object::{Batch, BatchList};
use super::request::{batch_path, cancel_path, BatchListQuery, BatchRequest};
use crate::client::{Call, Client, Method, Payload, Target};
use crate::error::Error;

impl Client {
    /// Creates a batch from an uploaded input file (`POST /batches`). The request is checked first
    /// ([`BatchRequest::check`]: a completion window of 24 to 336 hours, at most 16 metadata pairs of
    /// bounded length): a failed check is [`Error::InvalidConfig`] and nothing is sent. Errors, retries
    /// and timeouts are those of [`Client::chat`].
    ///
    /// For the whole flow (write the file, upload, create, wait, read the results) see
    /// [`Client::start_batch_job`].
    ///
    /// ```no_run
    /// use siliconflow::{BatchRequest, Client};
    ///
    /// let client = Client::from_env()?;
    /// let batch = client.create_batch(&BatchRequest::new("file-jkvytbjtow").metadata("job", "nightly eval"))?;
    /// println!("{} is {:?}", batch.id, batch.status);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn create_batch(&self, request: &BatchRequest) -> Result<Batch, Error> {
        request
            .check()
            .map_err(|e| Error::InvalidConfig(e.to_string()))?;
        let body = serde_json::to_vec(request).map_err(Error::Serialize)?;
        self.call_enveloped(Call::post_json("batches", body), "POST /batches")
    }

    /// Lists batches (`GET /batches?limit=…&after=…`). SiliconFlow's guide says paging is not supported
    /// yet, so `after` may be ignored. Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// use siliconflow::{BatchListQuery, Client};
    ///
    /// let client = Client::from_env()?;
    /// for batch in client.list_batches(&BatchListQuery::new().limit(10))?.data {
    ///     println!("{} {:?} {:?}", batch.id, batch.status, batch.request_counts.completed);
    /// }
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn list_batches(&self, query: &BatchListQuery) -> Result<BatchList, Error> {
        self.call_enveloped(Call::get(&query.path()), "GET /batches")
    }

    /// Retrieves a batch (`GET /batches/{id}`): its status, counts and result files. Errors, retries and
    /// timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let batch = client.get_batch("batch_rdyqgrcgjg")?;
    /// println!("{:?}: {:?} of {:?} done", batch.status, batch.request_counts.completed, batch.request_counts.total);
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn get_batch(&self, batch_id: &str) -> Result<Batch, Error> {
        self.call_enveloped(Call::get(&batch_path(batch_id)), "GET /batches/{id}")
    }

    /// Cancels a batch (`POST /batches/{id}/cancel`, no body). It goes `cancelling` while the requests
    /// in flight finish, then `cancelled`. Errors, retries and timeouts are those of [`Client::chat`].
    ///
    /// ```no_run
    /// let client = siliconflow::Client::from_env()?;
    /// let batch = client.cancel_batch("batch_rdyqgrcgjg")?;
    /// println!("{:?}", batch.status); // cancelling
    /// # Ok::<(), siliconflow::Error>(())
    /// ```
    pub fn cancel_batch(&self, batch_id: &str) -> Result<Batch, Error> {
        let path = cancel_path(batch_id);
        let call = Call {
            method: Method::Post,
            target: Target::Api(&path),
            payload: Payload::Empty,
            accept: "application/json",
            streaming: false,
        };
        self.call_enveloped(call, "POST /batches/{id}/cancel")
    }
}
