//! Proxy and TLS settings of the client: parsed and checked when it is built.

use std::fmt;

use percent_encoding::percent_decode_str;
use ureq::http::Uri;
use ureq::{Proxy, ProxyProtocol};

use crate::error::Error;

/// Where requests go: through the proxy the environment names (the default), directly, or through a proxy
/// given in code.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum ProxySetting {
    #[default]
    Environment,
    Direct,
    Url(String),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Direct => f.write_str("Direct"),
            // Credentials in the URL are secrets: show where, not who.
            ProxySetting::Url(url) => write!(f, "Url({})", without_credentials(url)),
        }
    }
}

/// The proxy URL with any `user:password@` removed.
pub(crate) fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}<credentials>@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        (None, Some(at)) => format!("<credentials>@{}", &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// The environment variables naming a proxy, most specific first, as curl reads them: the scheme's own
/// variable, then `ALL_PROXY`.
fn proxy_variables(https: bool) -> [&'static str; 4] {
    if https {
        ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    }
}

/// The proxy for a base URL of the given scheme, or `None` to connect directly. `no_proxy` (comma-separated
/// entries, read as curl reads them: see [`no_proxy_patterns`]) overrides `NO_PROXY` from the
/// environment.
pub(crate) fn proxy(
    setting: &ProxySetting,
    no_proxy: Option<&str>,
    https: bool,
) -> Result<Option<Proxy>, Error> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (url, source) = match setting {
        ProxySetting::Direct => return Ok(None),
        ProxySetting::Url(url) => (url.clone(), "ClientBuilder::proxy".to_string()),
        ProxySetting::Environment => {
            let found = proxy_variables(https)
                .into_iter()
                .find_map(|name| env(name).map(|v| (v, name.to_string())));
            match found {
                Some(found) => found,
                None => return Ok(None),
            }
        }
    };
    let no_proxy = match no_proxy {
        Some(list) => Some(list.to_string()),
        None => env("no_proxy").or_else(|| env("NO_PROXY")),
    };
    parse_proxy(url.trim(), no_proxy.as_deref())
        .map(Some)
        .map_err(|why| {
            Error::InvalidConfig(format!(
                "the proxy {} from {source} cannot be used: {why}",
                without_credentials(&url)
            ))
        })
}

fn parse_proxy(url: &str, no_proxy: Option<&str>) -> Result<Proxy, String> {
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|_| "it is not a valid URL".to_string())?;
    let protocol = match uri.scheme_str() {
        Some("http") => ProxyProtocol::Http,
        Some("https") => ProxyProtocol::Https,
        Some(other) if other.starts_with("socks") => {
            return Err(format!(
                "{other} proxies are not supported (their connections would escape the client's \
                 timeouts and cancellation); use an HTTP CONNECT proxy, or ClientBuilder::without_proxy()"
            ))
        }
        other => return Err(format!("unknown proxy scheme {:?}", other.unwrap_or(""))),
    };
    if cfg!(not(any(feature = "rustls", feature = "native-tls")))
        && protocol == ProxyProtocol::Https
    {
        return Err("an https:// proxy needs a TLS feature (rustls or native-tls)".to_string());
    }
    let authority = uri.authority().ok_or("it names no host")?;
    let host = authority.host();
    if host.is_empty() {
        return Err("it names no host".to_string());
    }
    let mut builder = Proxy::builder(protocol).host(host);
    if let Some(port) = authority.port_u16() {
        builder = builder.port(port);
    }
    if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|t| t.into_owned())
                .map_err(|_| "its credentials are not valid percent-encoded UTF-8".to_string())
        };
        builder = builder
            .username(&decode(user)?)
            .password(&decode(password)?);
    }
    for entry in no_proxy.unwrap_or("").split(',') {
        for pattern in no_proxy_patterns(entry) {
            builder = builder.no_proxy(&pattern);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// The patterns ureq matches hosts against for one `NO_PROXY` entry read as curl reads it: a name covers
/// itself and its subdomains, with or without a leading dot (`internal` and `.internal` both cover
/// `internal` and `api.internal`); an IPv6 address matches with or without brackets (ureq compares the
/// URL's host with them); `*` is every host. Other forms go to ureq as they are.
fn no_proxy_patterns(entry: &str) -> Vec<String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Vec::new();
    }
    if entry == "*" || entry.starts_with('*') || entry.ends_with('*') {
        return vec![entry.to_string()];
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        // An IPv6 address: as the URL's host shows it, and bare.
        return vec![format!("[{bare}]"), bare.to_string()];
    }
    let name = entry.trim_start_matches('.');
    if name.is_empty() {
        return Vec::new();
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return vec![name.to_string()];
    }
    vec![name.to_string(), format!(".{name}")]
}

/// Which root certificates verify servers.
#[derive(Clone, Default)]
pub(crate) enum TlsRoots {
    /// The Mozilla roots bundled with the crate (rustls), or the platform's (native-tls).
    #[default]
    Bundled,
    /// These certificates (PEM), instead of the bundled ones.
    Pem(Vec<u8>),
    /// The operating system's verifier and trust store (feature `platform-verifier`).
    #[cfg(feature = "platform-verifier")]
    Platform,
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsRoots::Bundled => f.write_str("Bundled"),
            TlsRoots::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            #[cfg(feature = "platform-verifier")]
            TlsRoots::Platform => f.write_str("Platform"),
        }
    }
}

/// The TLS configuration: rustls when that feature is on (the default), else the platform's TLS.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
pub(crate) fn tls_config(roots: &TlsRoots) -> Result<ureq::tls::TlsConfig, Error> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, TlsProvider};

    #[cfg(feature = "rustls")]
    let provider = TlsProvider::Rustls;
    #[cfg(not(feature = "rustls"))]
    let provider = TlsProvider::NativeTls;
    let builder = TlsConfig::builder().provider(provider);
    let builder = match roots {
        TlsRoots::Bundled => builder,
        TlsRoots::Pem(pem) => {
            let mut certificates = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::InvalidConfig(format!(
                            "the root certificates are not valid PEM: {e}"
                        )))
                    }
                }
            }
            if certificates.is_empty() {
                return Err(Error::InvalidConfig(
                    "the root certificates hold no PEM certificate (-----BEGIN CERTIFICATE-----)"
                        .to_string(),
                ));
            }
            builder.root_certs(RootCerts::new_with_certs(&certificates))
        }
        #[cfg(feature = "platform-verifier")]
        TlsRoots::Platform => builder.root_certs(RootCerts::PlatformVerifier),
    };
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_entries_are_read_as_curl_reads_them() {
        let cases: [(&str, &[&str]); 8] = [
            ("internal", &["internal", ".internal"]),
            (" .internal ", &["internal", ".internal"]),
            ("10.0.0.1", &["10.0.0.1"]),
            ("::1", &["[::1]", "::1"]),
            ("[fe80::1]", &["[fe80::1]", "fe80::1"]),
            ("*", &["*"]),
            ("*.example.com", &["*.example.com"]),
            ("", &[]),
        ];
        for (entry, expected) in cases {
            assert_eq!(no_proxy_patterns(entry), expected, "{entry:?}");
        }
    }

    #[test]
    fn the_proxy_is_skipped_for_the_hosts_curl_would_skip() {
        let list = "internal, .corp, 10.1.2.3, ::1, *.wild";
        let proxy = parse_proxy("http://127.0.0.1:3128", Some(list)).unwrap();
        let direct = [
            "http://internal/v1",
            "http://api.internal/v1",
            "https://a.b.internal:8443/v1",
            "http://corp/v1",
            "http://x.corp/v1",
            "http://10.1.2.3:8000/v1",
            "http://[::1]:8000/v1",
            "http://x.wild/v1",
        ];
        let proxied = [
            "http://notinternal/v1",
            "http://internal.example/v1",
            "http://10.1.2.30/v1",
            "http://[::2]/v1",
            "http://api.siliconflow.cn/v1",
        ];
        for url in direct {
            assert!(
                proxy.is_no_proxy(&url.parse().unwrap()),
                "{url} should go direct"
            );
        }
        for url in proxied {
            assert!(
                !proxy.is_no_proxy(&url.parse().unwrap()),
                "{url} should use the proxy"
            );
        }
    }

    #[test]
    fn credentials_are_hidden_and_decoded() {
        assert_eq!(
            without_credentials("http://user:p%40ss@proxy:3128"),
            "http://<credentials>@proxy:3128"
        );
        assert_eq!(without_credentials("proxy:3128"), "proxy:3128");
        let proxy = parse_proxy("http://us%20er:p%40ss@proxy.internal:3128", None).unwrap();
        assert_eq!(proxy.host(), "proxy.internal");
        assert_eq!(proxy.port(), 3128);
        assert_eq!(proxy.username(), Some("us er"));
        assert_eq!(proxy.password(), Some("p@ss"));
        let bare = parse_proxy("10.0.0.1:8080", Some("localhost, .internal")).unwrap();
        assert_eq!(bare.protocol(), ProxyProtocol::Http);
        assert!(bare.is_no_proxy(&"http://localhost:1/v1".parse().unwrap()));
        assert!(bare.is_no_proxy(&"http://api.internal/v1".parse().unwrap()));
        assert!(!bare.is_no_proxy(&"http://api.siliconflow.cn/v1".parse().unwrap()));
    }

    #[test]
    fn socks_and_garbage_are_refused() {
        for url in ["socks5://127.0.0.1:1080", "ftp://x", "http://", "::"] {
            assert!(parse_proxy(url, None).is_err(), "{url}");
        }
        let error = proxy(
            &ProxySetting::Url("socks5h://user:secret@127.0.0.1:1080".into()),
            None,
            true,
        )
        .unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(proxy(&ProxySetting::Direct, None, true).unwrap().is_none());
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn pem_roots_are_checked() {
        assert!(matches!(
            tls_config(&TlsRoots::Pem(b"not a certificate".to_vec())),
            Err(Error::InvalidConfig(_))
        ));
        assert!(tls_config(&TlsRoots::Bundled).is_ok());
    }
}
