//! Registration: how a worker comes to be, by the hub's mode (`registration.mode`): `open`,
//! anyone with a key; `invite`, whoever holds an unused code an admin made
//! ([`Hub::create_invite`], `swarmlab hub invite`); `closed`, nobody (admins create
//! identities). How often one address may register is the web layer's, which knows
//! addresses; what a new identity may then ask of verifiers is its quota's (`quota.rs`).

use std::time::Duration;

use swarmlab_proto::{IdentityToken, Invite, Role};

use super::config::RegistrationMode;
use super::error::HubError;
use super::hub::{random_bytes, Hub};
use super::identity::token_hash;

/// The prefix of every invite code, so that one is recognisable.
pub const INVITE_PREFIX: &str = "sli_";

impl Hub {
    /// A worker registers itself with its key, and an invite code where the mode asks for
    /// one.
    pub async fn register_worker(
        &self,
        name: &str,
        public_key: &str,
        invite: Option<&str>,
    ) -> Result<IdentityToken, HubError> {
        let key = Some(public_key.to_string());
        match self.config.registration_mode() {
            RegistrationMode::Open => self.create_identity(name, Role::Worker, key).await,
            RegistrationMode::Invite => {
                let code = invite.map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
                    HubError::Forbidden(
                        "this hub registers workers by invite: ask its admin for a code (`swarmlab hub invite`) and pass it with --invite".into(),
                    )
                })?;
                self.create_identity_with(name, Role::Worker, key, Some(&token_hash(code)))
                    .await
            }
            RegistrationMode::Closed => Err(HubError::Forbidden(
                "self-registration is closed on this hub; ask its admin for a token".into(),
            )),
        }
    }

    /// A fresh invite code (shown only now), made by `by`, usable once, until `expires_ms`
    /// (the hub's clock) if given.
    pub async fn create_invite(
        &self,
        by: &str,
        expires_ms: Option<i64>,
    ) -> Result<Invite, HubError> {
        let code = format!("{INVITE_PREFIX}{}", hex::encode(random_bytes::<16>()?));
        self.store
            .create_invite(&token_hash(&code), by, expires_ms, self.now())
            .await?;
        Ok(Invite { code, expires_ms })
    }

    /// `count` fresh invite codes made by `by`, each good for one registration, until
    /// `expires` from now if given (`swarmlab hub invite`).
    pub async fn create_invites(
        &self,
        by: &str,
        count: u32,
        expires: Option<Duration>,
    ) -> Result<Vec<Invite>, HubError> {
        let expires_ms = expires.map(|after| {
            let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
            self.now().saturating_add(after)
        });
        let mut codes = Vec::new();
        for _ in 0..count {
            codes.push(self.create_invite(by, expires_ms).await?);
        }
        Ok(codes)
    }
}
