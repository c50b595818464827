//! The limits of the I/O the current thread is doing for a request: deadline, idle and event timeouts,
//! cancellation, and "do not wait at all".
//!
//! ureq sets one timeout per phase when a request starts; this crate needs limits that move while a body is
//! read (the deadline's time left shrinks, the event timeout restarts with every event) and a way to stop a
//! blocked read from another thread. ureq does all of a request's I/O on the calling thread, in the calling
//! stack, so the client puts the current request's [`Limits`] in a thread-local slot around every call into
//! ureq ([`scoped`]), and the socket transport ([`super::tcp`]) reads them before every read and write.
//! When one of these limits stops an operation, the transport records why ([`Stop`]) and [`scoped`] hands
//! it back, so the error the caller sees names the limit, not a generic I/O failure.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::cancel::CancelHandle;
use crate::error::TimeoutKind;

/// The limits on the I/O of one operation (sending a request, reading a body).
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits {
    /// The request's overall deadline.
    pub deadline: Option<Instant>,
    /// The longest wait for one read to make progress (the idle timeout; `None` while waiting for a
    /// non-streamed answer's headers, which the response timeout bounds).
    pub read_idle: Option<Duration>,
    /// The longest wait for one write to make progress (the idle timeout).
    pub write_idle: Option<Duration>,
    /// When the current unit (one event of a stream, or a whole non-streamed body) must have arrived.
    pub unit: Option<Instant>,
    /// The request's cancellation handle.
    pub cancel: Option<CancelHandle>,
    /// Read only what has already arrived: a read that would wait fails instead.
    pub poll: bool,
    /// In poll mode, how many more reads of the socket are allowed.
    pub poll_reads: Cell<u32>,
    /// When the request (head and body) must have been sent: the event timeout, applied to writes.
    pub write_unit: Option<Instant>,
}

/// Why one of these limits stopped an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A timeout of this crate's fired (the deadline, the idle or the event timeout).
    Timeout(TimeoutKind),
    /// The request was cancelled.
    Cancelled,
    /// In poll mode, the read would have had to wait.
    WouldBlock,
}

/// An I/O error that says which limit stopped the operation.
pub(crate) fn io_error(stop: Stop) -> io::Error {
    let kind = match stop {
        Stop::Timeout(_) => io::ErrorKind::TimedOut,
        // Not `Interrupted`: readers retry those (`read_to_end` would spin on a cancelled request).
        Stop::Cancelled => io::ErrorKind::Other,
        Stop::WouldBlock => io::ErrorKind::WouldBlock,
    };
    io::Error::new(kind, StopMarker(stop))
}

/// The limit an I/O error made by [`io_error`] stands for.
pub(crate) fn stop_of(error: &io::Error) -> Option<Stop> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<StopMarker>())
        .map(|marker| marker.0)
}

/// The payload of [`io_error`]'s errors.
#[derive(Debug)]
struct StopMarker(Stop);

impl fmt::Display for StopMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Stop::Timeout(kind) => write!(f, "{kind} timed out"),
            Stop::Cancelled => f.write_str("cancelled"),
            Stop::WouldBlock => f.write_str("no data available without waiting"),
        }
    }
}

impl std::error::Error for StopMarker {}

thread_local! {
    static CURRENT: RefCell<Option<Limits>> = const { RefCell::new(None) };
    static STOPPED: Cell<Option<Stop>> = const { Cell::new(None) };
}

/// Runs `f` with `limits` governing the I/O it does on this thread, and returns its result with the reason
/// one of the limits stopped it, if one did. Nesting restores the outer limits.
pub(crate) fn scoped<R>(limits: &mut Limits, f: impl FnOnce() -> R) -> (R, Option<Stop>) {
    let outer = CURRENT.with(|slot| slot.replace(Some(std::mem::take(limits))));
    let outer_stop = STOPPED.with(|s| s.take());
    let result = f();
    let stop = STOPPED.with(|s| s.replace(outer_stop));
    if let Some(mine) = CURRENT.with(|slot| slot.replace(outer)) {
        *limits = mine;
    }
    (result, stop)
}

/// Reads the current limits (`None` outside [`scoped`]).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Limits>) -> R) -> R {
    CURRENT.with(|slot| f(slot.borrow().as_ref()))
}

/// Records why an operation was stopped, for [`scoped`] to return.
pub(crate) fn record(stop: Stop) {
    STOPPED.with(|s| s.set(Some(stop)));
}

/// Which of the limits binds one read or write, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// How long the operation may wait.
    pub after: Duration,
    /// What it is when that wait runs out.
    pub stop: Stop,
}

impl Limits {
    /// The tightest of this crate's limits for one operation starting now (`reading`: the event timeout
    /// applies to reads only), or the stop that has already happened. Reads the clock only when a deadline
    /// or an event timeout is set.
    pub(crate) fn bound(&self, reading: bool) -> Result<Option<Bound>, Stop> {
        let now = (self.deadline.is_some() || self.unit.is_some() || self.write_unit.is_some())
            .then(Instant::now);
        self.bound_at(now, reading)
    }

    fn bound_at(&self, now: Option<Instant>, reading: bool) -> Result<Option<Bound>, Stop> {
        if self.cancel.as_ref().is_some_and(CancelHandle::is_cancelled) {
            return Err(Stop::Cancelled);
        }
        let mut bound: Option<Bound> = None;
        let mut tighten = |after: Duration, stop: Stop| {
            if bound.is_none_or(|b| after < b.after) {
                bound = Some(Bound { after, stop });
            }
        };
        let idle = if reading {
            self.read_idle
        } else {
            self.write_idle
        };
        if let Some(idle) = idle {
            tighten(idle, Stop::Timeout(TimeoutKind::Idle));
        }
        let left =
            |at: Instant| now.map_or(Duration::ZERO, |now| at.saturating_duration_since(now));
        let unit = if reading { self.unit } else { self.write_unit };
        if let Some(unit) = unit {
            tighten(left(unit), Stop::Timeout(TimeoutKind::Event));
        }
        if let Some(deadline) = self.deadline {
            tighten(left(deadline), Stop::Timeout(TimeoutKind::Deadline));
        }
        match bound {
            Some(b) if b.after.is_zero() => Err(b.stop),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_limit_binds_and_a_passed_one_stops() {
        let now = Instant::now();
        let limits = Limits {
            deadline: Some(now + Duration::from_secs(5)),
            read_idle: Some(Duration::from_secs(2)),
            write_idle: Some(Duration::from_secs(3)),
            unit: Some(now + Duration::from_secs(1)),
            ..Limits::default()
        };
        let bound = limits.bound_at(Some(now), true).unwrap().unwrap();
        assert_eq!(bound.stop, Stop::Timeout(TimeoutKind::Event));
        assert_eq!(bound.after, Duration::from_secs(1));
        let bound = limits.bound_at(Some(now), false).unwrap().unwrap();
        assert_eq!(bound.stop, Stop::Timeout(TimeoutKind::Idle));
        let late = now + Duration::from_secs(6);
        assert_eq!(
            limits.bound_at(Some(late), false),
            Err(Stop::Timeout(TimeoutKind::Deadline))
        );
        assert_eq!(Limits::default().bound(true), Ok(None));
    }

    #[test]
    fn cancelled_wins_and_scopes_nest() {
        let cancel = CancelHandle::new();
        cancel.cancel();
        let limits = Limits {
            cancel: Some(cancel),
            ..Limits::default()
        };
        assert_eq!(limits.bound(true), Err(Stop::Cancelled));

        let mut outer = Limits {
            poll: true,
            ..Limits::default()
        };
        let ((), stop) = scoped(&mut outer, || {
            assert!(with_current(|l| l.unwrap().poll));
            let mut inner = Limits::default();
            let ((), inner_stop) = scoped(&mut inner, || {
                assert!(!with_current(|l| l.unwrap().poll));
                record(Stop::WouldBlock);
            });
            assert_eq!(inner_stop, Some(Stop::WouldBlock));
            assert!(with_current(|l| l.unwrap().poll), "outer limits restored");
        });
        assert_eq!(stop, None);
        assert!(outer.poll, "limits handed back");
        assert!(with_current(|l| l.is_none()));
    }
}
