//! Extractors that answer malformed input in the rules error body instead of axum's default
//! plain-text rejections (rule X4): `invalid_request` (400), or `unsupported_media_type`
//! (415) for a body not sent as JSON. The conversions are the `From<…Rejection>` impls of
//! [`ApiError`].

use std::fmt;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body sent as `application/json` (rules §6). Another content type, or none,
/// is `unsupported_media_type` (415): no cross-site HTML form can send this one, so no
/// form can change state. Bad JSON, a body that is not an object (an array, `null`, …),
/// wrong types, missing or unknown fields (rule X9) and oversized bodies are
/// `invalid_request` (400).
///
/// Hand-written rather than derived (`#[from_request(via(Json))]`) for one check serde
/// does not make: a Rust struct also deserializes from a JSON array (`["x"]` would be a
/// `{"token":"x"}`), and `[]` would pass for `{}`.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(JsonObject(value)) = Json::<JsonObject<T>>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// `T` read from a JSON object only: any other JSON value is refused with serde's "invalid
/// type … expected a JSON object", and so is an object that names a field twice.
struct JsonObject<T>(T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = deserializer.deserialize_map(ObjectVisitor)?;
        T::deserialize(Value::Object(object))
            .map(JsonObject)
            .map_err(D::Error::custom)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
            }
            object.insert(key, value);
        }
        Ok(object)
    }
}

/// Path parameters; a malformed invitation id (not a UUID) or a segment that is not UTF-8 is
/// `invalid_request`. Host keys (`{enterprise_id}`) are taken as strings and parsed with the
/// host's declared kind by the handler (rule H3), which answers `invalid_request` too.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub T);

/// The query string; unknown keys, duplicates and bad values are `invalid_request`.
#[derive(FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub T);
