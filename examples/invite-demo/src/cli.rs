//! Command-line flags of `invite-demo` (rules §7); each is also an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The demo server of invite-rs: the invitation API, a demo sign-in and the pages of the
/// guide, in one process.
#[derive(Clone, Debug, Parser)]
#[command(name = "invite-demo", version, about, long_about = None)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "INVITE_DEMO_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Database: `sqlite://FILE?mode=rwc` (created and migrated on start) or
    /// `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "INVITE_DEMO_DATABASE_URL",
        default_value = "sqlite://invite-demo.sqlite?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: String,

    /// How long invitation links live, e.g. `7d`, `90s`, `3s` (any positive duration).
    #[arg(long, env = "INVITE_DEMO_INVITE_TTL", default_value = "7d", value_parser = parse_ttl)]
    pub invite_ttl: Duration,

    /// Public URL of this server, used to build invitation links (default
    /// `http://{bind}`).
    #[arg(long, env = "INVITE_DEMO_BASE_URL")]
    pub base_url: Option<String>,

    /// Token lookups (view, accept, reject) each client address may make per minute, in
    /// bursts of up to half as many (rule X6); `0` turns the limit off, for load
    /// generators and API testers that send everything from one address.
    #[arg(long, env = "INVITE_DEMO_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_per_minute: u32,

    /// Sign-ins (`POST /login` and `POST /register` together) each client address may
    /// make per minute, in bursts of up to half as many; `0` turns the limit off, for load
    /// generators that register accounts from one address.
    #[arg(long, env = "INVITE_DEMO_SIGN_IN_RATE_LIMIT_PER_MINUTE", default_value_t = 30)]
    pub sign_in_rate_limit_per_minute: u32,

    /// How long a sign-in lasts, from signing in, e.g. `12h`, `30m`, `2s` (any positive
    /// duration). Sessions are kept in the database, so they survive a restart.
    #[arg(long, env = "INVITE_DEMO_SESSION_TTL", default_value = "12h", value_parser = parse_session_ttl)]
    pub session_ttl: Duration,

    /// Send email invitations over SMTP, e.g. `smtp://127.0.0.1:2525` (plain, for a local
    /// relay), `smtp://host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`.
    /// Without it, the development notifier writes links to the log.
    #[arg(long, env = "INVITE_DEMO_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of invitation emails.
    #[arg(
        long,
        env = "INVITE_DEMO_SMTP_FROM",
        default_value = "invite-demo <invites@invite-demo.localhost>"
    )]
    pub smtp_from: String,

    /// Post SMS invitations as JSON to this `http://` endpoint (a Twilio-like API).
    /// Without it, the development notifier writes links to the log.
    #[arg(long, env = "INVITE_DEMO_SMS_URL")]
    pub sms_url: Option<String>,

    /// The file with the outbox key (32 bytes; created with mode 0600 on first start).
    /// Default: beside the SQLite file (`<file>.outbox-key`), or `invite-demo.outbox-key`.
    #[arg(long, env = "INVITE_DEMO_OUTBOX_KEY_FILE")]
    pub outbox_key_file: Option<std::path::PathBuf>,
}

impl Args {
    /// The base URL of links: the flag without a trailing slash, or `http://{bind}`
    /// (`localhost` when bound to every interface).
    #[must_use]
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if self.bind.ip().is_unspecified() => {
                format!("http://localhost:{}", self.bind.port())
            }
            None => format!("http://{}", self.bind),
        }
    }

    /// The database URL with any password replaced by `***`, fit for a log line.
    #[must_use]
    pub fn database_url_redacted(&self) -> String {
        redact(&self.database_url)
    }
}

/// Parses a positive duration written as humans do: `7d`, `90s`, `1h 30m`, `3s`.
fn parse_ttl(input: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(input.trim()).map_err(|err| err.to_string())?;
    if ttl.is_zero() {
        return Err("the invitation time-to-live must be positive".to_owned());
    }
    Ok(ttl)
}

/// Parses a positive session lifetime, as [`parse_ttl`] does, at most ten years.
fn parse_session_ttl(input: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(input.trim()).map_err(|err| err.to_string())?;
    if ttl.is_zero() {
        return Err("the session time-to-live must be positive".to_owned());
    }
    if ttl > Duration::from_secs(10 * 365 * 24 * 3600) {
        return Err("the session time-to-live must be at most 10 years".to_owned());
    }
    Ok(ttl)
}

/// `url` with the password of its user info and the value of every query parameter whose
/// name holds `password` (any case, percent-encoded or not: `password`, `sslpassword`)
/// replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user info ends at the last `@` before the path; a raw `#`, `?` or `@` in a
    // password then stays inside it and is hidden with it.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (userinfo, rest) = match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, _)) => (Some(userinfo), &rest[userinfo.len() + 1..]),
        None => (None, rest),
    };
    let mut shown = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        let user = userinfo.split(':').next().unwrap_or_default();
        shown.push_str(&format!("{user}:***@"));
    }
    let Some((before_query, query)) = rest.split_once('?') else {
        shown.push_str(rest);
        return shown;
    };
    let (query, fragment) = match query.find('#') {
        Some(at) => query.split_at(at),
        None => (query, ""),
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_password_name(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    shown.push_str(&format!("{before_query}?{}{fragment}", query.join("&")));
    shown
}

/// Whether a query parameter name, decoded as the driver decodes it, names a password.
fn is_password_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .to_ascii_lowercase()
        .contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_accepts_days_seconds_and_rejects_zero() {
        // rules §7: `7d`, `90s`, `3s`; any positive duration
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("3s"), Ok(Duration::from_secs(3)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn defaults_follow_the_spec() {
        // rules §7: --bind 127.0.0.1:3000, a SQLite file, 7d, base URL from bind
        let args = Args::parse_from(["invite-demo"]);
        assert_eq!(args.bind.to_string(), "127.0.0.1:3000");
        assert!(args.database_url.starts_with("sqlite://"));
        assert_eq!(args.invite_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(args.base_url(), "http://127.0.0.1:3000");
        assert_eq!(args.rate_limit_per_minute, 120); // rule X6: on unless turned off
        assert_eq!(args.sign_in_rate_limit_per_minute, 30);
        assert_eq!(args.session_ttl, Duration::from_secs(12 * 3600));
        let args = Args::parse_from([
            "invite-demo",
            "--bind",
            "0.0.0.0:8080",
            "--base-url",
            "https://x.example/",
        ]);
        assert_eq!(args.base_url(), "https://x.example");
    }

    #[test]
    fn session_ttl_is_positive_and_bounded() {
        assert_eq!(parse_session_ttl("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_session_ttl("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(parse_session_ttl("0s").is_err());
        assert!(parse_session_ttl("11years").is_err());
        assert!(parse_session_ttl("later").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/invite"),
            "postgres://app:***@db:5432/invite"
        );
        assert_eq!(
            redact("sqlite://invite-demo.sqlite?mode=rwc"),
            "sqlite://invite-demo.sqlite?mode=rwc"
        );
    }

    #[test]
    fn passwords_in_query_parameters_are_redacted() {
        // rules §7: the database URL is logged at start-up; no secret goes to the log.
        for (url, redacted) in [
            (
                "postgres://db/invite?password=secret",
                "postgres://db/invite?password=***",
            ),
            (
                "postgres://app:secret@db/invite?sslmode=require&password=secret",
                "postgres://app:***@db/invite?sslmode=require&password=***",
            ),
            (
                "postgres://db/invite?PASSWORD=secret&user=app",
                "postgres://db/invite?PASSWORD=***&user=app",
            ),
            (
                "postgres://db/invite?sslpassword=secret&Password=other",
                "postgres://db/invite?sslpassword=***&Password=***",
            ),
            (
                "postgres://app:secret@db?password=secret#frag",
                "postgres://app:***@db?password=***#frag",
            ),
            // Percent-encoded names are decoded by the driver, so by the check too.
            (
                "postgres://db/invite?pass%77ord=secret",
                "postgres://db/invite?pass%77ord=***",
            ),
            ("postgres://db/invite?password", "postgres://db/invite?password"),
            (
                "sqlite://demo.sqlite?mode=rwc&cache=shared",
                "sqlite://demo.sqlite?mode=rwc&cache=shared",
            ),
        ] {
            let shown = redact(url);
            assert_eq!(shown, redacted, "{url}");
            assert!(!shown.contains("secret") && !shown.contains("other"), "{shown}");
        }
    }
}
