//! Invitation tokens: 256 bits from a CSPRNG, URL-safe, stored only as a SHA-256 digest
//! (rule S5, X1).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// Bytes of randomness in a token: 256 bits (rule S5 prefers 256).
pub const TOKEN_BYTES: usize = 32;
/// Length of the URL-safe text of a token (base64url of 32 bytes, unpadded).
pub const TOKEN_LEN: usize = 43;

/// The secret in an invitation link. Handed out once (rule S5), never stored, never
/// logged: its `Debug` and `Display` print `<redacted>` (rule X1); read it with
/// [`InviteToken::expose_secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken(String);

impl InviteToken {
    /// A fresh token from the thread-local CSPRNG (ChaCha, seeded by the OS).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0_u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Reads a token presented by a client. Anything that is not the shape of a token we
    /// issue is `None`, which callers answer like an unknown token (rule A1).
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let shaped = presented.len() == TOKEN_LEN
            && presented
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Self(presented.to_owned()))
    }

    /// The secret text, for building the link. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest under which the invitation is stored and looked up (rule X1).
    #[must_use]
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteToken(<redacted>)")
    }
}

impl fmt::Display for InviteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// SHA-256 of a token: what storage keeps and indexes. Not a secret by itself, but it is
/// still never sent to clients (rules §6).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Wraps digest bytes read from storage.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads digest bytes from a slice of storage; `None` unless it is 32 bytes long.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A short prefix is enough to tell digests apart in a test failure.
        write!(
            f,
            "TokenDigest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The link handed to the notifier and, once, to the inviter (rule S5):
/// `{base_url}/invite?token={token}`. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteLink(String);

impl InviteLink {
    /// Builds the link from the configured base URL (never a request's Host, rule X10).
    #[must_use]
    pub fn new(base_url: &str, token: &InviteToken) -> Self {
        Self(format!(
            "{}/invite?token={}",
            base_url.trim_end_matches('/'),
            token.expose_secret()
        ))
    }

    /// A link as it was built before, read back from the outbox (rule D4).
    pub(crate) fn from_secret(link: String) -> Self {
        Self(link)
    }

    /// The token inside the link (its `token` query parameter). Do not log it.
    #[must_use]
    pub fn token(&self) -> &str {
        self.0.rsplit_once("token=").map_or("", |(_, token)| token)
    }

    /// The URL, secret included. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.0.split("token=").next().unwrap_or_default();
        write!(f, "InviteLink({base}token=<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_unique() {
        // rule S5, X1
        let tokens: HashSet<String> = (0..1000)
            .map(|_| InviteToken::generate().expose_secret().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000);
        for t in &tokens {
            assert_eq!(t.len(), TOKEN_LEN);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(URL_SAFE_NO_PAD.decode(t).unwrap().len(), TOKEN_BYTES);
        }
    }

    #[test]
    fn secret_never_in_debug_or_display() {
        // rule X1
        let token = InviteToken::generate();
        let secret = token.expose_secret().to_owned();
        assert!(!format!("{token:?}").contains(&secret));
        assert!(!format!("{token}").contains(&secret));
        let link = InviteLink::new("https://app.example/", &token);
        assert_eq!(
            link.expose_secret(),
            format!("https://app.example/invite?token={secret}")
        );
        assert!(!format!("{link:?}").contains(&secret));
        assert_eq!(link.token(), secret);
    }

    #[test]
    fn digest_is_sha256_of_the_text() {
        // rule X1
        let token = InviteToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let expected: [u8; 32] = Sha256::digest(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").into();
        assert_eq!(token.digest().as_bytes(), &expected);
        assert_eq!(TokenDigest::from_slice(&expected), Some(token.digest()));
        assert_eq!(TokenDigest::from_slice(&expected[..31]), None);
    }

    #[test]
    fn parse_accepts_only_token_shapes() {
        let token = InviteToken::generate();
        assert_eq!(InviteToken::parse(token.expose_secret()), Some(token));
        for bad in ["", "short", "../../etc/passwd", &"A".repeat(44), &"é".repeat(21)] {
            assert!(InviteToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn every_url_safe_character_and_only_those_make_a_token() {
        // rules S5, A1: the 64 characters of base64url, 43 of them
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for c in alphabet.chars() {
            let text = c.to_string().repeat(TOKEN_LEN);
            let token = InviteToken::parse(&text).unwrap();
            assert_eq!(token.expose_secret(), text);
        }
        for c in ['+', '/', '=', '.', ' ', '%', '~'] {
            let text = format!("{}{c}", "A".repeat(TOKEN_LEN - 1));
            assert_eq!(InviteToken::parse(&text), None, "{text:?}");
        }
        assert_eq!(InviteToken::parse(&"A".repeat(TOKEN_LEN - 1)), None);
    }

    #[test]
    fn what_debug_and_display_print() {
        // rule X1: the secret is redacted, but the output says what the value is, so logs
        // and test failures stay readable
        let token = InviteToken::parse(&"x".repeat(TOKEN_LEN)).unwrap();
        assert_eq!(format!("{token:?}"), "InviteToken(<redacted>)");
        assert_eq!(format!("{token}"), "<redacted>");
        let link = InviteLink::new("https://app.example", &token);
        assert_eq!(
            format!("{link:?}"),
            "InviteLink(https://app.example/invite?token=<redacted>)"
        );
        let mut bytes = [0_u8; 32];
        bytes[..5].copy_from_slice(&[0x0a, 0xb1, 0xff, 0x00, 0x42]);
        assert_eq!(
            format!("{:?}", TokenDigest::from_bytes(bytes)),
            "TokenDigest(0ab1ff00…)"
        );
    }

    #[test]
    fn digests_keep_their_bytes_and_tell_tokens_apart() {
        // rule X1: the digest is what storage keys on
        let bytes: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap() * 7);
        assert_eq!(TokenDigest::from_bytes(bytes).as_bytes(), &bytes);
        assert_eq!(
            TokenDigest::from_slice(&bytes),
            Some(TokenDigest::from_bytes(bytes))
        );
        assert_eq!(TokenDigest::from_slice(&[0; 33]), None);
        let a = InviteToken::parse(&"a".repeat(TOKEN_LEN)).unwrap();
        let b = InviteToken::parse(&"b".repeat(TOKEN_LEN)).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_ne!(InviteToken::generate(), InviteToken::generate());
    }

    #[test]
    fn a_link_read_back_from_the_outbox_gives_its_token() {
        // rule D4: the outbox keeps the link; its token is the last `token=` parameter
        let token = InviteToken::generate();
        let link = InviteLink::new("https://app.example/base/", &token);
        let back = InviteLink::from_secret(link.expose_secret().to_owned());
        assert_eq!(back, link);
        assert_eq!(back.token(), token.expose_secret());
        assert_eq!(
            InviteLink::from_secret("https://app.example/".to_owned()).token(),
            ""
        );
    }
}
