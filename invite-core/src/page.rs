//! Keyset pagination of the records table (rule R1): newest first, an opaque cursor.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ids::InvitationId;
use crate::invitation::{Invitation, InvitationStatus};

/// Rows per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Most rows one page may hold.
pub const MAX_PAGE_SIZE: usize = 100;

/// Earliest time a cursor may hold: 1970-01-01T00:00:00Z, in microseconds since then.
const MIN_CURSOR_MICROS: i64 = 0;
/// Latest time a cursor may hold: 9999-12-31T23:59:59.999999Z. Every store holds the range
/// (PostgreSQL's timestamptz runs from 4713 BC to 294276 AD, SQLite keeps i64 micros).
const MAX_CURSOR_MICROS: i64 = 253_402_300_799_999_999;

/// The position after the last row of a page: `(sent_at, id)` of that row. Rows are
/// ordered by `sent_at` descending, then `id` descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// `sent_at` of the last row seen.
    pub sent_at: DateTime<Utc>,
    /// `id` of the last row seen.
    pub id: InvitationId,
}

impl Cursor {
    /// The cursor that continues after `invitation`.
    #[must_use]
    pub fn after(invitation: &Invitation) -> Self {
        Self {
            sent_at: invitation.sent_at,
            id: invitation.id,
        }
    }

    /// The opaque text handed to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.sent_at.timestamp_micros(), self.id))
    }

    /// Reads a cursor given by a client.
    ///
    /// # Errors
    /// `invalid_request` for anything [`Cursor::encode`] did not write, and for times
    /// outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z, which no row holds and
    /// not every database can compare with.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let bad = || CursorError;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(3, ':');
        let (Some("v1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        if !(MIN_CURSOR_MICROS..=MAX_CURSOR_MICROS).contains(&micros) {
            return Err(bad());
        }
        let sent_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Self {
            sent_at,
            id: InvitationId::from_uuid(id),
        })
    }
}

/// A cursor that [`Cursor::encode`] did not write (`invalid_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct CursorError;

/// What a storage adapter is asked for: at most `limit` rows of one enterprise, newest
/// first, after `after`, with the status derived at the given time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Only rows whose status (derived at `now`) is this.
    pub status: Option<InvitationStatus>,
    /// Most rows to return.
    pub limit: usize,
    /// Continue after this row.
    pub after: Option<Cursor>,
}

/// One page of the records table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The rows, newest first.
    pub items: Vec<Invitation>,
    /// The cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
    /// The instant the rows were chosen at: derive each row's status at this instant
    /// ([`Invitation::status_at`](crate::Invitation::status_at)), so that a page filtered
    /// on `pending` never shows a row as `expired` (rules §1, "one instant").
    pub as_of: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        // rule R1: opaque cursor
        let cursor = Cursor {
            sent_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: InvitationId::new(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in [
            "",
            "!!",
            "djE6",
            &URL_SAFE_NO_PAD.encode("v2:1:x"),
            &URL_SAFE_NO_PAD.encode("v1:abc:x"),
        ] {
            assert!(matches!(Cursor::decode(bad), Err(CursorError)), "{bad}");
        }
    }

    #[test]
    fn cursor_times_outside_what_every_store_holds_are_invalid_requests() {
        // rule R1, X4: a forged cursor is invalid_request, never a time the database
        // refuses (PostgreSQL: "timestamp out of range", a 500).
        let id = Uuid::new_v4();
        for micros in [
            i64::MIN,
            -220_000_000_000_000_000,
            -1,
            253_402_300_800_000_000,
            8_210_266_876_799_999_999,
            i64::MAX,
        ] {
            let forged = URL_SAFE_NO_PAD.encode(format!("v1:{micros}:{id}"));
            assert!(matches!(Cursor::decode(&forged), Err(CursorError)), "{micros}");
        }
        // The bounds themselves: 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
        for micros in [0, 253_402_300_799_999_999] {
            let cursor = Cursor {
                sent_at: DateTime::from_timestamp_micros(micros).unwrap(),
                id: InvitationId::from_uuid(id),
            };
            assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor, "{micros}");
        }
    }
}
