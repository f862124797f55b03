//! The router's shared state.

use std::sync::Arc;

use invite_core::Invitations;

use crate::identity::DynIdentify;

/// What every handler sees: the service and the host's identity resolver.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) invitations: Invitations,
    pub(crate) identity: Arc<dyn DynIdentify>,
}
