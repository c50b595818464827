//! [`RetryPolicy`]: which failures are retried, and how long to wait before each retry.
//!
//! Retries happen only before any byte of a successful body reaches the caller: a connection failure, a
//! timeout before the response headers, or a retryable HTTP status (408, 409, 429, 5xx). Once a stream is
//! in the caller's hands nothing is re-sent, and a cut stream is never retried: the server may already have
//! done (and billed) the work, and a second answer would not continue the first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many times, and how patiently, the client retries a request that failed before its response.
///
/// The default is openai-python's: 2 retries, backoff from 0.5 s doubling to at most 8 s with up to 25 %
/// jitter; a server-requested delay (`retry-after-ms`, `Retry-After` in seconds or as an HTTP date) is
/// used instead when it is at most 60 s, and a longer one is not waited for (the error is returned with
/// [`ApiError::retry_after`](crate::ApiError::retry_after) set).
///
/// ```
/// use std::time::Duration;
/// use siliconflow::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("sk-example")
///     .retry_policy(RetryPolicy::default().max_retries(5).backoff(Duration::from_secs(1), Duration::from_secs(20)))
///     .build()?;
/// let no_retries = client.with_retry_policy(RetryPolicy::none());
/// # let _ = no_retries;
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_server_delay: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_server_delay: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all: every failure is returned at once.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// How many retries after the first attempt (default 2).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff and the most any backoff grows to (default 0.5 s and 8 s).
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest server-requested delay the client waits for (default 60 s); a longer request ends the
    /// retries.
    #[must_use]
    pub fn max_server_delay(mut self, max: Duration) -> Self {
        self.max_server_delay = max;
        self
    }

    /// Whether backoffs get up to 25 % random jitter (default on), so many clients do not retry in step.
    #[must_use]
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The configured number of retries.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before retry number `retry` (0-based), or `None` when no retry should be made: the
    /// retries are used up, or the server asked for a longer delay than this policy accepts.
    pub(crate) fn delay(&self, retry: u32, server_delay: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        if let Some(delay) = server_delay {
            return (delay <= self.max_server_delay).then_some(delay);
        }
        let factor = 2u32.saturating_pow(retry.min(30));
        let backoff = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if !self.jitter {
            return Some(backoff);
        }
        Some(backoff.mul_f64(1.0 - 0.25 * random_unit()))
    }
}

/// A number in `[0, 1)`: jitter needs no cryptographic randomness, only different values per call and per
/// process (splitmix64 over the time and a counter).
fn random_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = time
        .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses an HTTP date (`Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110's preferred IMF-fixdate
/// form) into seconds since the Unix epoch.
pub(crate) fn parse_http_date(text: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let mut parts = text.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    // Years past 9999 are no date a server means; bounding the year keeps the arithmetic below far from
    // overflowing.
    if !(0..=9999).contains(&year) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m as i64 + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_doubles_with_jitter_and_stops() {
        let policy = RetryPolicy::default();
        for (retry, base) in [(0, 0.5), (1, 1.0)] {
            for _ in 0..100 {
                let delay = policy.delay(retry, None).unwrap().as_secs_f64();
                assert!(
                    delay > base * 0.75 - 1e-9 && delay <= base,
                    "{retry}: {delay}"
                );
            }
        }
        assert_eq!(policy.delay(2, None), None, "two retries by default");
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy::default().max_retries(10).jitter(false);
        let delays: Vec<_> = (0..6)
            .map(|r| policy.delay(r, None).unwrap().as_secs_f64())
            .collect();
        assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]);
        let huge = RetryPolicy::default().max_retries(u32::MAX).jitter(false);
        assert_eq!(huge.delay(1000, None), Some(Duration::from_secs(8)));
    }

    #[test]
    fn server_delay_wins_unless_too_long() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(0, Some(Duration::from_millis(50))),
            Some(Duration::from_millis(50))
        );
        assert_eq!(policy.delay(0, Some(Duration::from_secs(61))), None);
        assert_eq!(RetryPolicy::none().delay(0, Some(Duration::ZERO)), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Wed, 25 Nov 2026 13:44:49 GMT"),
            Some(1795614289)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 32 Nov 1994 08:49:37 GMT"), None);
    }
}
