//! Identifiers of the domain.
//!
//! [`InvitationId`] is the library's own (a UUID it generates). [`EnterpriseId`] and
//! [`UserId`] are the **host's** keys (rule H3): a 64-bit integer, a UUID or a string,
//! whichever the host's tables use, held as a [`Key`]. They are separate types, so an
//! enterprise id can never be passed where a user id belongs, and they keep their natural
//! JSON form: a number for an integer key, a string for a UUID or text key (rule H7).
//!
//! A host declares which [`KeyKind`] its enterprises and users use ([`KeyKinds`], through
//! its [`Directory`](crate::Directory)); ids in request paths are parsed with that kind,
//! so `/enterprises/42/…` is the integer 42 for an integer-keyed host and the string
//! `"42"` for a text-keyed one. Two keys are equal when their canonical text is equal
//! ([`Key::canonical`]), so a key parsed without knowing the kind still finds its row.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The kind of key a host's table uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// A UUID (the self-contained layout's kind).
    #[default]
    Uuid,
    /// A 64-bit signed integer (`BIGINT`, `INTEGER PRIMARY KEY`).
    Int,
    /// A string (`TEXT`, `VARCHAR`).
    Text,
}

impl KeyKind {
    /// Parses `raw` as a key of this kind.
    ///
    /// # Errors
    /// [`KeyError`] when `raw` is not such a key (not a decimal `i64`, not a UUID, or an
    /// empty string or one with control characters).
    pub fn parse(self, raw: &str) -> Result<Key, KeyError> {
        let invalid = || KeyError { kind: self };
        match self {
            // Only the canonical decimal form: `+42` and `042` are not how a host writes 42.
            KeyKind::Int => match raw.parse::<i64>() {
                Ok(n) if n.to_string() == raw => Ok(Key::Int(n)),
                _ => Err(invalid()),
            },
            KeyKind::Uuid => Uuid::parse_str(raw).map(Key::Uuid).map_err(|_| invalid()),
            KeyKind::Text => {
                if raw.is_empty() || raw.len() > MAX_TEXT_KEY || raw.chars().any(char::is_control) {
                    Err(invalid())
                } else {
                    Ok(Key::Text(raw.into()))
                }
            }
        }
    }

    /// The kind's name: `uuid`, `int` or `text`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Uuid => "uuid",
            KeyKind::Int => "int",
            KeyKind::Text => "text",
        }
    }
}

/// The longest text key accepted, in bytes.
pub const MAX_TEXT_KEY: usize = 256;

/// The key kinds of a host: one for enterprises, one for users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyKinds {
    /// How enterprises are keyed.
    pub enterprise: KeyKind,
    /// How users are keyed.
    pub user: KeyKind,
}

impl KeyKinds {
    /// The same kind for enterprises and users.
    #[must_use]
    pub const fn both(kind: KeyKind) -> Self {
        Self {
            enterprise: kind,
            user: kind,
        }
    }
}

/// A string that is not a key of the expected kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {} key", kind.as_str())]
pub struct KeyError {
    /// The kind that was expected.
    pub kind: KeyKind,
}

/// A host key: an integer, a UUID or a string.
#[derive(Clone)]
pub enum Key {
    /// A 64-bit integer key.
    Int(i64),
    /// A UUID key.
    Uuid(Uuid),
    /// A string key.
    Text(Box<str>),
}

impl Key {
    /// The kind of this key.
    #[must_use]
    pub const fn kind(&self) -> KeyKind {
        match self {
            Key::Int(_) => KeyKind::Int,
            Key::Uuid(_) => KeyKind::Uuid,
            Key::Text(_) => KeyKind::Text,
        }
    }

    /// The canonical text of the key: decimal for an integer, lowercase hyphenated for a
    /// UUID, the string itself for text. The library stores keys in this form in its own
    /// tables, and two keys are equal exactly when their canonical texts are.
    #[must_use]
    pub fn canonical(&self) -> Cow<'_, str> {
        match self {
            Key::Int(n) => Cow::Owned(n.to_string()),
            Key::Uuid(u) => Cow::Owned(u.hyphenated().to_string()),
            Key::Text(s) => Cow::Borrowed(s),
        }
    }

    /// This key as a key of `kind`, if its canonical text is one (e.g. the text `"42"` as
    /// the integer 42); `None` otherwise. Stores use it to bind a key in the type of the
    /// host's column.
    #[must_use]
    pub fn to_kind(&self, kind: KeyKind) -> Option<Key> {
        if self.kind() == kind {
            return Some(self.clone());
        }
        kind.parse(&self.canonical()).ok()
    }

    /// Reads a key without knowing its kind: a decimal `i64` is an integer, a UUID is a
    /// UUID, anything else non-empty is text. Prefer [`KeyKind::parse`] where the kind is
    /// known; equality does not depend on the kind picked here.
    ///
    /// # Errors
    /// [`KeyError`] for an empty string or one with control characters.
    pub fn guess(raw: &str) -> Result<Key, KeyError> {
        if let Ok(n) = raw.parse::<i64>()
            && n.to_string() == raw
        {
            return Ok(Key::Int(n));
        }
        if let Ok(u) = Uuid::parse_str(raw)
            && u.hyphenated().to_string() == raw
        {
            return Ok(Key::Uuid(u));
        }
        KeyKind::Text.parse(raw)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a == b,
            (Key::Uuid(a), Key::Uuid(b)) => a == b,
            (Key::Text(a), Key::Text(b)) => a == b,
            _ => self.canonical() == other.canonical(),
        }
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical().hash(state);
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(n) => write!(f, "{n}"),
            Key::Uuid(u) => write!(f, "{u}"),
            Key::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Int(n) => serializer.serialize_i64(*n),
            Key::Uuid(u) => u.serialize(serializer),
            Key::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Int(i64),
            #[serde(borrow)]
            Str(Cow<'a, str>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => Ok(Key::Int(n)),
            Raw::Str(s) => Key::guess(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl From<i64> for Key {
    fn from(n: i64) -> Self {
        Key::Int(n)
    }
}

impl From<Uuid> for Key {
    fn from(u: Uuid) -> Self {
        Key::Uuid(u)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Text(s.into())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Text(s.into_boxed_str())
    }
}

macro_rules! host_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Key);

        impl $name {
            /// A new random UUID key, for the self-contained layout and tests.
            #[must_use]
            pub fn new() -> Self {
                Self(Key::Uuid(Uuid::new_v4()))
            }

            /// Parses `raw` as a key of `kind` (e.g. a path segment).
            ///
            /// # Errors
            /// [`KeyError`] if `raw` is not such a key.
            pub fn parse(kind: KeyKind, raw: &str) -> Result<Self, KeyError> {
                kind.parse(raw).map(Self)
            }

            /// The key inside.
            #[must_use]
            pub const fn key(&self) -> &Key {
                &self.0
            }

            /// The key inside, by value.
            #[must_use]
            pub fn into_key(self) -> Key {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<K: Into<Key>> From<K> for $name {
            fn from(key: K) -> Self {
                Self(key.into())
            }
        }

        impl FromStr for $name {
            type Err = KeyError;

            /// Reads a key without knowing its kind ([`Key::guess`]).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Key::guess(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

host_id!(
    /// Identifies one enterprise (the tenant): the host's key of its organization.
    EnterpriseId
);
host_id!(
    /// Identifies one user account: the host's key of its account.
    UserId
);

/// Identifies one invitation: the library's own key, a UUID. Only reachable under its own
/// enterprise (rule X3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvitationId(Uuid);

impl InvitationId {
    /// A new random identifier (UUID v4).
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps an existing UUID, e.g. one read from storage.
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for InvitationId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for InvitationId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl FromStr for InvitationId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

impl fmt::Display for InvitationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for InvitationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvitationId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // rule H3: each kind parses its own form and refuses others.
    #[test]
    fn kinds_parse_their_own_form() {
        assert_eq!(KeyKind::Int.parse("42").unwrap(), Key::Int(42));
        assert!(KeyKind::Int.parse("4x").is_err());
        assert!(KeyKind::Int.parse("+42").is_err());
        assert!(KeyKind::Int.parse("042").is_err());
        assert_eq!(KeyKind::Int.parse("-7").unwrap(), Key::Int(-7));
        let u = Uuid::new_v4();
        assert_eq!(KeyKind::Uuid.parse(&u.to_string()).unwrap(), Key::Uuid(u));
        assert!(KeyKind::Uuid.parse("42").is_err());
        assert_eq!(KeyKind::Text.parse("org-1").unwrap(), Key::from("org-1"));
        assert!(KeyKind::Text.parse("").is_err());
        assert!(KeyKind::Text.parse("a\0b").is_err());
    }

    // rule H7: natural JSON forms, both ways.
    #[test]
    fn json_keeps_the_natural_form() {
        assert_eq!(serde_json::to_string(&EnterpriseId::from(42)).unwrap(), "42");
        assert_eq!(serde_json::to_string(&UserId::from("u-7")).unwrap(), "\"u-7\"");
        let u = Uuid::new_v4();
        assert_eq!(
            serde_json::to_string(&UserId::from(u)).unwrap(),
            format!("\"{u}\"")
        );
        let back: EnterpriseId = serde_json::from_str("42").unwrap();
        assert_eq!(back, EnterpriseId::from(42));
        assert_eq!(back.key().kind(), KeyKind::Int);
    }

    // Equality and hashing follow the canonical text, whatever kind a parse picked.
    #[test]
    fn equality_is_by_canonical_text() {
        use std::collections::HashSet;
        let int = Key::Int(42);
        let text = Key::from("42");
        assert_eq!(int, text);
        let set: HashSet<Key> = [int.clone()].into_iter().collect();
        assert!(set.contains(&text));
        assert_ne!(Key::Int(42), Key::from("042"));
        assert_eq!(text.to_kind(KeyKind::Int), Some(Key::Int(42)));
        assert_eq!(Key::from("abc").to_kind(KeyKind::Int), None);
    }

    #[test]
    fn guess_is_canonical_only() {
        assert_eq!(Key::guess("42").unwrap().kind(), KeyKind::Int);
        assert_eq!(Key::guess("042").unwrap().kind(), KeyKind::Text);
        assert_eq!(Key::guess("+42").unwrap().kind(), KeyKind::Text);
    }

    // rule H3: a UUID is guessed only in its canonical (lowercase, hyphenated) form; any
    // other spelling may be a text key of the host's and stays one.
    #[test]
    fn guess_takes_only_canonical_uuids_as_uuids() {
        let u = Uuid::new_v4();
        assert_eq!(Key::guess(&u.hyphenated().to_string()).unwrap(), Key::Uuid(u));
        assert_eq!(
            Key::guess(&u.hyphenated().to_string()).unwrap().kind(),
            KeyKind::Uuid
        );
        for other in [
            u.hyphenated().to_string().to_uppercase(),
            u.simple().to_string(),
            u.braced().to_string(),
        ] {
            let key = Key::guess(&other).unwrap();
            assert_eq!(key.kind(), KeyKind::Text, "{other}");
            assert_ne!(key, Key::Uuid(u));
        }
    }

    // rule H3: text keys are at most MAX_TEXT_KEY bytes.
    #[test]
    fn text_keys_are_bounded_in_bytes() {
        assert_eq!(MAX_TEXT_KEY, 256);
        assert!(KeyKind::Text.parse(&"k".repeat(256)).is_ok());
        assert!(KeyKind::Text.parse(&"k".repeat(257)).is_err());
        assert!(KeyKind::Text.parse(&"é".repeat(128)).is_ok());
        assert!(KeyKind::Text.parse(&format!("{}k", "é".repeat(128))).is_err());
    }

    #[test]
    fn kinds_have_names_and_errors_say_which() {
        let names: Vec<&str> = [KeyKind::Uuid, KeyKind::Int, KeyKind::Text]
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(names, ["uuid", "int", "text"]);
        assert_eq!(
            KeyKind::Int.parse("x").unwrap_err().to_string(),
            "not a valid int key"
        );
        assert_eq!(
            KeyKind::Uuid.parse("x").unwrap_err().to_string(),
            "not a valid uuid key"
        );
        assert_eq!(
            KeyKind::Text.parse("").unwrap_err().to_string(),
            "not a valid text key"
        );
    }

    // Hashing follows the canonical text: equal keys hash alike, different keys apart.
    #[test]
    fn hashes_follow_the_canonical_text() {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let h = |k: &Key| hasher.hash_one(k);
        assert_eq!(h(&Key::Int(42)), h(&Key::from("42")));
        assert_ne!(h(&Key::Int(42)), h(&Key::Int(43)));
        assert_ne!(h(&Key::from("a")), h(&Key::from("b")));
    }

    // Display is the canonical text (what the library stores, rule H7); Debug tells the
    // kind apart (a text key is quoted).
    #[test]
    fn display_is_canonical_and_debug_shows_the_kind() {
        let u = Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        assert_eq!(Key::Int(-7).to_string(), "-7");
        assert_eq!(Key::Uuid(u).to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert_eq!(Key::from("org-1").to_string(), "org-1");
        assert_eq!(format!("{:?}", Key::Int(42)), "42");
        assert_eq!(format!("{:?}", Key::from("42")), "\"42\"");
        assert_eq!(
            format!("{:?}", Key::Uuid(u)),
            "67e55044-10b1-426f-9247-bb680e5fe0c8"
        );
        assert_eq!(EnterpriseId::from(42).to_string(), "42");
        assert_eq!(format!("{:?}", EnterpriseId::from(42)), "EnterpriseId(42)");
        assert_eq!(format!("{:?}", UserId::from("u-7")), "UserId(\"u-7\")");
    }

    // rule X3: the library's own invitation ids are UUIDs, read and written as such.
    #[test]
    fn invitation_ids_are_uuids() {
        let u = Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        let id = InvitationId::from(u);
        assert_eq!(id.as_uuid(), u);
        assert_eq!(id, InvitationId::from_uuid(u));
        assert_eq!(
            "67e55044-10b1-426f-9247-bb680e5fe0c8"
                .parse::<InvitationId>()
                .unwrap(),
            id
        );
        assert!("42".parse::<InvitationId>().is_err());
        assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert_eq!(
            format!("{id:?}"),
            "InvitationId(67e55044-10b1-426f-9247-bb680e5fe0c8)"
        );
        assert_ne!(InvitationId::new(), InvitationId::new());
    }
}
