//! `invite-demo`: the guide, clickable in a browser (rules §7).
//!
//! One process serves the invitation API of `invite-axum` under `/api`, a demo sign-in
//! (`/login`, `/register`, `/logout`, `/me`) and the pages: `/` (sign in),
//! `/enterprise/members` (members, the invite drawer, the invitation records) and
//! `/invite?token=…` (the invitee page). Data lives in SQLite (a file in the working
//! directory by default) or PostgreSQL, seeded with the demo enterprises and users of the
//! rules when empty. Invitations are delivered through the outbox (rules D1–D4) by a worker
//! in this process: over SMTP with `--smtp-url`, to an SMS webhook with `--sms-url`, and
//! otherwise written to the log by a development notifier.
//!
//! Its tests start this binary: `tests/demo_http.rs` over HTTP (always), and
//! `tests/demo_browser.rs` in a headless Chromium, which runs only with
//! `INVITE_E2E_BROWSER=1` (needs the Debian packages `chromium` and `chromium-driver`) and
//! with `INVITE_E2E_SCREENSHOTS=1` refreshes the screenshots in `docs/screenshots/`.
//!
//! ```text
//! cargo run -p invite-demo
//! cargo run -p invite-demo -- --invite-ttl 90s --bind 127.0.0.1:8080
//! cargo run -p invite-demo -- --rate-limit-per-minute 0   # for a load generator
//! ```
//!
//! It serves with client addresses (`into_make_service_with_connect_info`), so the rate
//! limit of the token lookups (rule X6, `--rate-limit-per-minute`, default 120 a minute)
//! and that of the sign-in (`--sign-in-rate-limit-per-minute`, default 30 a minute) tell
//! clients apart. Sign-in sessions are rows of the demo's own table in the same database,
//! stored as SHA-256 of the cookie, living `--session-ttl` (default 12 h) and renewed at
//! every sign-in (see `session.rs`). The API's OpenAPI document is at `/api/openapi.json`.
#![forbid(unsafe_code)]

mod app;
mod auth;
mod cli;
mod delivery;
mod notifier;
mod pages;
mod seed;
mod session;
mod sms;
mod store;

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = cli::Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("invite-demo: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::Args) -> Result<(), BoxError> {
    let ttl = app::ttl_policy(args.invite_ttl)?;
    let base_url = args.base_url();
    tracing::info!(database = %args.database_url_redacted(), "opening the database");
    let store = Arc::new(store::open(&args.database_url).await?);
    let key = delivery::load_or_create_key(&delivery::key_path(&args))?;
    let invitations = app::service(store.clone(), &base_url, ttl, delivery::notifier(&args)?, key);
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    let worker = invitations.delivery_worker().map(|worker| {
        tokio::spawn(worker.run(async move {
            let mut stopped = worker_stopped;
            let _ = stopped.wait_for(|stop| *stop).await;
        }))
    });
    if seed::seed_if_empty(&*store).await? {
        tracing::info!("created the demo data: Acme Robotics, Globex, Unverified Labs and six users");
    }
    tokio::spawn(sweep_expired_forever(invitations.clone()));
    let rate_limit = app::rate_limit(args.rate_limit_per_minute);
    if rate_limit.is_none() {
        tracing::warn!("token lookups are not rate-limited (--rate-limit-per-minute 0)");
    }
    let sessions =
        session::Sessions::open(&store, args.session_ttl, base_url.starts_with("https://")).await?;
    let sign_in_limit = app::rate_limit(args.sign_in_rate_limit_per_minute);
    if sign_in_limit.is_none() {
        tracing::warn!("sign-ins are not rate-limited (--sign-in-rate-limit-per-minute 0)");
    }
    let app = app::router(invitations, store, sessions, rate_limit, sign_in_limit);
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.bind))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, %base_url, "invite-demo is listening");
    println!(
        "\n  invite-demo is ready: open {base_url}/\n\
         \n  1. Sign in as alice@example.com (super admin of Acme Robotics), click Invite.\
         \n  2. Copy the link shown once (it is also printed below as DEV NOTIFIER).\
         \n  3. Open it signed out, log in as bob@example.com, and accept.\
         \n  Links expire after {ttl}. Stop with Ctrl-C.\n",
        ttl = humantime::format_duration(args.invite_ttl),
    );
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    // The outbox worker finishes the round in flight (rule D1: the rest waits in the outbox).
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    tracing::info!("invite-demo stopped");
    Ok(())
}

/// Writes down expired invitations every minute, a batch at a time, so that the records
/// table's `expired` filter only has to write down what expired since the last sweep.
async fn sweep_expired_forever(invitations: invite_core::Invitations) {
    const BATCH: usize = 1000;
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        loop {
            match invitations.sweep_expired(BATCH).await {
                Ok(swept) if swept == BATCH => continue,
                Ok(0) => break,
                Ok(swept) => {
                    tracing::info!(swept, "wrote down expired invitations");
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, cause = ?std::error::Error::source(&err), "sweep failed; retrying in a minute");
                    break;
                }
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
