//! Cursor decoding (rule R1, X4): any text is a cursor that re-encodes to itself, or
//! `invalid_request`; never a panic, never a time outside what every store can hold.
#![no_main]

use invite_core::Cursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cursor) = Cursor::decode(text) {
        let year = cursor.sent_at.format("%Y").to_string();
        assert!(("1970"..="9999").contains(&year.as_str()), "{year}");
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
    }
});
