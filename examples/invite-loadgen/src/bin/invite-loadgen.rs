//! `invite-loadgen`: drives a running invite-rs server on this machine with a realistic
//! mix for a bounded time and reports throughput, latency percentiles, errors by code and
//! the server's peak RSS; `--compare` starts `invite-demo` and `invite-baseline` itself
//! and prints their ratios. Exits 1 on any 5xx, unexpected code or unanswered request.
//!
//! ```text
//! cargo build --release -p invite-demo -p invite-loadgen
//! target/release/invite-loadgen --compare                      # 16 clients, 2 × 20 s
//! target/release/invite-loadgen --target http://127.0.0.1:3000 --clients 16 --duration 30s \
//!     --server-pid "$(pgrep -x invite-demo)"
//! ```
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use invite_loadgen::compare::{CompareConfig, RateLimitNote, compare};
use invite_loadgen::report::{Report, render_ratios};
use invite_loadgen::{LoadConfig, Mix, Target, run_load};

/// HTTP load for invite-rs, to servers on this machine only.
#[derive(Debug, Parser)]
#[command(name = "invite-loadgen", version, about, long_about = None)]
struct Args {
    /// The server: http:// and a loopback address (127.0.0.0/8, [::1], localhost).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    target: String,

    /// Concurrent clients, each with one request in flight (1 to 1024).
    #[arg(long, default_value_t = 16)]
    clients: usize,

    /// How long to send load (default 30s; 20s per server with --compare; at most 1h).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,

    /// `realistic` (half viewers, 40 % invite–view–answer journeys, 10 % admins),
    /// `views`, `accepts`, or key=value pairs over realistic: view, invite, admin (client
    /// weights), reject, replay, signed_in, admin_send (percentages).
    #[arg(long, default_value = "realistic", value_parser = parse_mix)]
    mix: Mix,

    /// The server's pid, to report its peak RSS from /proc/<pid>/status.
    #[arg(long)]
    server_pid: Option<u32>,

    /// The super admin who sends and lists.
    #[arg(long, default_value = "alice@example.com")]
    admin: String,

    /// Seconds one request may take before it counts as unanswered.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,

    /// Send at most this many token lookups (view, accept, reject) per client from one
    /// loopback source address, then move to another (127.a.b.c), for a server that
    /// rate-limits lookups per client IP; a lookup refused with 429 is then sent once more.
    /// With --compare it is 50 when the demo cannot be told to raise its limit.
    #[arg(long)]
    rotate_source_every: Option<u32>,

    /// Start invite-demo and invite-baseline (each on a fresh SQLite file, free ports),
    /// run the same mix against both, and print the ratios.
    #[arg(long)]
    compare: bool,

    /// With --compare: the invite-demo binary (default: next to this one).
    #[arg(long)]
    demo_bin: Option<PathBuf>,

    /// With --compare: the invite-baseline binary (default: next to this one).
    #[arg(long)]
    baseline_bin: Option<PathBuf>,

    /// With --compare: load the baseline first.
    #[arg(long)]
    baseline_first: bool,

    /// With --compare: keep the temporary databases and server logs.
    #[arg(long)]
    keep_dir: bool,

    /// Also write the report(s) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_mix(input: &str) -> Result<Mix, String> {
    input.parse()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("invite-loadgen: {err}");
            ExitCode::from(2)
        }
    }
}

/// Runs and prints; `Ok(false)` when a request failed.
async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let target = Target::parse(&args.target)?;
    let default_duration = if args.compare { 20 } else { 30 };
    let mut load = LoadConfig::new(target);
    load.clients = args.clients;
    load.duration = args.duration.unwrap_or(Duration::from_secs(default_duration));
    load.mix = args.mix;
    load.admin = args.admin.clone();
    load.server_pid = args.server_pid;
    load.request_timeout = args.request_timeout;
    load.rotate_source_every = args.rotate_source_every;

    if !args.compare {
        eprintln!(
            "invite-loadgen: {} clients against {} for {}",
            load.clients,
            load.target,
            humantime::format_duration(load.duration)
        );
        let report = run_load(&load).await?;
        print!("{}", report.render());
        write_json(args.json.as_ref(), &serde_json::json!({ "report": report }))?;
        return Ok(verdict(&[&report]));
    }

    let next_to_me = |name: &str| -> Result<PathBuf, Box<dyn std::error::Error>> {
        let me = std::env::current_exe()?;
        let dir = me.parent().ok_or("cannot tell where this binary is")?;
        Ok(dir.join(name))
    };
    let config = CompareConfig {
        demo_bin: match args.demo_bin {
            Some(path) => path,
            None => next_to_me("invite-demo")?,
        },
        baseline_bin: match args.baseline_bin {
            Some(path) => path,
            None => next_to_me("invite-baseline")?,
        },
        load,
        baseline_first: args.baseline_first,
        keep_dir: args.keep_dir,
    };
    for bin in [&config.demo_bin, &config.baseline_bin] {
        if !bin.is_file() {
            return Err(format!(
                "{} not found: build it first (cargo build --release -p invite-demo -p invite-loadgen) or pass --demo-bin/--baseline-bin",
                bin.display()
            )
            .into());
        }
    }
    let comparison = compare(&config).await?;
    match &comparison.rate_limit {
        RateLimitNote::Raised(flags) => {
            println!("demo rate limit raised with: {}", flags.join(" "));
        }
        RateLimitNote::NoFlag => println!(
            "NOTE: this invite-demo has no flag to raise its rate limit (120/min, burst 60 per client IP): \
             each client moves its token lookups to a fresh loopback source address every {} lookups \
             (against both servers)",
            config
                .load
                .rotate_source_every
                .unwrap_or(invite_loadgen::compare::LOOKUPS_PER_SOURCE)
        ),
    }
    print!("{}", comparison.demo.render());
    print!("{}", comparison.baseline.render());
    print!("{}", render_ratios(&comparison.demo, &comparison.baseline));
    write_json(
        args.json.as_ref(),
        &serde_json::json!({ "demo": comparison.demo, "baseline": comparison.baseline }),
    )?;
    Ok(verdict(&[&comparison.demo, &comparison.baseline]))
}

/// Prints the verdict; whether every request got its expected answer.
fn verdict(reports: &[&Report]) -> bool {
    let mut clean = true;
    for report in reports {
        if !report.is_clean() {
            clean = false;
            println!(
                "FAILED: {}: {} request(s) got a 5xx, an unexpected code or no answer",
                report.header.label,
                report.failures()
            );
        }
    }
    if clean {
        println!("OK: every request got the answer its operation expects");
    }
    let _ = std::io::stdout().flush();
    clean
}

fn write_json(path: Option<&PathBuf>, value: &serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    }
    Ok(())
}
