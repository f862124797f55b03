//! The server under load, and the rule that it is on this machine: a target is
//! `http://` + a loopback address (`127.0.0.0/8`, `[::1]` or `localhost`) + a port, and
//! nothing else. `localhost` is rewritten to `127.0.0.1`, so no name is ever resolved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A server on a loopback address, the only kind the load generator sends traffic to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    addr: SocketAddr,
}

/// Why a `--target` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError(String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

impl Target {
    /// Reads `http://HOST:PORT` (a trailing `/` allowed). HOST must be a loopback IP
    /// address or `localhost`; anything else, another scheme or a path is refused.
    ///
    /// # Errors
    /// [`TargetError`] saying what is wrong.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let refuse = |why: &str| TargetError(format!("refusing target `{url}`: {why}"));
        let rest = url
            .trim()
            .strip_prefix("http://")
            .ok_or_else(|| refuse("only http:// to a loopback address is allowed"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(refuse("give only http://HOST:PORT, without a path or user"));
        }
        let addr = if let Some(port) = authority.strip_prefix("localhost") {
            let port = match port.strip_prefix(':') {
                Some(port) => port.parse::<u16>().map_err(|_| refuse("bad port"))?,
                None if port.is_empty() => 80,
                None => return Err(refuse("not a loopback address")),
            };
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        } else if let Ok(addr) = authority.parse::<SocketAddr>() {
            addr
        } else if let Ok(ip) = authority
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            SocketAddr::new(ip, 80)
        } else {
            return Err(refuse(
                "HOST must be a loopback IP address (127.0.0.0/8, [::1]) or localhost",
            ));
        };
        Self::from_addr(addr).map_err(|_| refuse("not a loopback address; load goes only to this machine"))
    }

    /// A target at `addr`, which must be a loopback address.
    ///
    /// # Errors
    /// [`TargetError`] for any other address.
    pub fn from_addr(addr: SocketAddr) -> Result<Self, TargetError> {
        if addr.ip().is_loopback() {
            Ok(Self { addr })
        } else {
            Err(TargetError(format!(
                "refusing target {addr}: not a loopback address; load goes only to this machine"
            )))
        }
    }

    /// The socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        for (url, shown) in [
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
            ("http://127.1.2.3:8080", "http://127.1.2.3:8080"),
            ("http://localhost:3000", "http://127.0.0.1:3000"),
            ("http://localhost", "http://127.0.0.1:80"),
            ("http://[::1]:3000", "http://[::1]:3000"),
        ] {
            assert_eq!(Target::parse(url).unwrap().to_string(), shown, "{url}");
        }
    }

    #[test]
    fn anything_off_this_machine_is_refused() {
        for url in [
            "http://10.0.0.1:3000",
            "http://192.168.1.10:3000",
            "http://172.16.0.1",
            "http://8.8.8.8:80",
            "http://example.com:3000",
            "http://localhost.example.com:3000",
            "http://0.0.0.0:3000",
            "https://127.0.0.1:3000",
            "ftp://127.0.0.1",
            "http://127.0.0.1:3000/api",
            "http://user@127.0.0.1:3000",
            "127.0.0.1:3000",
            "http://[2001:db8::1]:3000",
        ] {
            assert!(Target::parse(url).is_err(), "{url} must be refused");
        }
        assert!(Target::from_addr("10.1.1.1:80".parse().unwrap()).is_err());
    }
}
