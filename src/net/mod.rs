//! The network layer under ureq: the agent, its connector chain and resolver, and the limits every read
//! and write of a request obeys.
//!
//! - [`resolver`]: looks names up on the caller's thread (ureq's default resolver would spawn one when a
//!   timeout covers the lookup).
//! - [`tcp`]: TCP connections that obey [`scope`]'s limits (deadline, idle and event timeouts,
//!   cancellation, poll mode) on every read and write; TLS and HTTP CONNECT proxies are layered on top by
//!   ureq's own connectors, so they obey them too.
//! - [`scope`]: the per-thread slot through which the client hands a request's limits to the transport.
//! - [`key`]: the API key put on the wire in place of the placeholder ureq is given, so that no log
//!   record (ureq-proto dumps the request head at `trace`) holds it.

pub(crate) mod key;
pub(crate) mod resolver;
pub(crate) mod scope;
pub(crate) mod tcp;

use std::fmt;
use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ureq::unversioned::transport::{ConnectProxyConnector, ConnectionDetails, Connector};

/// An agent on this crate's thread-free resolver and limit-obeying TCP transport, sending `key`'s real
/// `Authorization` value in place of its placeholder, and the counter of the connections it opens.
pub(crate) fn agent(
    config: ureq::config::Config,
    key: key::KeySplice,
) -> (ureq::Agent, Arc<AtomicU64>) {
    let tcp = tcp::TcpConnector::default();
    let opened = tcp.counter();
    // HTTP CONNECT proxies first (they open their own connection through the rest of the chain), then TCP,
    // then TLS. SOCKS proxies are refused when the client is built: ureq's SOCKS connector opens its own
    // sockets, which would escape the limits.
    let connector = ().chain(ConnectProxyConnector::default()).chain(tcp);
    #[cfg(feature = "rustls")]
    let connector = connector.chain(ureq::unversioned::transport::RustlsConnector::default());
    #[cfg(feature = "native-tls")]
    let connector = connector.chain(ureq::unversioned::transport::NativeTlsConnector::default());
    // Last, above TLS, where the request head is plain text: the key in place of its placeholder.
    let connector = connector.chain(key);
    let agent = ureq::Agent::with_parts(
        config,
        Connecting(connector),
        resolver::CallerThreadResolver,
    );
    (agent, opened)
}

/// The whole connector chain, marking what fails while a connection is set up (a TLS handshake that
/// rejects the certificate, a proxy that refuses the tunnel, a reset mid-handshake) as a failure to
/// connect, whatever form the layer that failed gave it. Timeouts, lookups and this crate's own stops are
/// already named and pass through.
#[derive(Debug)]
struct Connecting<C>(C);

impl<C: Connector<()>> Connector<()> for Connecting<C> {
    type Out = C::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0
            .connect(details, chained)
            .map_err(|error| match error {
                ureq::Error::Timeout(_) => error,
                ureq::Error::Io(e)
                    if scope::stop_of(&e).is_some()
                        || e.get_ref()
                            .is_some_and(|inner| inner.is::<resolver::LookupFailed>()) =>
                {
                    ureq::Error::Io(e)
                }
                other => ureq::Error::Io(io::Error::other(ConnectFailed(other))),
            })
    }
}

/// The payload of the I/O error of a connection that could not be set up.
#[derive(Debug)]
pub(crate) struct ConnectFailed(pub ureq::Error);

impl fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for ConnectFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}
