//! The host's side of a contract run: how the suite puts people into the host's tables,
//! as the host's own code would, and how it breaks the host's membership insert for the
//! fault cases.
//!
//! A host that embeds the library over its own schema implements [`HostFixture`] in its
//! tests (a few `INSERT`s and a trigger) and runs the whole contract suite against its
//! own database with [`store_contract_suite!`](crate::store_contract_suite): the races and
//! the faults included.

use std::sync::Arc;

use async_trait::async_trait;

use crate::account::{Enterprise, User};
use crate::contact::{Contact, ContactPolicy};
use crate::ids::{EnterpriseId, UserId};
use crate::ports::{Accounts, StoreError};
use crate::role::Role;
use crate::testing::MemoryStore;

/// Writes the host's data for a contract run. Every method acts on the host's own tables
/// (or the self-contained layout's), never through the library's store.
#[async_trait]
pub trait HostFixture: Send + Sync + 'static {
    /// Creates an enterprise (an organization of the host) with a new key.
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError>;

    /// Creates an account with a new key and the given verified contact.
    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError>;

    /// Inserts a membership the way the host's own code does, not through the library
    /// (e.g. an admin panel adding someone while an invitation is pending; rule H7).
    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError>;

    /// Sets the certified flag of an enterprise (rules S2, A9).
    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError>;

    /// From now on, the membership insert of an accept fails (`true`) or works again
    /// (`false`): a trigger on the host's membership table, for the fault cases (rule X7).
    async fn fail_member_inserts(&self, fail: bool) -> Result<(), StoreError>;
}

/// The store under test, as a contract case receives it.
pub struct Subject<S> {
    /// The store.
    pub store: Arc<S>,
    /// A second store over the same database, as a second server process has (another
    /// pool); the same store where there is no such thing (in memory).
    pub peer: Arc<S>,
    /// The host's side.
    pub host: Arc<dyn HostFixture>,
}

impl<S> Subject<S> {
    /// A subject whose peer is the store itself.
    pub fn single(store: Arc<S>, host: Arc<dyn HostFixture>) -> Self {
        Self {
            peer: store.clone(),
            store,
            host,
        }
    }
}

impl Subject<MemoryStore> {
    /// An in-memory store keyed by UUIDs (the self-contained layout's keys).
    #[must_use]
    pub fn memory() -> Self {
        Self::memory_with(MemoryStore::default())
    }

    /// An in-memory store that is host-shaped: integer keys.
    #[must_use]
    pub fn memory_int_keys() -> Self {
        Self::memory_with(MemoryStore::with_key_kinds(crate::ids::KeyKinds::both(
            crate::ids::KeyKind::Int,
        )))
    }

    fn memory_with(store: MemoryStore) -> Self {
        let store = Arc::new(store);
        Self::single(store.clone(), store)
    }
}

/// A [`HostFixture`] over the self-contained layout's [`Accounts`], with UUID keys. It
/// cannot break the membership insert: [`HostFixture::fail_member_inserts`] is the
/// caller's to provide (`fail`), or an error.
pub struct AccountsFixture<A: ?Sized> {
    accounts: Arc<A>,
}

impl<A: Accounts + ?Sized> AccountsFixture<A> {
    /// Writes through `accounts`.
    pub fn new(accounts: Arc<A>) -> Self {
        Self { accounts }
    }
}

/// The user `name` reached by `contact`, with a key from `id`.
#[must_use]
pub fn user_with(id: UserId, name: &str, contact: &Contact) -> User {
    let mut user = User {
        id,
        name: name.to_owned(),
        email: None,
        phone: None,
    };
    match contact.clone() {
        Contact::Email(email) => user.email = Some(email),
        Contact::Phone(phone) => user.phone = Some(phone),
    }
    user
}

/// Parses `contact` with the default policy.
///
/// # Errors
/// [`StoreError::Backend`] wrapping the parse error if `contact` is not valid.
pub fn contact(contact: &str) -> Result<Contact, StoreError> {
    ContactPolicy::default()
        .parse(contact)
        .map_err(StoreError::backend)
}

async fn save_enterprise<A: Accounts + ?Sized>(
    accounts: &A,
    id: EnterpriseId,
    name: &str,
    certified: bool,
) -> Result<Enterprise, StoreError> {
    let enterprise = Enterprise {
        id,
        name: name.to_owned(),
        certified,
    };
    accounts.save_enterprise(&enterprise).await?;
    Ok(enterprise)
}

async fn set_certified<A: Accounts + ?Sized>(
    accounts: &A,
    enterprise: &EnterpriseId,
    certified: bool,
) -> Result<(), StoreError> {
    let mut found = accounts
        .enterprise(enterprise)
        .await?
        .ok_or(StoreError::NotFound)?;
    found.certified = certified;
    accounts.save_enterprise(&found).await
}

#[async_trait]
impl<A: Accounts + ?Sized> HostFixture for AccountsFixture<A> {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        save_enterprise(&*self.accounts, EnterpriseId::new(), name, certified).await
    }

    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError> {
        let user = user_with(UserId::new(), name, contact);
        self.accounts.save_user(&user).await?;
        Ok(user)
    }

    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError> {
        self.accounts.add_member(enterprise, &user.id, role).await
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        set_certified(&*self.accounts, enterprise, certified).await
    }

    async fn fail_member_inserts(&self, _fail: bool) -> Result<(), StoreError> {
        Err(StoreError::backend(std::io::Error::other(
            "AccountsFixture cannot break the membership insert: implement HostFixture for your store",
        )))
    }
}

#[async_trait]
impl HostFixture for MemoryStore {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        let id = EnterpriseId::from(self.next_key(crate::Directory::key_kinds(self).enterprise));
        save_enterprise(self, id, name, certified).await
    }

    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError> {
        let user = user_with(
            UserId::from(self.next_key(crate::Directory::key_kinds(self).user)),
            name,
            contact,
        );
        self.save_user(&user).await?;
        Ok(user)
    }

    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError> {
        self.add_member(enterprise, &user.id, role).await
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        set_certified(self, enterprise, certified).await
    }

    async fn fail_member_inserts(&self, fail: bool) -> Result<(), StoreError> {
        self.set_fail_member_inserts(fail);
        Ok(())
    }
}
