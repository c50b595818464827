//! Name resolution on the caller's thread.
//!
//! ureq's default resolver spawns a thread whenever a timeout covers the lookup (a global, per-call or
//! resolve timeout, and the connect timeout when a proxy's host is resolved), because the system's
//! `getaddrinfo` cannot be interrupted. This crate never spawns a thread, so this resolver always looks names
//! up synchronously: a lookup is bounded by the system resolver's own timeouts (on Linux, `resolv.conf`'s
//! `timeout` × `attempts`, 5 s × 2 by default), not by this crate's connect timeout or deadline. An IP
//! address is parsed without any lookup.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The payload of the I/O error of a failed lookup, so the client can report it as a connect failure.
#[derive(Debug)]
pub(crate) struct LookupFailed {
    pub host: String,
    pub source: Option<io::Error>,
}

impl fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(e) => write!(f, "could not resolve host {}: {e}", self.host),
            None => write!(f, "host {} has no usable address", self.host),
        }
    }
}

impl std::error::Error for LookupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Resolves on the calling thread, ignoring the timeout ureq passes (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct CallerThreadResolver;

impl Resolver for CallerThreadResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri(format!("no host in {uri}")))?;
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(port), _) => port,
            (None, Some("https")) => 443,
            (None, Some("http")) => 80,
            (None, other) => {
                return Err(ureq::Error::BadUri(format!(
                    "unknown scheme {:?}",
                    other.unwrap_or("")
                )))
            }
        };
        let failed = |source| {
            ureq::Error::Io(io::Error::new(
                io::ErrorKind::NotFound,
                LookupFailed {
                    host: host.to_string(),
                    source,
                },
            ))
        };
        // `[::1]` in a URI is the IPv6 address `::1`.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (host, port)
                .to_socket_addrs()
                .map_err(|e| failed(Some(e)))?
                .collect(),
        };
        let mut result = self.empty();
        for addr in config.ip_family().keep_wanted(found.into_iter()) {
            if result.try_push(addr).is_err() {
                break; // ureq keeps at most 16 addresses
            }
        }
        if result.is_empty() {
            return Err(failed(None));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::unversioned::transport::NextTimeout;

    fn resolve(uri: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let config = ureq::config::Config::default();
        CallerThreadResolver
            .resolve(&uri.parse().unwrap(), &config, NextTimeout::default())
            .map(|addrs| addrs.iter().copied().collect())
    }

    #[test]
    fn addresses_and_default_ports() {
        assert_eq!(
            resolve("http://127.0.0.1:8080/v1").unwrap(),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve("https://[::1]/v1").unwrap(),
            ["[::1]:443".parse().unwrap()]
        );
        assert!(resolve("http://localhost:9/v1")
            .unwrap()
            .iter()
            .all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn an_unknown_host_is_a_lookup_failure() {
        let error = resolve("http://no-such-host.invalid/v1").unwrap_err();
        let ureq::Error::Io(io) = error else {
            panic!("{error:?}")
        };
        assert!(io.get_ref().unwrap().is::<LookupFailed>(), "{io:?}");
    }
}
