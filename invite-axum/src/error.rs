//! The error answer of SPEC §6: `{"error":{"code","message"}}` with the status of the
//! SPEC's error table, decided by one explicit `match`.

use std::error::Error as StdError;
use std::fmt::Write as _;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use invite_core::InviteError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error answer (SPEC §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and a human-readable message of an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// The SPEC §6 error code, e.g. `invalid_contact`. Clients branch on this.
    #[schema(example = "invalid_contact")]
    pub code: String,
    /// A message for people; never holds a token, and says nothing for `internal`.
    #[schema(example = "invalid contact: not a valid email address")]
    pub message: String,
}

/// The outcome code of an answer, left in the response's extensions for the request span
/// (SPEC X10: the log names the route and outcome, never the URI or body).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutcomeCode(pub &'static str);

/// The core error as an HTTP answer: the one [`IntoResponse`] of the crate's errors.
///
/// Handlers return it; it wraps [`InviteError`] so that rejections of malformed requests
/// (`invalid_request`), unknown routes (`not_found`) and rate limits (`rate_limited`) are
/// answered by the same code.
#[derive(Debug)]
pub struct ApiError(pub InviteError);

impl From<InviteError> for ApiError {
    fn from(err: InviteError) -> Self {
        Self(err)
    }
}

impl ApiError {
    /// An `invalid_request` (400) with `message` (SPEC X4).
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self(InviteError::InvalidRequest(message.into()))
    }

    /// The HTTP status of the SPEC §6 error table.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            InviteError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            InviteError::NotAuthenticated => StatusCode::UNAUTHORIZED,
            InviteError::Forbidden => StatusCode::FORBIDDEN,
            InviteError::EnterpriseNotCertified => StatusCode::FORBIDDEN,
            InviteError::AccountMismatch => StatusCode::FORBIDDEN,
            InviteError::NotFound => StatusCode::NOT_FOUND,
            InviteError::AlreadyMember => StatusCode::CONFLICT,
            InviteError::DuplicatePending => StatusCode::CONFLICT,
            InviteError::InvitationNotPending(_) => StatusCode::CONFLICT,
            InviteError::AlreadyAccepted => StatusCode::CONFLICT,
            InviteError::AlreadyRejected => StatusCode::CONFLICT,
            InviteError::InvalidOrExpired => StatusCode::GONE,
            InviteError::InvalidContact(_) => StatusCode::UNPROCESSABLE_ENTITY,
            InviteError::RoleNotAssignable => StatusCode::UNPROCESSABLE_ENTITY,
            InviteError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            InviteError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // A variant added to core after this crate: answered as `internal` (and
            // logged) until it gets its own row.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message) = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // STYLE 5: the body says nothing, the log says everything (tokens never reach
            // an error's text, SPEC X1).
            tracing::error!(
                error = %self.0,
                chain = %source_chain(&self.0),
                code = self.0.code(),
                "internal error"
            );
            ("internal", "internal error".to_owned())
        } else {
            (self.0.code(), self.0.to_string())
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(OutcomeCode(code));
        response
    }
}

/// `err: cause: cause…`, for the log of an internal error.
fn source_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut next = err.source();
    while let Some(cause) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        let _ = write!(out, "{cause}");
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use invite_core::StoreError;

    #[test]
    fn chain_lists_every_cause() {
        let err = InviteError::from(StoreError::backend(std::io::Error::other("disk on fire")));
        assert_eq!(source_chain(&err), "storage backend failed: disk on fire");
    }
}
