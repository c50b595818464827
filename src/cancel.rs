//! [`CancelHandle`]: stop a request or a stream from another thread.
//!
//! A blocked read cannot be woken by setting a flag: the thread is asleep in the kernel. So a handle keeps a
//! reference to the socket of every connection its requests use, and [`CancelHandle::cancel`] shuts those
//! sockets down (`shutdown(2)`), which makes the blocked read return at once. The request's thread then sees
//! the handle cancelled and returns [`Error::Cancelled`](crate::Error::Cancelled). Nothing here spawns a
//! thread: the canceller's thread does the shutdown, the request's thread does the rest.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::ShutdownHandle;

/// A cancellation handle: give a clone to the thread (a GUI's "Stop" button, a worker pool's supervisor) that
/// may want to stop a request, and use the handle for the request with
/// [`Client::with_cancel`](crate::Client::with_cancel).
///
/// [`cancel`](Self::cancel) makes the request return [`Error::Cancelled`](crate::Error::Cancelled) within
/// milliseconds in every phase that waits on the network: waiting for the response headers (a reasoning model
/// thinking before its first token), reading the body between two deltas, sending a large upload, and waiting
/// between two retries. A TCP connect in progress is not interrupted (it is bounded by the connect timeout);
/// the cancel takes effect when it completes. Other requests on the same client, including those on the same
/// connection pool, go on untouched.
///
/// A handle stays cancelled: requests started with it afterwards fail at once. Use a new handle per request
/// (they are cheap: one small allocation).
///
/// ```no_run
/// use std::time::Duration;
/// use siliconflow::{CancelHandle, ChatRequest, Client, Error, Message};
///
/// let client = Client::from_env()?;
/// let stop = CancelHandle::new();
/// let button = stop.clone(); // hand this to the UI thread
/// std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_secs(5));
///     button.cancel(); // the user pressed "Stop"
/// });
///
/// let request = ChatRequest::new("deepseek-ai/DeepSeek-R1", vec![Message::user("Think hard.")]);
/// let mut stream = client.with_cancel(&stop).chat_stream(&request)?;
/// for delta in &mut stream {
///     match delta {
///         Ok(delta) => print!("{}", delta.content.unwrap_or_default()),
///         Err(Error::Cancelled) => break, // what arrived so far stays in `stream`
///         Err(e) => return Err(e),
///     }
/// }
/// println!("\n(stopped after {} bytes)", stream.content().len());
/// # Ok::<(), siliconflow::Error>(())
/// ```
#[derive(Clone)]
pub struct CancelHandle {
    inner: Arc<Inner>,
}

struct Inner {
    /// A number no other handle has had in this process (an address could be reused by a later handle).
    id: u64,
    cancelled: AtomicBool,
    /// The sockets of the connections this handle's requests use, and the condition a retry waits on.
    sockets: Mutex<Vec<Weak<dyn ShutdownHandle>>>,
    wake: Condvar,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl PartialEq for CancelHandle {
    /// Two handles are equal when they are clones of one another.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for CancelHandle {}

impl Default for CancelHandle {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        CancelHandle {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                cancelled: AtomicBool::new(false),
                sockets: Mutex::new(Vec::new()),
                wake: Condvar::new(),
            }),
        }
    }
}

impl CancelHandle {
    /// A new handle, not cancelled.
    pub fn new() -> Self {
        CancelHandle::default()
    }

    /// Cancels every request using this handle (and every later one): a blocked read or write returns at
    /// once, and the request returns [`Error::Cancelled`](crate::Error::Cancelled). Safe to call from any
    /// thread, any number of times.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let sockets = std::mem::take(&mut *self.lock());
        for socket in sockets.iter().filter_map(Weak::upgrade) {
            // The peer sees the connection close; the blocked reader sees the end of its input.
            socket.shutdown();
        }
        self.inner.wake.notify_all();
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// An identity for this handle and its clones, unique in the process, to remember which handle a
    /// socket is registered with.
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// Registers a connection's socket so that [`cancel`](Self::cancel) can shut it down. Returns `false`
    /// (and shuts the socket down) when the handle is already cancelled.
    pub(crate) fn register(&self, socket: Weak<dyn ShutdownHandle>) -> bool {
        let mut sockets = self.lock();
        sockets.retain(|s| s.strong_count() > 0);
        sockets.push(Weak::clone(&socket));
        drop(sockets);
        // Checked after the push: a cancel that ran before it is seen here, one that runs after it finds
        // the socket in the list.
        if self.is_cancelled() {
            if let Some(socket) = socket.upgrade() {
                socket.shutdown();
            }
            return false;
        }
        true
    }

    /// Forgets a socket (its connection now serves another request, or none): a later cancel of this
    /// handle must not touch it.
    pub(crate) fn unregister(&self, socket: &Weak<dyn ShutdownHandle>) {
        self.lock()
            .retain(|s| s.strong_count() > 0 && !Weak::ptr_eq(s, socket));
    }

    /// Sleeps for `duration` (a retry's backoff), returning early with `false` when the handle is cancelled.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now().checked_add(duration);
        let mut guard = self.lock();
        loop {
            if self.is_cancelled() {
                return false;
            }
            let left = match until {
                Some(until) => until.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return true;
            }
            guard = match self.inner.wake.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The socket list; a panic elsewhere while it was held cannot leave it inconsistent (it is a plain
    /// list of weak references), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Vec<Weak<dyn ShutdownHandle>>> {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_wakes_a_sleeping_retry() {
        let handle = CancelHandle::new();
        let canceller = handle.clone();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            canceller.cancel();
        });
        assert!(!handle.sleep(Duration::from_secs(30)));
        assert!(start.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
        assert!(handle.is_cancelled());
        assert!(!handle.sleep(Duration::from_millis(1)), "stays cancelled");
    }

    #[test]
    fn sleep_without_cancel_sleeps_and_huge_durations_do_not_panic() {
        let handle = CancelHandle::new();
        let start = Instant::now();
        assert!(handle.sleep(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
        let other = CancelHandle::new();
        other.cancel();
        assert!(!other.sleep(Duration::MAX));
    }

    #[test]
    fn clones_are_equal_and_share_state() {
        let a = CancelHandle::new();
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, CancelHandle::new());
        b.cancel();
        assert!(a.is_cancelled());
        assert_eq!(format!("{a:?}"), "CancelHandle { cancelled: true }");
    }
}
