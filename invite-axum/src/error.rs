//! The error answer of rules §6: `{"error":{"code","message"}}` with the status of the
//! rules's error table, decided by one explicit `match`, and the conversions of axum's
//! extractor rejections into it.

use std::error::Error as StdError;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use invite_core::InviteError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error answer (rules §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and a human-readable message of an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// The rules §6 error code, e.g. `invalid_contact`. Clients branch on this.
    #[schema(example = "invalid_contact")]
    pub code: String,
    /// A message for people; never holds a token, and says nothing for `internal`.
    #[schema(example = "invalid contact: not a valid email address")]
    pub message: String,
}

/// The outcome code of an answer, left in the response's extensions for the request span
/// (rule X10: the log names the route and outcome, never the URI or body).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutcomeCode(pub &'static str);

/// An error answer of the router: the core's outcomes and the refusals of HTTP itself, each
/// with its rules §6 code and status, decided by one explicit `match` ([`ApiError::status`]).
///
/// Handlers return it; rejections of malformed requests (`invalid_request`), unknown routes
/// (`not_found`), wrong methods (`method_not_allowed`), bodies that are not JSON
/// (`unsupported_media_type`) and rate limits (`rate_limited`) are answered by the same
/// type, so every refusal has the body `{"error":{"code","message"}}`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// An outcome of the service, or of malformed input, an unknown route or a rate limit.
    Invite(InviteError),
    /// `method_not_allowed` (405): a known path called with a method it does not serve.
    /// The router's method routing adds the `Allow` header.
    MethodNotAllowed,
    /// `unsupported_media_type` (415): a POST whose body is not sent as
    /// `application/json` (rules §6: no cross-site form can send that content type).
    UnsupportedMediaType,
}

impl From<InviteError> for ApiError {
    fn from(err: InviteError) -> Self {
        Self::Invite(err)
    }
}

impl ApiError {
    /// An `invalid_request` (400) with `message` (rule X4).
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::Invite(InviteError::InvalidRequest(message.into()))
    }

    /// The rules §6 error code, e.g. `invalid_contact`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invite(err) => err.code(),
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// The HTTP status of the rules §6 error table.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        let err = match self {
            Self::Invite(err) => err,
            Self::MethodNotAllowed => return StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => return StatusCode::UNSUPPORTED_MEDIA_TYPE,
        };
        match err {
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

    /// The message for people; never holds a token.
    fn message(&self) -> String {
        match self {
            Self::Invite(err) => err.to_string(),
            Self::MethodNotAllowed => "this path does not serve this method; see the Allow header".to_owned(),
            Self::UnsupportedMediaType => {
                "send the body as JSON with Content-Type: application/json ({} when there is nothing to say)"
                    .to_owned()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message) = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // STYLE 5: the body says nothing, the log says everything (tokens never reach
            // an error's text, rule X1).
            match &self {
                Self::Invite(err) => tracing::error!(
                    error = %err,
                    chain = %source_chain(err),
                    code = err.code(),
                    "internal error"
                ),
                other => tracing::error!(code = other.code(), "internal error"),
            }
            ("internal", "internal error".to_owned())
        } else {
            (self.code(), self.message())
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

/// A body that is not JSON: `unsupported_media_type` (415) when it was not sent as
/// `application/json`, otherwise `invalid_request` (400) with serde's words (which field,
/// which type; they quote the client's input back to the same client only).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::BytesRejection(_) => {
                Self::invalid_request("the request body could not be read (too large?)")
            }
            other => Self::invalid_request(other.body_text()),
        }
    }
}

/// Path parameters that do not deserialize: `invalid_request` (rule X4).
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let message = match &rejection {
            PathRejection::FailedToDeserializePathParams(err) => match err.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    format!("path parameter `{key}` is not valid UTF-8")
                }
                _ => "the invitation id in the path must be a UUID".to_owned(),
            },
            other => other.body_text(),
        };
        Self::invalid_request(message)
    }
}

/// A query string that does not deserialize (unknown keys, duplicates, bad values):
/// `invalid_request` (rule X4).
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid_request(rejection.body_text())
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
