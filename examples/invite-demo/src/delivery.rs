//! Delivery in the demo (rules D1–D5): the outbox key kept in a file beside the database,
//! the notifiers (SMTP with `--smtp-url`, an SMS webhook with `--sms-url`, the development
//! notifier otherwise) and the outbox worker the demo spawns.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use invite_core::{ContactKind, Delivery, Notifier, NotifyError, OutboxKey};
use invite_notify_lettre::SmtpNotifier;

use crate::BoxError;
use crate::cli::Args;
use crate::notifier::DevLogNotifier;
use crate::sms::HttpSmsNotifier;

/// Where the outbox key lives: `--outbox-key-file`, else beside a SQLite database file
/// (`<file>.outbox-key`), else `invite-demo.outbox-key` in the working directory.
#[must_use]
pub fn key_path(args: &Args) -> PathBuf {
    if let Some(path) = &args.outbox_key_file {
        return path.clone();
    }
    let file = args
        .database_url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.contains(":memory:"));
    match file {
        Some(path) => PathBuf::from(format!("{path}.outbox-key")),
        None => PathBuf::from("invite-demo.outbox-key"),
    }
}

/// The outbox key in `path`, created (32 random bytes, mode 0600) on first start.
///
/// # Errors
/// When the file cannot be read or created, or does not hold 32 bytes.
pub fn load_or_create_key(path: &Path) -> Result<OutboxKey, BoxError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("the outbox key file {} does not hold 32 bytes", path.display()))?;
            warn_if_readable_by_others(path);
            Ok(OutboxKey::from_bytes(bytes))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = OutboxKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|err| format!("cannot create the outbox key file {}: {err}", path.display()))?;
            file.write_all(key.expose_secret())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created the outbox key (keep it with the database)");
            Ok(key)
        }
        Err(err) => Err(format!("cannot read the outbox key file {}: {err}", path.display()).into()),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the outbox key file is readable by others; chmod 600 it");
        }
    }
}

/// Email through SMTP and SMS through the webhook when configured; the development
/// notifier for whatever is not.
pub struct ByChannel {
    email: Arc<dyn Notifier>,
    sms: Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for ByChannel {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        match delivery.contact.kind() {
            ContactKind::Email => self.email.deliver(delivery).await,
            ContactKind::Phone => self.sms.deliver(delivery).await,
        }
    }
}

/// The demo's notifier, from the flags.
///
/// # Errors
/// When `--smtp-url`, `--smtp-from` or `--sms-url` cannot be used.
pub fn notifier(args: &Args) -> Result<Arc<dyn Notifier>, BoxError> {
    let email: Arc<dyn Notifier> = match &args.smtp_url {
        Some(url) => {
            let smtp = SmtpNotifier::builder(url.as_str())
                .from(args.smtp_from.as_str())
                .build()?;
            tracing::info!(from = %args.smtp_from, "email invitations go out over SMTP");
            Arc::new(smtp)
        }
        None => Arc::new(DevLogNotifier),
    };
    let sms: Arc<dyn Notifier> = match &args.sms_url {
        Some(url) => {
            tracing::info!("SMS invitations go to the SMS webhook");
            Arc::new(HttpSmsNotifier::new(url, "invite-demo")?)
        }
        None => Arc::new(DevLogNotifier),
    };
    Ok(Arc::new(ByChannel { email, sms }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser as _;

    #[test]
    fn the_key_file_sits_beside_the_sqlite_file() {
        let args = Args::parse_from([
            "invite-demo",
            "--database-url",
            "sqlite://data/demo.sqlite?mode=rwc",
        ]);
        assert_eq!(key_path(&args), PathBuf::from("data/demo.sqlite.outbox-key"));
        let args = Args::parse_from(["invite-demo", "--database-url", "postgres://db/x"]);
        assert_eq!(key_path(&args), PathBuf::from("invite-demo.outbox-key"));
        let args = Args::parse_from(["invite-demo", "--outbox-key-file", "/k"]);
        assert_eq!(key_path(&args), PathBuf::from("/k"));
    }

    #[test]
    fn the_key_is_created_once_with_mode_0600_and_read_back() {
        // rule D4: the host's key, apart from the database
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.outbox-key");
        let created = load_or_create_key(&path).unwrap();
        let read = load_or_create_key(&path).unwrap();
        assert_eq!(created.expose_secret(), read.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create_key(&path).is_err());
    }
}
