//! Contacts: one email address or one phone number, kept as entered and in normalized
//! form (rule S3, X8), masking for the invitee page (rule A4), and account matching.
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

/// Why a contact was refused. Answered to clients as `invalid_contact` (rule S3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContactError {
    /// Nothing was given.
    #[error("the contact is empty")]
    Empty,
    /// Not a well-formed email address.
    #[error("not a valid email address")]
    InvalidEmail,
    /// The local part has non-ASCII characters and the policy refuses them (rule X8).
    #[error("the part before @ must be ASCII")]
    NonAsciiLocalPart,
    /// The local part or the whole address is too long (rule X8: 64/254).
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
    /// separator (U+2028, U+2029) (rule S3, X4).
    #[error("the contact holds a control character")]
    ControlCharacter,
    /// An invisible character: a format character (general category Cf, such as the
    /// zero-width space or the soft hyphen) or another default-ignorable one (such as a
    /// variation selector). Refused so that the address shown and mailed to can never
    /// differ from the one matched (rule X8).
    #[error("the contact holds an invisible character")]
    InvisibleCharacter,
    /// A quoted local part (`"bob"@example.com`): RFC 5322 reads it as the unquoted one,
    /// so it is refused rather than taken for another mailbox (rule X8).
    #[error("the part before @ must not be quoted")]
    QuotedLocalPart,
}

/// Whether a contact is an email address or a phone number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContactKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
}

impl ContactKind {
    /// `email` or `phone`, as in the rules' JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
        }
    }
}

/// A valid email address: as entered (trimmed) and normalized per rule X8.
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

/// One email address or one phone number (rule S3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    /// An email address.
    Email(Email),
    /// A phone number.
    Phone(Phone),
}

/// How contacts are parsed: the host's default phone region and whether non-ASCII local
/// parts are accepted (rule S3, X8).
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
    /// Off by default (rule X8).
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

    /// Parses an email address (rule X8): the domain through IDNA (UTS #46) to ASCII and
    /// lowercase, then every label letters, digits and hyphens (at least two labels); the
    /// local part unquoted and ASCII-lowercased only; lengths 64/254; no control or
    /// invisible character anywhere.
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
        // A quoted local part names the same mailbox as the unquoted one (RFC 5322); no
        // unquoted local part holds a `"`.
        if local.contains('"') {
            return Err(ContactError::QuotedLocalPart);
        }
        if !local.is_ascii() && !self.allow_non_ascii_local_part {
            return Err(ContactError::NonAsciiLocalPart);
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(ContactError::EmailTooLong);
        }
        // UTS #46 processing; it also lowercases (domains are case-insensitive).
        let domain = idna::domain_to_ascii(domain).map_err(|_| ContactError::InvalidDomain)?;
        if !is_ldh_domain(&domain) {
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
    /// region is used; without one the number is refused (rule S3).
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
        // Spaces, dots, hyphens and parentheses carry no meaning, and the parser misreads
        // some spellings with them (`+1415-555-0100`): it reads the digits and `+` only.
        let digits: String = entered.chars().filter(|c| !" -().".contains(*c)).collect();
        let number = phonenumber::parse(region, &digits).map_err(|_| ContactError::InvalidPhone)?;
        if !phonenumber::is_valid(&number) {
            return Err(ContactError::InvalidPhone);
        }
        let normalized = number.format().mode(phonenumber::Mode::E164).to_string();
        // The stored form must read back as itself, or an account holding it could never
        // be matched (a fuzz finding: `+78884(00840011` gave an E.164 form that the parser
        // then refused).
        let reads_back = phonenumber::parse(None, &normalized)
            .ok()
            .filter(phonenumber::is_valid)
            .map(|again| again.format().mode(phonenumber::Mode::E164).to_string());
        if reads_back.as_deref() != Some(normalized.as_str()) {
            return Err(ContactError::InvalidPhone);
        }
        Ok(Phone {
            entered: entered.to_owned(),
            normalized,
        })
    }
}

/// Refuses control characters (general category Cc, NUL among them), the line and
/// paragraph separators, and invisible characters (rule S3, X4, X8).
fn check_characters(entered: &str) -> Result<(), ContactError> {
    if entered
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err(ContactError::ControlCharacter);
    }
    if entered.chars().any(is_invisible) {
        return Err(ContactError::InvisibleCharacter);
    }
    Ok(())
}

/// Whether `c` is a format character (general category Cf) or a default-ignorable code
/// point (Unicode 15.1): characters that show nothing, or that UTS #46 drops from a
/// domain (soft hyphen, zero-width space, word joiner, byte order mark, variation
/// selectors), so that the address shown would differ from the one matched.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Whether an ASCII domain (after UTS #46) has at least two labels, each of 1 to 63
/// letters, digits and hyphens, neither starting nor ending with a hyphen.
fn is_ldh_domain(domain: &str) -> bool {
    let mut labels = 0;
    for label in domain.split('.') {
        labels += 1;
        let ldh = (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ldh {
            return false;
        }
    }
    labels >= 2
}

impl Email {
    /// The address as the inviter typed it (trimmed). Mail goes here (rule X8), never to
    /// the normalized form.
    #[must_use]
    pub fn entered(&self) -> &str {
        &self.entered
    }

    /// The normalized form used for comparisons (rule S3, X8).
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
    pub fn restore_unchecked(kind: ContactKind, entered: String, normalized: String) -> Self {
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
    /// re-spelled one (rule X8); a phone number in E.164, which is the same number with
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

    /// The normalized form: equal for two spellings of the same contact (rule S3).
    #[must_use]
    pub fn normalized(&self) -> &str {
        match self {
            Contact::Email(e) => e.normalized(),
            Contact::Phone(p) => p.normalized(),
        }
    }

    /// The contact masked for the invitee page (rule A4).
    #[must_use]
    pub fn masked(&self) -> String {
        match self {
            Contact::Email(e) => e.masked(),
            Contact::Phone(p) => p.masked(),
        }
    }

    /// Whether `email`/`phone` of an account reach this contact, by normalized forms
    /// (rule A4).
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
        // rule S3
        let a = policy().parse("  Bob@Example.COM ").unwrap();
        let b = policy().parse("bob@example.com").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.entered(), "Bob@Example.COM");
        assert_eq!(a.kind(), ContactKind::Email);
    }

    #[test]
    fn idn_domain_goes_to_ascii() {
        // rule X8
        let e = policy().parse_email("anna@Bücher.example").unwrap();
        assert_eq!(e.normalized(), "anna@xn--bcher-kva.example");
        assert_eq!(e.entered(), "anna@Bücher.example");
        let same = policy().parse_email("ANNA@xn--bcher-kva.example").unwrap();
        assert_eq!(same.normalized(), e.normalized());
    }

    #[test]
    fn non_ascii_local_part_refused_by_default_and_never_case_folded() {
        // rule X8 — the "dotless i" takeover: no Unicode case folding of the local part.
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
        // rule X8
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
    fn an_address_of_exactly_254_bytes_is_accepted_and_255_refused() {
        // rule X8: 254 is the longest address, not one past it.
        let domain = |last: usize| format!("{}.{}.{}", "b".repeat(63), "c".repeat(63), "d".repeat(last));
        let longest = format!("{}@{}", "a".repeat(64), domain(61));
        assert_eq!(longest.len(), MAX_EMAIL_LEN);
        assert_eq!(policy().parse_email(&longest).unwrap().normalized(), longest);
        let too_long = format!("{}@{}", "a".repeat(64), domain(62));
        assert_eq!(too_long.len(), MAX_EMAIL_LEN + 1);
        assert_eq!(policy().parse_email(&too_long), Err(ContactError::EmailTooLong));
    }

    #[test]
    fn an_empty_local_part_or_domain_is_an_invalid_email() {
        // rule S3: the error says what is wrong (no domain at all, not a bad one).
        for bad in ["bob@", "@example.com", "@"] {
            assert_eq!(
                policy().parse_email(bad),
                Err(ContactError::InvalidEmail),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_emails_are_invalid() {
        // rule S3
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
        // rule S3
        let a = policy().parse("+1 (415) 555-0100").unwrap();
        let b = policy().parse("+14155550100").unwrap();
        assert_eq!(a.kind(), ContactKind::Phone);
        assert_eq!(a.normalized(), "+14155550100");
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn phone_input_up_to_64_bytes_is_read_and_longer_refused() {
        // rule S3: the limit on what is read is 64 bytes, spacing included.
        let spaced = |len: usize| format!("+1{}4155550100", " ".repeat(len - 12));
        let longest = spaced(64);
        assert_eq!(longest.len(), 64);
        assert_eq!(
            policy().parse_phone(&longest).unwrap().normalized(),
            "+14155550100"
        );
        assert_eq!(policy().parse_phone(&spaced(65)), Err(ContactError::InvalidPhone));
        assert_eq!(
            policy().parse_phone(&spaced(200)),
            Err(ContactError::InvalidPhone)
        );
    }

    #[test]
    fn letters_in_a_phone_number_are_invalid_not_a_missing_country_code() {
        // rule S3: only digits, spaces and `+-().`; no vanity numbers (`+1 800 FLOWERS`).
        for bad in ["call me", "+1 800 FLOWERS", "+1 415 555 O1OO", "415-555-0100 x2"] {
            for policy in [policy(), policy().with_default_region("US").unwrap()] {
                assert_eq!(policy.parse_phone(bad), Err(ContactError::InvalidPhone), "{bad}");
            }
        }
    }

    #[test]
    fn phone_without_country_code_needs_default_region() {
        // rule S3
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
        // rule S3
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
        // rule X8
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
        // rule A4
        assert_eq!(
            policy().parse("bob@example.com").unwrap().masked(),
            "b***@example.com"
        );
        assert_eq!(policy().parse("+14155550100").unwrap().masked(), "+1******0100");
    }

    #[test]
    fn matching_uses_normalized_forms() {
        // rule A4
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

    #[test]
    fn kind_names_are_the_rules_json_names() {
        // rule S3: `email` or `phone`, as serde writes them too.
        for kind in [ContactKind::Email, ContactKind::Phone] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
        assert_eq!(ContactKind::Email.as_str(), "email");
        assert_eq!(ContactKind::Phone.as_str(), "phone");
    }

    #[test]
    fn debug_shows_the_normalized_form_and_display_the_entered_one() {
        // rule S3, X8: Debug (logs) shows what is compared; Display what the inviter typed.
        let email = policy().parse(" Bob@Example.COM ").unwrap();
        assert_eq!(format!("{email:?}"), r#"Email("bob@example.com")"#);
        assert_eq!(email.to_string(), "Bob@Example.COM");
        let Contact::Email(inner) = &email else {
            panic!("an email")
        };
        assert_eq!(format!("{inner:?}"), r#"Email("bob@example.com")"#);
        let phone = policy().parse("+1 (415) 555-0100").unwrap();
        assert_eq!(format!("{phone:?}"), r#"Phone("+14155550100")"#);
        assert_eq!(phone.to_string(), "+1 (415) 555-0100");
        let Contact::Phone(inner) = &phone else {
            panic!("a phone")
        };
        assert_eq!(format!("{inner:?}"), r#"Phone("+14155550100")"#);
    }

    /// Invisible characters: zero-width space, non-joiner, joiner, word joiner, byte order
    /// mark, soft hyphen, and a few more default-ignorable or format characters.
    const INVISIBLE: [char; 10] = [
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{034F}',
        '\u{FE0F}',
        '\u{202E}',
        '\u{E0041}',
    ];

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
        // rule S3, X4: a NUL or another control character is invalid_contact, never
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

    #[test]
    fn quoted_local_parts_are_refused() {
        // rule X8: `"bob"@example.com` is RFC 5322's spelling of bob@example.com; quoted
        // local parts are refused rather than taken for another mailbox.
        for input in [
            "\"bob\"@example.com",
            "\"BOB\"@example.com",
            "\"bob smith\"@example.com",
            "\"bob@example.com\"@example.com",
            "\"\"@example.com",
            "bo\"b\"@example.com",
        ] {
            for policy in [policy(), lenient()] {
                assert_eq!(policy.parse(input), Err(ContactError::QuotedLocalPart), "{input}");
            }
        }
    }

    #[test]
    fn domain_labels_are_letters_digits_and_hyphens_after_idna() {
        // rule X8: after UTS #46 to ASCII every label is LDH, 1 to 63 characters, no
        // hyphen first or last, and there are at least two labels.
        for bad in [
            "bob@exam_ple.com",
            "bob@exam＿ple.com",
            "bob@exam!ple.com",
            "bob@exam*ple.com",
            "bob@ex%41mple.com",
            "bob@example.c_m",
            "bob@-example.com",
            "bob@example-.com",
            "bob@example..com",
            "bob@example.com.",
            "bob@localhost",
        ] {
            assert!(policy().parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            policy().parse("bob@exam_ple.com"),
            Err(ContactError::InvalidDomain)
        );
        let label = "a".repeat(63);
        assert!(policy().parse(&format!("bob@{label}.com")).is_ok());
        assert_eq!(
            policy().parse(&format!("bob@a{label}.com")),
            Err(ContactError::InvalidDomain)
        );
        for good in [
            "bob@ex-ample.com",
            "bob@a.b",
            "bob@123.example",
            "bob@xn--bcher-kva.example",
        ] {
            assert!(policy().parse(good).is_ok(), "{good} should be accepted");
        }
    }

    #[test]
    fn normalization_attacks_are_refused_or_meet_the_same_contact() {
        // rule X8
        // Dotless ı (U+0131) in the local part: refused, never folded to `i`.
        assert_eq!(
            policy().parse("bıb@example.com"),
            Err(ContactError::NonAsciiLocalPart)
        );
        // Fullwidth letters in the domain: MAPPED by IDNA (UTS #46) to ASCII, so they are
        // the same contact as the ASCII spelling (and mail systems map them alike).
        let bob = policy().parse_email("bob@example.com").unwrap();
        let fullwidth = policy().parse("bob@ｅｘａｍｐｌｅ．ｃｏｍ").unwrap();
        assert_eq!(fullwidth.normalized(), "bob@example.com");
        assert!(fullwidth.matches(Some(&bob), None));
        // Invisible characters: REFUSED wherever they stand, so that the address shown
        // and mailed to can never differ from the one matched.
        for c in INVISIBLE {
            for input in [
                format!("bob@exa{c}mple.com"),
                format!("bob@example{c}.com"),
                format!("bob@example.com{c}"),
                format!("b{c}ob@example.com"),
            ] {
                for policy in [policy(), lenient()] {
                    assert_eq!(
                        policy.parse(&input),
                        Err(ContactError::InvisibleCharacter),
                        "{input:?}"
                    );
                }
            }
        }
        // Phone numbers in every punctuation style are one contact.
        for spelling in [
            "+1 (415) 555-0100",
            "+1.415.555.0100",
            "+1-415-555-0100",
            "+14155550100",
            "+1 415 555 0100",
        ] {
            let phone = policy().parse(spelling).unwrap();
            assert_eq!(phone.normalized(), "+14155550100", "{spelling}");
        }
    }

    /// A valid email split somewhere strictly inside, to insert a character there.
    fn inside_of_an_email() -> impl proptest::strategy::Strategy<Value = (String, usize)> {
        use proptest::prelude::*;
        prop::sample::select(vec![
            "bob@example.com",
            "Anna@Bücher.example",
            "x.y+z@sub.ex-ample.org",
        ])
        .prop_flat_map(|email| {
            let len = email.chars().count();
            (Just(email.to_owned()), 1..len)
        })
    }

    fn insert_at(text: &str, at: usize, c: char) -> String {
        let mut out: String = text.chars().take(at).collect();
        out.push(c);
        out.extend(text.chars().skip(at));
        out
    }

    /// Characters from the corners of Unicode that contact parsing has to think about.
    fn tricky_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        let mut tricky: Vec<char> = INVISIBLE.iter().chain(CONTROL.iter()).copied().collect();
        tricky.extend([
            '_', '!', '%', '"', '\\', '.', '-', '＿', '．', 'ı', 'İ', 'ｅ', '\u{3000}', '\u{A0}',
        ]);
        prop_oneof![any::<char>(), prop::sample::select(tricky)]
    }

    proptest::proptest! {
        #[test]
        fn an_invisible_or_control_character_inside_is_always_refused(
            (email, at) in inside_of_an_email(),
            c in proptest::sample::select(INVISIBLE.iter().chain(CONTROL.iter()).copied().collect::<Vec<_>>()),
        ) {
            // rule X4, X8
            let input = insert_at(&email, at, c);
            for policy in [policy(), lenient()] {
                let err = policy.parse(&input).unwrap_err();
                proptest::prop_assert!(
                    matches!(err, ContactError::InvisibleCharacter | ContactError::ControlCharacter),
                    "{:?}: {:?}", input, err
                );
            }
        }

        #[test]
        fn what_is_accepted_is_visible_unquoted_and_ldh(
            (email, at) in inside_of_an_email(),
            chars in proptest::collection::vec(tricky_char(), 1..4),
        ) {
            // rule X8: whatever gets through shows what it matches.
            let mut input = email;
            for c in chars {
                input = insert_at(&input, at, c);
            }
            for policy in [policy(), lenient()] {
                if let Ok(contact) = policy.parse(&input) {
                    proptest::prop_assert!(
                        !contact.entered().chars().any(|c| c.is_control() || INVISIBLE.contains(&c)),
                        "{:?}", input
                    );
                    let (local, domain) = contact.normalized().rsplit_once('@').unwrap();
                    proptest::prop_assert!(!local.contains('"'), "{:?}", input);
                    let labels: Vec<&str> = domain.split('.').collect();
                    proptest::prop_assert!(labels.len() >= 2, "{:?}", input);
                    for label in labels {
                        proptest::prop_assert!(
                            (1..=63).contains(&label.len())
                                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                                && !label.starts_with('-')
                                && !label.ends_with('-'),
                            "{:?} gave the label {:?}", input, label
                        );
                    }
                }
            }
        }

        #[test]
        fn every_punctuation_style_of_a_number_is_one_contact(
            separators in proptest::collection::vec(proptest::sample::select(vec!["", " ", ".", "-"]), 3),
            parens in proptest::bool::ANY,
        ) {
            // rule S3, X8
            let area = if parens { "(415)" } else { "415" };
            let input = format!("+1{}{area}{}555{}0100", separators[0], separators[1], separators[2]);
            let phone = policy().parse(&input).unwrap();
            proptest::prop_assert_eq!(phone.normalized(), "+14155550100");
        }
    }
}
