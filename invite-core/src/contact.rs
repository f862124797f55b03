//! Contacts: one email address or one phone number, kept as entered and in normalized
//! form (SPEC S3, X8), masking for the invitee page (SPEC A4), and account matching.
//!
//! Parsing leans on maintained crates instead of hand-written patterns:
//! [`email_address`] checks RFC 5322 syntax, [`idna`] maps domains through UTS #46 to
//! ASCII, and [`phonenumber`] (a port of Google's libphonenumber metadata) validates and
//! formats numbers to E.164.

use std::fmt;

use phonenumber::country;
use serde::{Deserialize, Serialize};

/// Longest local part of an email address, in bytes (RFC 5321).
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// Longest email address, in bytes (RFC 5321 path limit less the brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest input accepted as a phone number before parsing.
const MAX_PHONE_INPUT_LEN: usize = 64;

/// Why a contact was refused. Answered to clients as `invalid_contact` (SPEC S3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContactError {
    /// Nothing was given.
    #[error("the contact is empty")]
    Empty,
    /// Not a well-formed email address.
    #[error("not a valid email address")]
    InvalidEmail,
    /// The local part has non-ASCII characters and the policy refuses them (SPEC X8).
    #[error("the part before @ must be ASCII")]
    NonAsciiLocalPart,
    /// The local part or the whole address is too long (SPEC X8: 64/254).
    #[error("the email address is too long")]
    EmailTooLong,
    /// The domain does not map to ASCII under UTS #46.
    #[error("the email domain is not a valid domain name")]
    InvalidDomain,
    /// Not a valid phone number.
    #[error("not a valid phone number")]
    InvalidPhone,
    /// A number without a country code, and no default region was configured.
    #[error("the phone number needs a country code such as +1")]
    MissingCountryCode,
    /// A control character (general category Cc, NUL among them) or a line or paragraph
    /// separator (U+2028, U+2029) (SPEC S3, X4).
    #[error("the contact holds a control character")]
    ControlCharacter,
}

/// Whether a contact is an email address or a phone number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
}

impl ContactKind {
    /// `email` or `phone`, as in the SPEC's JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
        }
    }
}

/// A valid email address: as entered (trimmed) and normalized per SPEC X8.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    entered: String,
    normalized: String,
}

/// A valid phone number: as entered (trimmed) and in E.164 form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    entered: String,
    normalized: String,
}

/// One email address or one phone number (SPEC S3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    /// An email address.
    Email(Email),
    /// A phone number.
    Phone(Phone),
}

/// How contacts are parsed: the host's default phone region and whether non-ASCII local
/// parts are accepted (SPEC S3, X8).
#[derive(Clone, Debug, Default)]
pub struct ContactPolicy {
    default_region: Option<country::Id>,
    allow_non_ascii_local_part: bool,
}

impl ContactPolicy {
    /// Numbers without a country code are read as numbers of `region` (e.g. `"US"`).
    ///
    /// # Errors
    /// [`ContactError::InvalidPhone`] when `region` is not an ISO 3166 alpha-2 code known
    /// to the phone metadata.
    pub fn with_default_region(mut self, region: &str) -> Result<Self, ContactError> {
        let id = region
            .trim()
            .to_ascii_uppercase()
            .parse::<country::Id>()
            .map_err(|_| ContactError::InvalidPhone)?;
        self.default_region = Some(id);
        Ok(self)
    }

    /// Accepts local parts with non-ASCII characters (kept as entered, never case-folded).
    /// Off by default (SPEC X8).
    #[must_use]
    pub fn allow_non_ascii_local_part(mut self, allow: bool) -> Self {
        self.allow_non_ascii_local_part = allow;
        self
    }

    /// Parses one contact: an email address if it holds `@`, a phone number otherwise.
    ///
    /// # Errors
    /// [`ContactError`] saying why the input is not a valid contact.
    pub fn parse(&self, input: &str) -> Result<Contact, ContactError> {
        if input.contains('@') {
            self.parse_email(input).map(Contact::Email)
        } else {
            self.parse_phone(input).map(Contact::Phone)
        }
    }

    /// Parses an email address (SPEC X8): the domain through IDNA (UTS #46) to ASCII and
    /// lowercase, the local part ASCII-lowercased only, lengths 64/254, no control
    /// character anywhere.
    ///
    /// # Errors
    /// [`ContactError`] saying why the input is not a valid email address.
    pub fn parse_email(&self, input: &str) -> Result<Email, ContactError> {
        let entered = input.trim();
        if entered.is_empty() {
            return Err(ContactError::Empty);
        }
        check_characters(entered)?;
        let (local, domain) = entered.rsplit_once('@').ok_or(ContactError::InvalidEmail)?;
        if local.is_empty() || domain.is_empty() {
            return Err(ContactError::InvalidEmail);
        }
        if !local.is_ascii() && !self.allow_non_ascii_local_part {
            return Err(ContactError::NonAsciiLocalPart);
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(ContactError::EmailTooLong);
        }
        // UTS #46 processing; it also lowercases (domains are case-insensitive).
        let domain = idna::domain_to_ascii(domain).map_err(|_| ContactError::InvalidDomain)?;
        if domain.is_empty() {
            return Err(ContactError::InvalidDomain);
        }
        let normalized = format!("{}@{}", local.to_ascii_lowercase(), domain.to_ascii_lowercase());
        if normalized.len() > MAX_EMAIL_LEN {
            return Err(ContactError::EmailTooLong);
        }
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        // The syntax check runs on the ASCII-domain form, so IDN domains pass once mapped.
        email_address::EmailAddress::parse_with_options(&normalized, options)
            .map_err(|_| ContactError::InvalidEmail)?;
        Ok(Email {
            entered: entered.to_owned(),
            normalized,
        })
    }

    /// Parses a phone number to E.164. Without a leading `+` the configured default
    /// region is used; without one the number is refused (SPEC S3).
    ///
    /// # Errors
    /// [`ContactError`] saying why the input is not a valid phone number.
    pub fn parse_phone(&self, input: &str) -> Result<Phone, ContactError> {
        let entered = input.trim();
        if entered.is_empty() {
            return Err(ContactError::Empty);
        }
        check_characters(entered)?;
        if entered.len() > MAX_PHONE_INPUT_LEN
            || !entered
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(ContactError::InvalidPhone);
        }
        let region = if entered.starts_with('+') {
            None
        } else {
            Some(self.default_region.ok_or(ContactError::MissingCountryCode)?)
        };
        let number = phonenumber::parse(region, entered).map_err(|_| ContactError::InvalidPhone)?;
        if !phonenumber::is_valid(&number) {
            return Err(ContactError::InvalidPhone);
        }
        let normalized = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Phone {
            entered: entered.to_owned(),
            normalized,
        })
    }
}

/// Refuses control characters (general category Cc, NUL among them) and the line and
/// paragraph separators (SPEC S3, X4).
fn check_characters(entered: &str) -> Result<(), ContactError> {
    if entered
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err(ContactError::ControlCharacter);
    }
    Ok(())
}

impl Email {
    /// The address as the inviter typed it (trimmed). Mail goes here (SPEC X8), never to
    /// the normalized form.
    #[must_use]
    pub fn entered(&self) -> &str {
        &self.entered
    }

    /// The normalized form used for comparisons (SPEC S3, X8).
    #[must_use]
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// `b***@example.com`: the first character of the local part and the domain.
    #[must_use]
    pub fn masked(&self) -> String {
        let (local, domain) = self.normalized.rsplit_once('@').unwrap_or(("", &self.normalized));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl Phone {
    /// The number as the inviter typed it (trimmed).
    #[must_use]
    pub fn entered(&self) -> &str {
        &self.entered
    }

    /// The E.164 form (`+14155550100`). SMS goes here: the number as entered, with its
    /// country code made explicit.
    #[must_use]
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// `+1******0100`: the first two and the last four characters of the E.164 form.
    #[must_use]
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.normalized.chars().collect();
        let keep_head = 2.min(chars.len());
        let keep_tail = 4.min(chars.len().saturating_sub(keep_head));
        let hidden = chars.len() - keep_head - keep_tail;
        let head: String = chars[..keep_head].iter().collect();
        let tail: String = chars[chars.len() - keep_tail..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(hidden))
    }
}

impl Contact {
    /// Rebuilds a contact that was parsed before, from its stored parts. For storage
    /// adapters: the parts are trusted, not checked again.
    #[must_use]
    pub fn restore(kind: ContactKind, entered: String, normalized: String) -> Self {
        match kind {
            ContactKind::Email => Contact::Email(Email { entered, normalized }),
            ContactKind::Phone => Contact::Phone(Phone { entered, normalized }),
        }
    }

    /// Email or phone.
    #[must_use]
    pub fn kind(&self) -> ContactKind {
        match self {
            Contact::Email(_) => ContactKind::Email,
            Contact::Phone(_) => ContactKind::Phone,
        }
    }

    /// Where a notifier sends: an email address exactly as entered (trimmed), never a
    /// re-spelled one (SPEC X8); a phone number in E.164, which is the same number with
    /// its country code made explicit.
    #[must_use]
    pub fn delivery_address(&self) -> &str {
        match self {
            Contact::Email(e) => e.entered(),
            Contact::Phone(p) => p.normalized(),
        }
    }

    /// As entered (trimmed), for display in the records table.
    #[must_use]
    pub fn entered(&self) -> &str {
        match self {
            Contact::Email(e) => e.entered(),
            Contact::Phone(p) => p.entered(),
        }
    }

    /// The normalized form: equal for two spellings of the same contact (SPEC S3).
    #[must_use]
    pub fn normalized(&self) -> &str {
        match self {
            Contact::Email(e) => e.normalized(),
            Contact::Phone(p) => p.normalized(),
        }
    }

    /// The contact masked for the invitee page (SPEC A4).
    #[must_use]
    pub fn masked(&self) -> String {
        match self {
            Contact::Email(e) => e.masked(),
            Contact::Phone(p) => p.masked(),
        }
    }

    /// Whether `email`/`phone` of an account reach this contact, by normalized forms
    /// (SPEC A4).
    #[must_use]
    pub fn matches(&self, email: Option<&Email>, phone: Option<&Phone>) -> bool {
        match self {
            Contact::Email(e) => email.is_some_and(|other| other.normalized == e.normalized),
            Contact::Phone(p) => phone.is_some_and(|other| other.normalized == p.normalized),
        }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.normalized)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({:?})", self.normalized)
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Email(e) => e.fmt(f),
            Contact::Phone(p) => p.fmt(f),
        }
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.entered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ContactPolicy {
        ContactPolicy::default()
    }

    #[test]
    fn email_case_and_spacing_are_one_contact() {
        // SPEC S3
        let a = policy().parse("  Bob@Example.COM ").unwrap();
        let b = policy().parse("bob@example.com").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.entered(), "Bob@Example.COM");
        assert_eq!(a.kind(), ContactKind::Email);
    }

    #[test]
    fn idn_domain_goes_to_ascii() {
        // SPEC X8
        let e = policy().parse_email("anna@Bücher.example").unwrap();
        assert_eq!(e.normalized(), "anna@xn--bcher-kva.example");
        assert_eq!(e.entered(), "anna@Bücher.example");
        let same = policy().parse_email("ANNA@xn--bcher-kva.example").unwrap();
        assert_eq!(same.normalized(), e.normalized());
    }

    #[test]
    fn non_ascii_local_part_refused_by_default_and_never_case_folded() {
        // SPEC X8 — the "dotless i" takeover: no Unicode case folding of the local part.
        assert_eq!(
            policy().parse_email("ıan@example.com"),
            Err(ContactError::NonAsciiLocalPart)
        );
        let lenient = policy().allow_non_ascii_local_part(true);
        let e = lenient.parse_email("İAN@example.com").unwrap();
        assert_eq!(e.normalized(), "İan@example.com");
        assert_ne!(
            e.normalized(),
            lenient.parse_email("ian@example.com").unwrap().normalized()
        );
    }

    #[test]
    fn email_length_limits() {
        // SPEC X8
        let local = "a".repeat(64);
        assert!(policy().parse_email(&format!("{local}@example.com")).is_ok());
        assert_eq!(
            policy().parse_email(&format!("a{local}@example.com")),
            Err(ContactError::EmailTooLong)
        );
        let long_domain = format!("{}.com", vec!["a".repeat(62); 4].join("."));
        assert_eq!(
            policy().parse_email(&format!("bob@{long_domain}")),
            Err(ContactError::EmailTooLong)
        );
    }

    #[test]
    fn malformed_emails_are_invalid() {
        // SPEC S3
        for bad in [
            "@example.com",
            "bob@",
            "bob@@example.com",
            "Bob <bob@example.com>",
            "bob@[127.0.0.1]",
            "bob@localhost",
            "bob smith@example.com",
            "a@b@c",
        ] {
            assert!(policy().parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn phone_normalizes_to_e164() {
        // SPEC S3
        let a = policy().parse("+1 (415) 555-0100").unwrap();
        let b = policy().parse("+14155550100").unwrap();
        assert_eq!(a.kind(), ContactKind::Phone);
        assert_eq!(a.normalized(), "+14155550100");
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn phone_without_country_code_needs_default_region() {
        // SPEC S3
        assert_eq!(
            policy().parse("(415) 555-0100"),
            Err(ContactError::MissingCountryCode)
        );
        let us = policy().with_default_region("us").unwrap();
        assert_eq!(us.parse("(415) 555-0100").unwrap().normalized(), "+14155550100");
        assert!(policy().with_default_region("ZZZ").is_err());
    }

    #[test]
    fn invalid_phones_are_refused() {
        // SPEC S3
        for bad in [
            "",
            "   ",
            "+1",
            "+999 123",
            "call me",
            "+1 415 555 01000000000",
            "12345",
        ] {
            assert!(policy().parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn delivery_goes_to_the_stored_address() {
        // SPEC X8
        let email = policy().parse("Anna@Bücher.example").unwrap();
        assert_eq!(email.delivery_address(), "Anna@Bücher.example");
        let us = policy().with_default_region("US").unwrap();
        assert_eq!(
            us.parse("(415) 555-0100").unwrap().delivery_address(),
            "+14155550100"
        );
    }

    #[test]
    fn masking() {
        // SPEC A4
        assert_eq!(
            policy().parse("bob@example.com").unwrap().masked(),
            "b***@example.com"
        );
        assert_eq!(policy().parse("+14155550100").unwrap().masked(), "+1******0100");
    }

    #[test]
    fn matching_uses_normalized_forms() {
        // SPEC A4
        let invited = policy().parse("BOB@example.com").unwrap();
        let bob = policy().parse_email("bob@EXAMPLE.com").unwrap();
        let mallory = policy().parse_email("mallory@example.com").unwrap();
        assert!(invited.matches(Some(&bob), None));
        assert!(!invited.matches(Some(&mallory), None));
        assert!(!invited.matches(None, None));
        let phone = policy().parse("+1 415 555 0100").unwrap();
        let carol = policy().parse_phone("+14155550100").unwrap();
        assert!(phone.matches(Some(&bob), Some(&carol)));
        assert!(!phone.matches(Some(&bob), None));
    }

    /// Control characters (general category Cc, NUL among them) and the line and
    /// paragraph separators.
    const CONTROL: [char; 9] = [
        '\u{0}', '\u{1}', '\t', '\n', '\u{7F}', '\u{85}', '\u{9F}', '\u{2028}', '\u{2029}',
    ];

    fn lenient() -> ContactPolicy {
        policy().allow_non_ascii_local_part(true)
    }

    #[test]
    fn control_characters_in_a_contact_are_refused() {
        // SPEC S3, X4: a NUL or another control character is invalid_contact, never
        // stored (PostgreSQL refuses NUL in text: a 500).
        for c in CONTROL {
            for input in [
                format!("b{c}ob@example.com"),
                format!("\"b{c}ob\"@example.com"),
                format!("bob@exa{c}mple.com"),
                format!("bob@example.com{c}x"),
                format!("+1 415{c}555 0100"),
            ] {
                for policy in [policy(), lenient()] {
                    assert_eq!(
                        policy.parse(&input),
                        Err(ContactError::ControlCharacter),
                        "{input:?}"
                    );
                }
            }
        }
        // Surrounding whitespace, control characters among it, is trimmed away first.
        let trimmed = policy().parse("\tbob@example.com\n").unwrap();
        assert_eq!(trimmed.entered(), "bob@example.com");
    }
}
