//! `cargo run -p embed-host-schema -- --bind 127.0.0.1:3002 --database-url URL`: the host
//! of rules §8 on its own tables (see the crate docs). Then, as Peter (owner of Initech):
//!
//! ```text
//! curl -s localhost:3002/api/enterprises/1/invitations -H 'x-account-id: 1' \
//!   -H 'content-type: application/json' -d '{"contact":"samir@initech.example","role":"dev_admin"}'
//! curl -s localhost:3002/api/invitations/accept -H 'x-account-id: 2' \
//!   -H 'content-type: application/json' -d '{"token":"<token of invite_url>"}'
//! ```

use clap::Parser;

/// A host with its own schema, serving invitations on it.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "EMBED_HOST_SCHEMA_BIND", default_value = "127.0.0.1:3002")]
    bind: std::net::SocketAddr,
    /// `sqlite://file?mode=rwc` or `postgres://…`.
    #[arg(
        long,
        env = "EMBED_HOST_SCHEMA_DATABASE_URL",
        default_value = "sqlite://embed-host-schema.sqlite?mode=rwc"
    )]
    database_url: String,
}

#[tokio::main]
async fn main() -> Result<(), embed_host_schema::Error> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    let base_url = format!("http://{}", args.bind);
    let app = embed_host_schema::app(&args.database_url, &base_url).await?;
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("embed-host-schema on {base_url}/ (send x-account-id: 1 to act as Peter, owner of Initech)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
