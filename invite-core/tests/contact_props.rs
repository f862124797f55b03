//! Property tests of contact parsing (rule S3, X4, X8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use invite_core::testing::strategies;
use invite_core::{ContactKind, ContactPolicy};
use proptest::prelude::*;

proptest! {
    #[test]
    fn spellings_of_one_person_normalize_alike(a in strategies::email(), b in strategies::email()) {
        // rule S3: the same person written two ways is the same contact.
        let policy = ContactPolicy::default();
        let (x, y) = (policy.parse(&a).unwrap(), policy.parse(&b).unwrap());
        let same_person = a.trim().eq_ignore_ascii_case(b.trim());
        prop_assert_eq!(x.normalized() == y.normalized(), same_person);
        prop_assert_eq!(x.kind(), ContactKind::Email);
        prop_assert_eq!(x.entered(), a.trim());
    }

    #[test]
    fn phone_spellings_normalize_to_e164(p in strategies::phone()) {
        // rule S3
        let contact = ContactPolicy::default().parse(&p).unwrap();
        prop_assert_eq!(contact.kind(), ContactKind::Phone);
        prop_assert!(contact.normalized().starts_with("+1"));
        prop_assert_eq!(contact.normalized().len(), 12);
    }

    #[test]
    fn any_text_parses_or_is_refused_without_panic(s in strategies::junk_contact()) {
        // rule X4: no input makes parsing panic; what parses is normalized and bounded.
        if let Ok(contact) = ContactPolicy::default().parse(&s) {
            prop_assert!(contact.normalized().len() <= 254);
            prop_assert!(contact.normalized().is_ascii());
            prop_assert!(!contact.masked().is_empty());
        }
    }

    #[test]
    fn normalizing_is_idempotent(s in strategies::contact()) {
        // rule S3: parsing the normalized form gives itself.
        let policy = ContactPolicy::default();
        let once = policy.parse(&s).unwrap();
        let twice = policy.parse(once.normalized()).unwrap();
        prop_assert_eq!(once.normalized(), twice.normalized());
    }
}

/// A fuzz finding (contact_parse, slow unit of 10 s under load): `+911132411360`. Parsing
/// must stay cheap once the phone metadata is loaded, so a stream of such numbers cannot
/// tie up a server (rule X4). The first parse may load metadata; later ones must be fast.
#[test]
fn a_slow_fuzz_unit_parses_quickly_once_warm() {
    let policy = invite_core::ContactPolicy::default();
    let _ = policy.parse("+911132411360");
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let _ = policy.parse("+911132411360");
    }
    let each = started.elapsed() / 20;
    eprintln!("{each:?} per warm parse");
    assert!(each < std::time::Duration::from_millis(250), "{each:?} per parse");
}

/// A fuzz finding (contact_parse crash): `+78884(00840011` was accepted with an E.164 form
/// that did not parse again, so normalization was not idempotent and an account keeping
/// that form could never be matched (rules S3, X8). Every accepted phone's normalized form
/// now reads back as itself.
#[test]
fn a_phone_is_accepted_only_if_its_normalized_form_reads_back() {
    let policy = invite_core::ContactPolicy::default();
    for input in ["+78884(00840011", "+1 (415) 555-0100", "+44 20 7946 0958"] {
        if let Ok(contact) = policy.parse(input) {
            let again = policy
                .parse(contact.normalized())
                .expect("the normalized form parses");
            assert_eq!(again.normalized(), contact.normalized(), "{input}");
        }
    }
    assert!(policy.parse("+1 (415) 555-0100").is_ok());
}
