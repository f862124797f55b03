//! HTTP load for invite-rs: how the demo server holds up under a realistic mix, measured
//! against a floor.
//!
//! - [`run_load`] drives a running server (loopback only, [`Target`]) with N concurrent
//!   clients for a bounded time, in the roles of a [`Mix`]: viewers open links, invitees
//!   register, are invited by the super admin, view and accept (or reject) — each accept
//!   on a fresh invitation — and admins list the records table. It reports throughput,
//!   p50/p95/p99 latency per operation and overall (HdrHistogram), the answers by error
//!   code, and the server's peak RSS from `/proc` ([`Report`]).
//! - [`baseline::Baseline`] is a bare axum server serving the same routes with the SQL of
//!   `invite-store-sqlx` written by hand on the same SQLite layout: the floor.
//! - [`compare::compare`] starts `invite-demo` and `invite-baseline` on fresh databases and
//!   runs the same mix against both.
//!
//! The binaries are `invite-loadgen` and `invite-baseline`:
//!
//! ```text
//! cargo build --release -p invite-demo -p invite-loadgen
//! target/release/invite-loadgen --compare --clients 16 --duration 20s
//! target/release/invite-loadgen --target http://127.0.0.1:3000 --server-pid "$(pgrep -x invite-demo)"
//! ```
#![forbid(unsafe_code)]

pub mod baseline;
pub mod compare;
pub mod http;
pub mod load;
pub mod mix;
pub mod report;
pub mod rss;
pub mod target;

pub use load::{LoadConfig, LoadError, run_load};
pub use mix::Mix;
pub use report::{Op, Report};
pub use target::Target;
