//! The TCP connector and transport: ureq's, plus this crate's limits on every read and write.
//!
//! It takes the place of ureq's `TcpConnector` in the connector chain (TLS and HTTP CONNECT proxies sit on
//! top of it, so they get the same limits). Before each read or write it combines ureq's own timeout for the
//! phase (connect, response headers) with the current [`Limits`](super::scope::Limits): the deadline's time
//! left, the idle timeout, the event timeout, cancellation, and poll mode. It registers its socket with the
//! request's [`CancelHandle`](crate::CancelHandle) so a cancel from another thread can shut the socket down
//! and wake a blocked read, and with ureq's pool so `Agent::shutdown` works as documented.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

use super::scope::{self, Bound, Stop};
use crate::cancel::CancelHandle;

/// Opens TCP connections for the agent; counts them.
#[derive(Default)]
pub(crate) struct TcpConnector {
    opened: Arc<AtomicU64>,
}

impl fmt::Debug for TcpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpConnector")
            .field("opened", &self.opened.load(Ordering::Relaxed))
            .finish()
    }
}

impl TcpConnector {
    /// The counter of connections opened, shared with the client.
    pub(crate) fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.opened)
    }
}

/// The shortest time given to one address when several are tried.
const MIN_PER_ADDRESS: Duration = Duration::from_millis(10);

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let stream = connect(&details.addrs, details.timeout)?;
        stream.set_nodelay(details.config.no_delay())?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        log::debug!("connected to {:?}", stream.peer_addr().ok());
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let transport = TcpTransport {
            stream: Arc::new(SharedStream(stream)),
            buffers,
            read_timeout: None,
            write_timeout: None,
            nonblocking: false,
            registered_with: None,
            connect_until: (!details.timeout.after.is_not_happening())
                .then(|| Instant::now().checked_add(*details.timeout.after))
                .flatten(),
        };
        (details.register_shutdown)(transport.shutdown_handle())?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries each resolved address in turn within the connect timeout (bounded by the deadline), giving the
/// first the largest share of the time, as ureq does.
fn connect(addrs: &[SocketAddr], timeout: NextTimeout) -> Result<TcpStream, ureq::Error> {
    let ureq_limit = (!timeout.after.is_not_happening()).then(|| *timeout.after);
    let limits = scope::with_current(|l| l.cloned()).unwrap_or_default();
    let started = Instant::now();
    let mut last_error = None;
    for (i, addr) in addrs.iter().enumerate() {
        let ours = match limits.bound(false) {
            Ok(bound) => bound.filter(|b| b.stop == Stop::Timeout(crate::TimeoutKind::Deadline)),
            Err(stop) => return Err(stopped(stop)),
        };
        let ureq_left = ureq_limit.map(|l| l.saturating_sub(started.elapsed()));
        if ureq_left.is_some_and(|l| l.is_zero()) {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        // The remaining addresses share the time: this one gets half of it, the last one all of it.
        let share = |left: Duration| {
            if i + 1 == addrs.len() {
                left
            } else {
                (left / 2).max(MIN_PER_ADDRESS)
            }
        };
        let (wait, binding) = match (ureq_left.map(share), ours) {
            (Some(u), Some(o)) if o.after < u => (Some(o.after), Some(o.stop)),
            (Some(u), _) => (Some(u), None),
            (None, Some(o)) => (Some(o.after), Some(o.stop)),
            (None, None) => (None, None),
        };
        let result = match wait {
            Some(wait) => TcpStream::connect_timeout(addr, wait.max(Duration::from_millis(1))),
            None => TcpStream::connect(addr),
        };
        // A connect in progress cannot be interrupted (std has no way to wake it); a cancel that came
        // meanwhile wins as soon as it returns, however it ended.
        if limits.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(stopped(Stop::Cancelled));
        }
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) if is_timeout(&e) => {
                if let Some(stop) = binding {
                    return Err(stopped(stop));
                }
                last_error = Some(ureq::Error::Timeout(timeout.reason));
            }
            Err(e) => {
                log::debug!("connecting to {addr} failed: {e}");
                last_error = Some(ureq::Error::Io(e));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        ureq::Error::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "no address to connect to",
        ))
    }))
}

/// Records `stop` and returns the I/O error ureq passes up; the client names the error by the record.
fn stopped(stop: Stop) -> ureq::Error {
    scope::record(stop);
    ureq::Error::Io(scope::io_error(stop))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// The socket, shared with the pool's and the cancel handle's shutdown lists.
#[derive(Debug)]
pub(crate) struct SharedStream(pub TcpStream);

impl ShutdownHandle for SharedStream {
    fn shutdown(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// A TCP connection under this crate's limits.
pub(crate) struct TcpTransport {
    stream: Arc<SharedStream>,
    buffers: LazyBuffers,
    /// The socket's current read and write timeouts, to set them only when they change.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    nonblocking: bool,
    /// The cancel handle of the request the connection serves, if it has one: a connection goes back to the
    /// pool and serves other requests, and only the current one's handle may shut it down.
    registered_with: Option<CancelHandle>,
    /// The end of the connect budget, while the connection is being set up (TLS, a proxy's tunnel).
    connect_until: Option<Instant>,
}

impl fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.stream.0.peer_addr().ok())
            .finish()
    }
}

impl TcpTransport {
    fn shutdown_handle(&self) -> Weak<dyn ShutdownHandle> {
        let weak: Weak<SharedStream> = Arc::downgrade(&self.stream);
        weak
    }

    /// Prepares one read or write: applies the limits, registers the socket for cancellation, and returns
    /// the wait and what it means when it runs out (`None`: ureq's own phase timeout).
    fn prepare(
        &mut self,
        ureq: NextTimeout,
        reading: bool,
        elapsed: Duration,
    ) -> Result<Prepared, ureq::Error> {
        // ureq's limit for this call, less what earlier writes of the same call took.
        let mut ureq_after =
            (!ureq.after.is_not_happening()).then(|| ureq.after.saturating_sub(elapsed));
        // While connecting (a TLS handshake, a proxy's CONNECT answer), ureq hands every read the whole
        // connect budget again: one budget, started when the connection was opened, bounds them all.
        if ureq.reason == ureq::Timeout::Connect {
            if let Some(until) = self.connect_until {
                let left = until.saturating_duration_since(Instant::now());
                ureq_after = Some(ureq_after.map_or(left, |after| after.min(left)));
            }
        } else {
            self.connect_until = None;
        }
        if ureq_after.is_some_and(|a| a.is_zero()) {
            return Err(ureq::Error::Timeout(ureq.reason));
        }
        let (ours, poll) = scope::with_current(|limits| {
            self.register(limits.and_then(|l| l.cancel.as_ref()))?;
            let Some(limits) = limits else {
                return Ok((None, false));
            };
            let poll = limits.poll && reading;
            if poll {
                // A server that keeps sending after `[DONE]` (endless trailers) gets a few reads, no more.
                let left = limits.poll_reads.get();
                if left == 0 {
                    return Err(Stop::WouldBlock);
                }
                limits.poll_reads.set(left - 1);
            }
            Ok((limits.bound(reading)?, poll))
        })
        .map_err(stopped)?;
        let (wait, ours) = match (ureq_after, ours) {
            (Some(u), Some(Bound { after, stop })) if after < u => (Some(after), Some(stop)),
            (Some(u), _) => (Some(u), None),
            (None, Some(Bound { after, stop })) => (Some(after), Some(stop)),
            (None, None) => (None, None),
        };
        Ok(Prepared {
            wait,
            ours,
            ureq_reason: ureq.reason,
            poll,
        })
    }

    /// Makes `cancel` (the current request's handle, or none) the only handle that can shut this
    /// connection down; fails when it is already cancelled.
    fn register(&mut self, cancel: Option<&CancelHandle>) -> Result<(), Stop> {
        let same = match (&self.registered_with, cancel) {
            (Some(old), Some(new)) => old.id() == new.id(),
            (None, None) => true,
            _ => false,
        };
        if same {
            return Ok(());
        }
        let socket = self.shutdown_handle();
        if let Some(old) = self.registered_with.take() {
            old.unregister(&socket);
        }
        if let Some(new) = cancel {
            self.registered_with = Some(new.clone());
            if !new.register(socket) {
                return Err(Stop::Cancelled);
            }
        }
        Ok(())
    }

    /// After an operation: a cancel that woke it is the cancel's, whatever the socket said.
    fn cancelled(&self) -> bool {
        scope::with_current(|limits| {
            limits
                .and_then(|l| l.cancel.as_ref())
                .is_some_and(|c| c.is_cancelled())
        })
    }

    fn set_blocking_mode(&mut self, nonblocking: bool) -> io::Result<()> {
        if self.nonblocking != nonblocking {
            self.stream.0.set_nonblocking(nonblocking)?;
            self.nonblocking = nonblocking;
        }
        Ok(())
    }
}

/// What one operation may wait for, and what it means when the wait runs out.
struct Prepared {
    wait: Option<Duration>,
    ours: Option<Stop>,
    ureq_reason: ureq::Timeout,
    poll: bool,
}

impl Prepared {
    /// The error for an operation that ran out of time.
    fn timed_out(&self) -> ureq::Error {
        match self.ours {
            Some(stop) => stopped(stop),
            None => ureq::Error::Timeout(self.ureq_reason),
        }
    }
}

/// Sets a socket timeout when it changed. A zero wait cannot be set (it means "none" to the OS), so it is
/// rounded up to a millisecond; the limits have already turned a passed limit into an error.
fn update(
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let wanted = wanted.map(|w| w.max(Duration::from_millis(1)));
    if *current != wanted {
        set(wanted)?;
        *current = wanted;
    }
    Ok(())
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        // Each `write(2)` waits at most what the limits leave at that moment: a peer that takes the bytes
        // slowly cannot stretch one wait past the deadline.
        let started = Instant::now();
        let stream = Arc::clone(&self.stream);
        self.set_blocking_mode(false)?;
        let mut written = 0;
        while written < amount {
            let prepared = self.prepare(timeout.for_write(), false, started.elapsed())?;
            update(&mut self.write_timeout, prepared.wait, |t| {
                stream.0.set_write_timeout(t)
            })?;
            let result = (&stream.0).write(&self.buffers.output()[written..amount]);
            if self.cancelled() {
                return Err(stopped(Stop::Cancelled));
            }
            match result {
                Ok(0) => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(prepared.timed_out()),
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let prepared = self.prepare(timeout.for_read(), true, Duration::ZERO)?;
        let stream = Arc::clone(&self.stream);
        if prepared.poll {
            self.set_blocking_mode(true)?;
        } else {
            self.set_blocking_mode(false)?;
            update(&mut self.read_timeout, prepared.wait, |t| {
                stream.0.set_read_timeout(t)
            })?;
        }
        let input = self.buffers.input_append_buf();
        let result = loop {
            match (&stream.0).read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        if self.cancelled() {
            return Err(stopped(Stop::Cancelled));
        }
        let amount = match result {
            Ok(amount) => amount,
            Err(e) if prepared.poll && e.kind() == io::ErrorKind::WouldBlock => {
                return Err(stopped(Stop::WouldBlock))
            }
            Err(e) if is_timeout(&e) => return Err(prepared.timed_out()),
            Err(e) => return Err(ureq::Error::Io(e)),
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // A pooled connection is usable when a read would block: nothing arrived, nothing closed.
        if self.set_blocking_mode(true).is_err() {
            return false;
        }
        let mut byte = [0u8];
        let open = matches!(
            (&self.stream.0).read(&mut byte),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        open && self.set_blocking_mode(false).is_ok()
    }
}
