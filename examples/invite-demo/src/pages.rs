//! The pages of the guide, embedded in the binary: plain HTML, a small stylesheet and a
//! little vanilla JavaScript that calls the JSON API (no build step, no CDN).

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../static/index.html");
const MEMBERS_HTML: &str = include_str!("../static/members.html");
const INVITE_HTML: &str = include_str!("../static/invite.html");
const STYLE_CSS: &str = include_str!("../static/style.css");
const COMMON_JS: &str = include_str!("../static/common.js");
const INDEX_JS: &str = include_str!("../static/index.js");
const MEMBERS_JS: &str = include_str!("../static/members.js");
const INVITE_JS: &str = include_str!("../static/invite.js");
const FAVICON_SVG: &str = include_str!("../static/favicon.svg");

/// Only our own scripts and styles, never framed.
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The routes of the pages and their assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML) }))
        .route("/enterprise/members", get(|| async { page(MEMBERS_HTML) }))
        .route("/invite", get(|| async { page(INVITE_HTML) }))
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/assets/common.js", get(|| async { script(COMMON_JS) }))
        .route("/assets/index.js", get(|| async { script(INDEX_JS) }))
        .route("/assets/members.js", get(|| async { script(MEMBERS_JS) }))
        .route("/assets/invite.js", get(|| async { script(INVITE_JS) }))
        .route(
            "/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON_SVG) }),
        )
}

/// An HTML page. Every page may carry a token in its URL (the invitee page, and the sign-in
/// page coming back to it), so none is cached or leaks its URL as a referrer (rule X2).
fn page(html: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            ),
        ],
        html,
    )
        .into_response()
}

fn script(js: &'static str) -> Response {
    asset("text/javascript; charset=utf-8", js)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
