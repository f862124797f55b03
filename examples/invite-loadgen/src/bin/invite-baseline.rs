//! `invite-baseline`: the floor for the demo's HTTP load figures — a bare axum server that
//! serves the routes of the load mix with the library's SQL written by hand, on a SQLite
//! file of the demo's layout (created, migrated and seeded with the demo's accounts when
//! empty). See `invite_loadgen::baseline`.
//!
//! ```text
//! invite-baseline --bind 127.0.0.1:3001 --database-url 'sqlite:///tmp/baseline.sqlite?mode=rwc'
//! ```
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use invite_loadgen::baseline::Baseline;

/// A bare axum server doing the invite-rs SQL by hand: the floor for `invite-loadgen`.
#[derive(Debug, Parser)]
#[command(name = "invite-baseline", version, about, long_about = None)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3001")]
    bind: SocketAddr,

    /// The SQLite database (`sqlite://FILE?mode=rwc`), created and seeded when empty.
    #[arg(long, default_value = "sqlite://invite-baseline.sqlite?mode=rwc")]
    database_url: String,

    /// Base of the invitation links (default `http://{bind}`).
    #[arg(long)]
    base_url: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("invite-baseline: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let base_url = args.base_url.unwrap_or_else(|| format!("http://{}", args.bind));
    let baseline = Baseline::open(&args.database_url, &base_url).await?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.bind))?;
    println!("invite-baseline is listening on {}", listener.local_addr()?);
    axum::serve(listener, baseline.router())
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
