//! Host keys (rules H3, H7): every kind parses or refuses without a panic; a parsed key
//! round-trips through its canonical text and through its natural JSON form, and
//! equality follows the canonical text.
#![no_main]

use invite_core::{EnterpriseId, Key, KeyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in [KeyKind::Int, KeyKind::Uuid, KeyKind::Text] {
        if let Ok(key) = kind.parse(text) {
            assert_eq!(kind.parse(&key.canonical()).ok(), Some(key.clone()));
            let id = EnterpriseId::from(key);
            let json = serde_json::to_string(&id).expect("an id serializes");
            let back: EnterpriseId = serde_json::from_str(&json).expect("and reads back");
            assert_eq!(back, id);
        }
    }
    if let Ok(key) = Key::guess(text) {
        assert_eq!(key.canonical(), text);
    }
    // Whatever JSON comes in, an id either reads or is refused.
    let _ = serde_json::from_slice::<EnterpriseId>(data);
});
