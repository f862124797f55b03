use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{Delivery, Notifier, NotifyError};

/// Keeps every delivery it is handed; fails on demand (rule S8 tests).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    deliveries: Mutex<Vec<Delivery>>,
    failing: AtomicBool,
}

impl RecordingNotifier {
    /// Makes the following deliveries fail (`true`) or succeed (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every successful delivery so far, oldest first.
    #[must_use]
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The token of the latest delivery (the `token` query parameter of its link).
    #[must_use]
    pub fn last_token(&self) -> Option<String> {
        self.deliveries().last().map(|d| d.link.token().to_owned())
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(NotifyError::transient("recording notifier told to fail"));
        }
        self.deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(delivery.clone());
        Ok(())
    }
}
