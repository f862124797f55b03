//! One span per request naming the matched route and the outcome, never the URI, its
//! query or the body (rule X1, X10).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::error::OutcomeCode;

/// The middleware: opens the span `invite_http` with `method` and `route`, and records
/// `status` and `code` (`ok` or the rules error code) when the answer is ready.
pub(crate) async fn span(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "invite_http",
        method = %request.method(),
        route = %route,
        status = Empty,
        code = Empty,
    );
    async move {
        let response = next.run(request).await;
        let code = response.extensions().get::<OutcomeCode>().map_or("ok", |c| c.0);
        let span = tracing::Span::current();
        span.record("status", response.status().as_u16());
        span.record("code", code);
        tracing::debug!("answered");
        response
    }
    .instrument(span)
    .await
}
