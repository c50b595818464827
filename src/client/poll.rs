//! Waiting for an asynchronous job (a video, a batch): [`PollOptions`], and the poll loop with its
//! backoff, its timeout and its cancellable pauses.

use std::time::{Duration, Instant};

use super::Client;
use crate::error::{Error, TimeoutKind};

/// How a wait polls a job: the pause after the first check, how the pauses grow, their cap, and how
/// long to wait in all.
///
/// The pauses run on the caller's thread. When the client has a [`CancelHandle`](crate::CancelHandle)
/// ([`Client::with_cancel`]), a cancel ends a pause at once with [`Error::Cancelled`]; each check is an
/// ordinary request with the client's timeouts and retries.
///
/// ```
/// use std::time::Duration;
/// use siliconflow::PollOptions;
///
/// let options = PollOptions::new()
///     .interval(Duration::from_secs(1))
///     .max_interval(Duration::from_secs(10))
///     .timeout(Some(Duration::from_secs(600)));
/// assert_eq!(options.delay(0), Duration::from_secs(1));
/// assert_eq!(options.delay(1), Duration::from_millis(1500));
/// assert_eq!(options.delay(20), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PollOptions {
    /// The pause after the first check (default 2 s).
    pub interval: Duration,
    /// The longest pause (default 30 s).
    pub max_interval: Duration,
    /// How much each pause grows over the one before (default 1.5; at least 1).
    pub backoff: f64,
    /// How long the whole wait may take, checks included; `None` for no limit. Past it the wait fails
    /// with [`Error::Timeout`]`(`[`TimeoutKind::Deadline`]`)` (the job goes on on the server). Each check
    /// runs with its deadline cut to what is left of this timeout: a check whose answer stalls ends with
    /// that error at the timeout, and a check whose retry would wait past it ends the wait with the
    /// check's error at once.
    pub timeout: Option<Duration>,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions::new()
    }
}

impl PollOptions {
    /// 2 s after the first check, growing by half each time up to 30 s, for at most 30 minutes: suits a
    /// video job (public clients poll every 5–10 s for up to 15 minutes).
    pub fn new() -> Self {
        PollOptions {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
            backoff: 1.5,
            timeout: Some(Duration::from_secs(30 * 60)),
        }
    }

    /// 5 s after the first check, growing by half each time up to 60 s, with no overall limit: suits a
    /// batch, which the server finishes, expires or cancels within its completion window (24 h to
    /// 14 days).
    pub fn batch() -> Self {
        PollOptions {
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(60),
            backoff: 1.5,
            timeout: None,
        }
    }

    /// Sets the pause after the first check.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the longest pause.
    #[must_use]
    pub fn max_interval(mut self, max: Duration) -> Self {
        self.max_interval = max;
        self
    }

    /// Sets how much each pause grows over the one before (values below 1, and NaN, count as 1).
    #[must_use]
    pub fn backoff(mut self, factor: f64) -> Self {
        self.backoff = factor;
        self
    }

    /// Sets how long the whole wait may take (`None`: no limit).
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pause after check number `n` (from 0): `interval × backoff^n`, at most `max_interval` (or
    /// `interval`, when `max_interval` is the smaller).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = if self.backoff >= 1.0 {
            self.backoff
        } else {
            1.0
        };
        let exponent = i32::try_from(n).unwrap_or(i32::MAX);
        let seconds = self.interval.as_secs_f64() * factor.powi(exponent);
        let cap = self.max_interval.max(self.interval);
        Duration::try_from_secs_f64(seconds).map_or(cap, |d| d.min(cap))
    }
}

impl Client {
    /// Checks a job until `done` says it is, calling `progress` with every answer, pausing between checks
    /// as `options` says. A check that fails ends the wait with its error.
    ///
    /// `check` is given the client to check with: this one, its deadline cut to what is left of the
    /// wait's timeout, so that a check whose answer stalls, or whose retry would wait past it, cannot hold
    /// the wait beyond its timeout.
    pub(crate) fn poll_until<T>(
        &self,
        options: &PollOptions,
        mut check: impl FnMut(&Client) -> Result<T, Error>,
        done: impl Fn(&T) -> bool,
        mut progress: impl FnMut(&T),
    ) -> Result<T, Error> {
        let deadline = options.timeout.and_then(|t| Instant::now().checked_add(t));
        let mut n = 0;
        loop {
            let answer = match deadline {
                None => check(self)?,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout(TimeoutKind::Deadline));
                    }
                    let own = self.settings.deadline;
                    check(&self.with_deadline(Some(own.map_or(left, |own| own.min(left)))))?
                }
            };
            progress(&answer);
            if done(&answer) {
                return Ok(answer);
            }
            let mut pause = options.delay(n);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(TimeoutKind::Deadline));
                }
                // Wake at the deadline for one last check.
                pause = pause.min(left);
            }
            self.pause(pause)?;
            n = n.saturating_add(1);
        }
    }

    /// Sleeps on this thread; with a [`CancelHandle`](crate::CancelHandle), a cancel ends the sleep at
    /// once with [`Error::Cancelled`].
    pub(crate) fn pause(&self, duration: Duration) -> Result<(), Error> {
        match &self.settings.cancel {
            Some(cancel) if !cancel.sleep(duration) => Err(Error::Cancelled),
            Some(_) => Ok(()),
            None => {
                std::thread::sleep(duration);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelHandle;

    fn client() -> Client {
        Client::builder().api_key("sk-test-poll").build().unwrap()
    }

    #[test]
    fn delays_grow_to_the_cap() {
        let options = PollOptions::new()
            .interval(Duration::from_millis(100))
            .max_interval(Duration::from_millis(300))
            .backoff(2.0);
        let delays: Vec<u128> = (0..4).map(|n| options.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 300, 300]);
        let flat = options.backoff(f64::NAN);
        assert_eq!(flat.delay(9), Duration::from_millis(100));
        let huge = PollOptions::new().backoff(1e300);
        assert_eq!(huge.delay(u32::MAX), huge.max_interval);
        assert_eq!(PollOptions::batch().timeout, None);
    }

    #[test]
    fn each_check_runs_within_what_is_left_of_the_timeout() {
        let options = PollOptions::new()
            .interval(Duration::from_millis(20))
            .timeout(Some(Duration::from_millis(300)));
        for own in [
            None,
            Some(Duration::from_millis(100)),
            Some(Duration::from_secs(60)),
        ] {
            let client = client().with_deadline(own);
            let mut seen = Vec::new();
            let result = client.poll_until(
                &options,
                |check: &Client| {
                    seen.push(check.settings.deadline);
                    Ok(())
                },
                |_| false,
                |_| {},
            );
            assert!(matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))));
            assert!(seen.len() >= 2, "{seen:?}");
            let mut before = Duration::MAX;
            for deadline in &seen {
                let deadline = deadline.expect("every check has a deadline");
                assert!(deadline <= Duration::from_millis(300), "{own:?}: {seen:?}");
                assert!(own.is_none_or(|own| deadline <= own), "{own:?}: {seen:?}");
                assert!(deadline <= before, "shrinking: {seen:?}");
                before = deadline;
            }
        }
        // No timeout: the client as it is.
        let client = client().with_deadline(Some(Duration::from_secs(7)));
        let result = client.poll_until(
            &PollOptions::batch(),
            |check: &Client| Ok(check.settings.deadline),
            |_| true,
            |_| {},
        );
        assert_eq!(result.unwrap(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn polls_until_done_with_progress() {
        let options = PollOptions::new().interval(Duration::from_millis(1));
        let mut n = 0;
        let mut seen = Vec::new();
        let result = client().poll_until(
            &options,
            |_| {
                n += 1;
                Ok(n)
            },
            |n| *n == 3,
            |n| seen.push(*n),
        );
        assert_eq!(result.unwrap(), 3);
        assert_eq!(seen, [1, 2, 3]);
    }

    #[test]
    fn the_timeout_ends_the_wait_after_a_last_check() {
        let options = PollOptions::new()
            .interval(Duration::from_millis(30))
            .timeout(Some(Duration::from_millis(100)));
        let start = Instant::now();
        let mut checks = 0;
        let result = client().poll_until(
            &options,
            |_| {
                checks += 1;
                Ok(())
            },
            |_| false,
            |_| {},
        );
        assert!(matches!(result, Err(Error::Timeout(TimeoutKind::Deadline))));
        assert!(checks >= 3, "{checks}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_cancel_ends_a_pause_at_once() {
        let cancel = CancelHandle::new();
        let client = client().with_cancel(&cancel);
        let canceller = cancel.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            canceller.cancel();
        });
        let start = Instant::now();
        let options = PollOptions::new().interval(Duration::from_secs(60));
        let result = client.poll_until(&options, |_| Ok(()), |_| false, |_| {});
        assert!(matches!(result, Err(Error::Cancelled)));
        assert!(start.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
        assert!(matches!(
            client.pause(Duration::from_secs(60)),
            Err(Error::Cancelled)
        ));
    }
}
