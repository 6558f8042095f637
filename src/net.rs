//! Address rules shared by the configuration, the Whop client and the HTTP transport: one
//! answer to "is this URL on this machine?".

use url::{Host, Url};

/// Whether `url` points at this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `scheme://host[:port]` of a URL, as browsers and `Origin` headers write it.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_origins() {
        for (u, local) in [
            ("http://127.0.0.1:9/api", true),
            ("http://LOCALHOST/", true),
            ("http://[::1]:8080", true),
            ("https://127.8.0.1", true),
            ("https://api.whop.com/api/v1", false),
            ("http://localhost.example.com", false),
            ("http://10.0.0.1", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), local, "{u}");
        }
        let u = Url::parse("http://127.0.0.1:8787/api/v1/x?y").unwrap();
        assert_eq!(origin(&u), "http://127.0.0.1:8787");
        let u = Url::parse("https://api.whop.com:443/api").unwrap();
        assert_eq!(origin(&u), "https://api.whop.com");
    }
}
