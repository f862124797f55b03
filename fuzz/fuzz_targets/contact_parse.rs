//! Contact parsing and normalization (rules S3, X8): never a panic; what is accepted is
//! visible text without control characters, normalizes idempotently (the normalized form
//! parses to itself), matches itself, and masks without revealing more than its ends.
#![no_main]

use invite_core::ContactPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let policy = ContactPolicy::default();
    let Ok(contact) = policy.parse(text) else { return };
    let normalized = contact.normalized().to_owned();
    assert!(!normalized.chars().any(char::is_control), "{normalized:?}");
    assert!(!contact.entered().chars().any(char::is_control));
    let again = policy.parse(&normalized).expect("a normalized contact parses");
    assert_eq!(again.normalized(), normalized, "normalization is idempotent");
    assert_eq!(again.kind(), contact.kind());
    let masked = contact.masked();
    assert!(masked.contains('*') || normalized.chars().count() <= 2, "{masked}");
});
