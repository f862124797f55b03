//! The HTTP contract of rules §6, in process (`tower::ServiceExt::oneshot`), against the
//! in-memory store and SQLite: every success row of the route table and every row of the
//! error table, each reached by a request that really produces it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod accepting;
mod host_keys;
mod rate_limit;
mod requests;
mod sending;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta};
use common::{App, BASE_URL, int_key};
use invite_axum::{Identify, IdentityError, RateLimit};
use invite_core::testing::MemoryStore;
use invite_core::{Invitations, KeyKind, Role, User};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

fn is_rfc3339_utc(value: &serde_json::Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with('Z') && DateTime::parse_from_rfc3339(s).is_ok())
}
