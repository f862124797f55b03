//! Extractors that answer malformed input with `invalid_request` (400) in the SPEC error
//! body instead of axum's default plain-text rejections (SPEC X4).

use axum::Json;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; bad JSON, wrong types, missing or unknown fields, a missing
/// `Content-Type: application/json` and oversized bodies are `invalid_request`.
pub(crate) struct ApiJson<T>(pub T);

/// Path parameters; a malformed invitation id (not a UUID) or a segment that is not UTF-8 is
/// `invalid_request`. Host keys (`{enterprise_id}`) are taken as strings and parsed with the
/// host's declared kind by the handler (rule H3), which answers `invalid_request` too.
pub(crate) struct ApiPath<T>(pub T);

/// The query string; unknown keys, duplicates and bad values are `invalid_request`.
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_request(json_message(&rejection))),
        }
    }
}

fn json_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a body with Content-Type: application/json".to_owned()
        }
        JsonRejection::BytesRejection(_) => "the request body could not be read (too large?)".to_owned(),
        // Serde's own words: which field, which type. They quote the client's input back
        // to the same client only, and the token field is a plain string.
        other => other.body_text(),
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_request(path_message(&rejection))),
        }
    }
}

fn path_message(rejection: &PathRejection) -> String {
    match rejection {
        PathRejection::FailedToDeserializePathParams(err) => match err.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => format!("path parameter `{key}` is not valid UTF-8"),
            _ => "the invitation id in the path must be a UUID".to_owned(),
        },
        other => other.body_text(),
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_request(query_message(&rejection))),
        }
    }
}

fn query_message(rejection: &QueryRejection) -> String {
    rejection.body_text()
}
