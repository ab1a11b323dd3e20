//! Which URLs an endpoint may have (docs/webhooks.md "Endpoints"): an
//! `https://` URL of a public host name, without credentials. Refused:
//! IP literals in private, loopback, link-local, shared, documentation,
//! multicast or unspecified ranges, `localhost` and single-label or
//! internal names. With the deployment's dev variable (`make dev`, the
//! tests) `http://127.0.0.1:<port>` is allowed too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

fn refuse(why: impl Into<String>) -> Refused {
    Refused(why.into())
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
}

/// Checks an endpoint URL; answers it normalised.
pub fn check(raw: &str, allow_local_http: bool) -> Result<String, Refused> {
    if raw.len() > 2048 {
        return Err(refuse("longer than 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|e| refuse(format!("not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in a URL are not allowed"));
    }
    if url.fragment().is_some() {
        return Err(refuse("a fragment is not allowed"));
    }
    let host = url.host().ok_or_else(|| refuse("no host"))?;
    if allow_local_http && url.scheme() == "http" && matches!(host, Host::Ipv4(ip) if ip == Ipv4Addr::LOCALHOST) {
        return Ok(url.to_string());
    }
    if url.scheme() != "https" {
        return Err(refuse("only https:// URLs are allowed"));
    }
    match host {
        Host::Ipv4(ip) if !public_v4(ip) => Err(refuse(format!("{ip} is not a public address"))),
        Host::Ipv6(ip) if !public_v6(ip) => Err(refuse(format!("{ip} is not a public address"))),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let internal = [
                "localhost",
                "local",
                "internal",
                "localdomain",
                "home.arpa",
                "intranet",
                "lan",
            ];
            if !d.contains('.') {
                return Err(refuse(format!("{d} is not a public host name")));
            }
            if internal.iter().any(|s| d == *s || d.ends_with(&format!(".{s}"))) {
                return Err(refuse(format!("{d} is not a public host name")));
            }
            Ok(url.to_string())
        }
        _ => Ok(url.to_string()),
    }
}

/// Whether an IP is public (for tests and for answers that name one).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_hosts_only() {
        for ok in [
            "https://hooks.example.com/rating",
            "https://example.com:8443/x?y=1",
            "https://93.184.216.34/hook",
            "https://[2606:4700::1111]/hook",
        ] {
            assert!(check(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/rating",
            "ftp://example.com/",
            "https://localhost/x",
            "https://api.localhost/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://10.0.0.8/x",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.1.1/x",
            "https://192.168.1.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://user:pw@example.com/x",
            "https://example.com/x#frag",
            "not a url",
            "http://127.0.0.1:9000/x",
        ] {
            assert!(check(bad, false).is_err(), "{bad}");
        }
        assert!(check("http://127.0.0.1:9000/x", true).is_ok());
        assert!(check("http://localhost:9000/x", true).is_err());
        assert!(check("http://10.0.0.1:9000/x", true).is_err());
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("172.16.0.1".parse().unwrap()));
    }
}
