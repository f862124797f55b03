//! proptest strategies for the inputs of the domain: contacts written many ways, role
//! names valid and not, and time steps.

use proptest::prelude::*;

use crate::role::Role;

/// A valid email address, in random letter case and with random surrounding spaces,
/// drawn from a small set of people so that collisions (same person, two spellings)
/// happen often.
pub fn email() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["bob", "carol", "dave", "erin"]),
        prop::sample::select(vec!["example.com", "Example.ORG"]),
        any::<u8>(),
        0..3usize,
    )
        .prop_map(|(local, domain, case_bits, pad)| {
            let mixed: String = format!("{local}@{domain}")
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case_bits & (1 << (i % 8)) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            format!("{}{mixed}{}", " ".repeat(pad), " ".repeat(pad))
        })
}

/// A valid US phone number with a country code, in one of several spellings.
pub fn phone() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["4155550100", "2125550123"]), 0..3usize).prop_map(|(digits, style)| {
        let (area, rest) = digits.split_at(3);
        let (mid, last) = rest.split_at(3);
        match style {
            0 => format!("+1{digits}"),
            1 => format!("+1 ({area}) {mid}-{last}"),
            _ => format!("+1-{area}-{mid}-{last}"),
        }
    })
}

/// A valid email or phone.
pub fn contact() -> impl Strategy<Value = String> {
    prop_oneof![3 => email(), 1 => phone()]
}

/// Any text, mostly not a valid contact: for tests that expect `invalid_contact` or at
/// least no panic.
pub fn junk_contact() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z@.+ ()-]{0,20}",
        Just(String::new()),
        Just("@".to_owned()),
        Just("a@b".to_owned()),
        Just("+1".to_owned()),
    ]
}

/// Any role.
pub fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

/// A role name: the four valid ones and some that are not roles.
pub fn role_name() -> impl Strategy<Value = String> {
    prop_oneof![
        role().prop_map(|r| r.as_str().to_owned()),
        prop::sample::select(vec!["owner", "Member", "", "super-admin", "admin"]).prop_map(str::to_owned),
    ]
}
