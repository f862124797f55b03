//! The demo data of SPEC §7, created when the database has none.

use invite_core::testing::seed;
use invite_core::{Contact, ContactPolicy, Directory, StoreError};

/// Creates the demo enterprises and users unless Alice Admin already exists; returns
/// whether it created them.
///
/// # Errors
/// Whatever the directory answers.
pub async fn seed_if_empty(directory: &dyn Directory) -> Result<bool, StoreError> {
    let alice: Contact = ContactPolicy::default()
        .parse("alice@example.com")
        .map_err(StoreError::backend)?;
    if directory.find_user(&alice).await?.is_some() {
        return Ok(false);
    }
    seed::demo(directory).await?;
    Ok(true)
}
