//! `--compare`: starts `invite-demo` and `invite-baseline` (each on a fresh SQLite file in
//! a temporary directory, on a free loopback port), runs the same mix against each in
//! turn, and reports both and their ratios.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::load::{LoadConfig, LoadError, run_load};
use crate::report::Report;
use crate::target::Target;

/// Token lookups per source address when the demo's rate limit (120 a minute, bursts of
/// 60, per client IP) cannot be raised: below its burst.
pub const LOOKUPS_PER_SOURCE: u32 = 50;

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// The `invite-demo` binary (build it with `--release`).
    pub demo_bin: PathBuf,
    /// The `invite-baseline` binary.
    pub baseline_bin: PathBuf,
    /// The load to run against each (its target and pid are filled in per server).
    pub load: LoadConfig,
    /// Run the baseline first (to see whether the order matters).
    pub baseline_first: bool,
    /// Keep the temporary directory (databases and server logs) and print where it is.
    pub keep_dir: bool,
}

/// The outcome of a compare run.
#[derive(Debug)]
pub struct Comparison {
    /// The demo's report.
    pub demo: Report,
    /// The baseline's report.
    pub baseline: Report,
    /// How the demo's rate limit was handled.
    pub rate_limit: RateLimitNote,
}

/// What the compare run did about the demo's rate limit of the token lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateLimitNote {
    /// The demo has a flag for it; these arguments were added.
    Raised(Vec<String>),
    /// The demo has no such flag: its limit (per client IP) stays on, and the clients'
    /// token lookups move to a fresh loopback source address every
    /// [`LOOKUPS_PER_SOURCE`] lookups, against both servers.
    NoFlag,
}

/// A failure to compare.
#[derive(Debug)]
pub enum CompareError {
    /// A server could not be started.
    Spawn(String),
    /// A load run could not start.
    Load(&'static str, LoadError),
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(why) => write!(f, "{why}"),
            Self::Load(which, err) => write!(f, "{which}: {err}"),
        }
    }
}

impl std::error::Error for CompareError {}

/// A server process started by the compare run; killed when dropped.
#[derive(Debug)]
struct Server {
    child: Child,
    pid: u32,
    target: Target,
}

impl Server {
    async fn start(bin: &Path, args: &[String], port: u16, log: &Path) -> Result<Self, CompareError> {
        let spawn_error =
            |err: std::io::Error| CompareError::Spawn(format!("cannot start {}: {err}", bin.display()));
        let out = std::fs::File::create(log).map_err(spawn_error)?;
        let err = out.try_clone().map_err(spawn_error)?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let pid = child
            .id()
            .ok_or_else(|| CompareError::Spawn(format!("{} exited at once", bin.display())))?;
        let target = Target::from_addr(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|err| CompareError::Spawn(err.to_string()))?;
        Ok(Self { child, pid, target })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// A free port on 127.0.0.1 (bound and released; the server binds it a moment later).
fn free_port() -> Result<u16, CompareError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| CompareError::Spawn(format!("no free port: {err}")))
}

/// The demo's flags that lift its rate limit, if its `--help` lists one.
async fn rate_limit_args(demo_bin: &Path) -> RateLimitNote {
    let help = Command::new(demo_bin)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .await
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    rate_limit_args_from_help(&help)
}

fn rate_limit_args_from_help(help: &str) -> RateLimitNote {
    let has = |flag: &str| {
        help.split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == '<')
            .any(|word| word == flag)
    };
    // The demo's sign-in limit (`/login`, `/register`) is its own; 0 turns it off.
    let sign_in: Vec<String> = if has("--sign-in-rate-limit-per-minute") {
        vec!["--sign-in-rate-limit-per-minute".to_owned(), "0".to_owned()]
    } else {
        Vec::new()
    };
    if has("--no-rate-limit") {
        let mut args = vec!["--no-rate-limit".to_owned()];
        args.extend(sign_in);
        return RateLimitNote::Raised(args);
    }
    if has("--rate-limit-per-minute") {
        // Far above anything two cores can serve: 1.6 M lookups a second per client.
        let mut args = vec!["--rate-limit-per-minute".to_owned(), "100000000".to_owned()];
        if has("--rate-limit-burst") {
            args.extend(["--rate-limit-burst".to_owned(), "100000000".to_owned()]);
        }
        args.extend(sign_in);
        return RateLimitNote::Raised(args);
    }
    RateLimitNote::NoFlag
}

/// Starts each server on a fresh database, runs the load against it, and stops it.
///
/// # Errors
/// [`CompareError`] when a server cannot be started or a run cannot start.
pub async fn compare(config: &CompareConfig) -> Result<Comparison, CompareError> {
    let dir = tempfile::Builder::new()
        .prefix("invite-loadgen-")
        .tempdir()
        .map_err(|err| CompareError::Spawn(format!("no temporary directory: {err}")))?;
    let rate_limit = rate_limit_args(&config.demo_bin).await;
    let order: [&'static str; 2] = if config.baseline_first {
        ["baseline", "demo"]
    } else {
        ["demo", "baseline"]
    };
    let mut demo = None;
    let mut baseline = None;
    for which in order {
        let port = free_port()?;
        let db = dir.path().join(format!("{which}.sqlite"));
        let mut args = vec![
            "--bind".to_owned(),
            format!("127.0.0.1:{port}"),
            "--database-url".to_owned(),
            format!("sqlite://{}?mode=rwc", db.display()),
        ];
        let bin = if which == "demo" {
            if let RateLimitNote::Raised(extra) = &rate_limit {
                args.extend(extra.iter().cloned());
            }
            &config.demo_bin
        } else {
            &config.baseline_bin
        };
        let log = dir.path().join(format!("{which}.log"));
        eprintln!(
            "invite-loadgen: starting {which} ({}) on 127.0.0.1:{port}",
            bin.display()
        );
        let server = Server::start(bin, &args, port, &log).await?;
        let mut load = config.load.clone();
        if rate_limit == RateLimitNote::NoFlag && load.rotate_source_every.is_none() {
            // Both servers get the same traffic: lookups move to a fresh source address
            // before the demo's per-IP burst is spent.
            load.rotate_source_every = Some(LOOKUPS_PER_SOURCE);
        }
        load.target = server.target.clone();
        load.label = which.to_owned();
        load.server_pid = Some(server.pid);
        eprintln!(
            "invite-loadgen: {which}: {} clients for {}",
            load.clients,
            humantime::format_duration(load.duration)
        );
        let report = run_load(&load).await;
        server.stop().await;
        let report = report.map_err(|err| CompareError::Load(which, err))?;
        if which == "demo" {
            demo = Some(report);
        } else {
            baseline = Some(report);
        }
    }
    if config.keep_dir {
        let kept = dir.keep();
        eprintln!("invite-loadgen: databases and logs kept in {}", kept.display());
    }
    match (demo, baseline) {
        (Some(demo), Some(baseline)) => Ok(Comparison {
            demo,
            baseline,
            rate_limit,
        }),
        _ => Err(CompareError::Spawn("a server was not run".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_flag_is_found_in_the_help() {
        assert_eq!(
            rate_limit_args_from_help("  --bind <BIND>\n"),
            RateLimitNote::NoFlag
        );
        assert_eq!(
            rate_limit_args_from_help("      --rate-limit-per-minute <N>  lookups\n"),
            RateLimitNote::Raised(vec!["--rate-limit-per-minute".into(), "100000000".into()])
        );
        let both = "--rate-limit-per-minute <N>\n --rate-limit-burst <N>\n";
        assert!(matches!(rate_limit_args_from_help(both), RateLimitNote::Raised(a) if a.len() == 4));
        assert_eq!(
            rate_limit_args_from_help("--no-rate-limit  turn it off\n--rate-limit-per-minute <N>"),
            RateLimitNote::Raised(vec!["--no-rate-limit".into()])
        );
        // The demo's own sign-in limit is turned off too, or registrations hit it.
        let demo = "--rate-limit-per-minute <N>\n--sign-in-rate-limit-per-minute <N>\n";
        assert_eq!(
            rate_limit_args_from_help(demo),
            RateLimitNote::Raised(vec![
                "--rate-limit-per-minute".into(),
                "100000000".into(),
                "--sign-in-rate-limit-per-minute".into(),
                "0".into()
            ])
        );
    }
}
