//! Identities and their bearer tokens. A token is shown once; only its SHA-256 is stored.
//! Workers register their own ed25519 key (`registration.rs`, as the hub's registration
//! mode allows); verifiers and admins are created by an admin, the first admin by
//! [`Hub::bootstrap_admin`]. Who may do what once known is `roles.rs`.

use sha2::{Digest, Sha256};
use swarmlab_proto::{signing, IdentityToken, Role};

use super::error::HubError;
use super::hub::{random_bytes, Hub};

/// An authenticated party.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// ed25519, 64 hex digits; required for workers and verifiers.
    pub public_key: Option<String>,
}

/// The prefix of every hub token, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "slh_";

/// SHA-256 of a token, hex: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Hub {
    /// Creates an identity of any role and returns its token (shown only now).
    pub async fn create_identity(
        &self,
        name: &str,
        role: Role,
        public_key: Option<String>,
    ) -> Result<IdentityToken, HubError> {
        self.create_identity_with(name, role, public_key, None)
            .await
    }

    /// [`Hub::create_identity`], using up the invite whose code hashes to `invite` if given.
    pub(crate) async fn create_identity_with(
        &self,
        name: &str,
        role: Role,
        public_key: Option<String>,
        invite: Option<&str>,
    ) -> Result<IdentityToken, HubError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(HubError::BadRequest(
                "name must be 1 to 100 characters".into(),
            ));
        }
        if let Some(key) = &public_key {
            signing::parse_public_key(key)
                .map_err(|e| HubError::BadRequest(format!("public_key: {e}")))?;
        } else if role != Role::Admin {
            return Err(HubError::BadRequest(format!(
                "a {} needs an ed25519 public_key to sign with",
                role.as_str()
            )));
        }
        let id = format!("{}-{}", role.as_str(), hex::encode(random_bytes::<6>()?));
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes::<32>()?));
        let identity = Identity {
            id: id.clone(),
            name: name.to_string(),
            role,
            public_key,
        };
        let hash = token_hash(&token);
        match invite {
            Some(code) => {
                self.store
                    .create_invited_identity(&identity, &hash, code, self.now())
                    .await?
            }
            None => {
                self.store
                    .create_identity(&identity, &hash, self.now())
                    .await?
            }
        }
        Ok(IdentityToken {
            identity_id: id,
            role,
            token,
        })
    }

    /// Creates an admin and returns its token: how the first admin comes to be
    /// (`swarmlab hub admin-token`).
    pub async fn bootstrap_admin(&self, name: &str) -> Result<IdentityToken, HubError> {
        self.create_identity(name, Role::Admin, None).await
    }

    /// The identity behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Identity, HubError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(HubError::Unauthorized);
        }
        self.store
            .identity_by_token(&token_hash(token))
            .await?
            .ok_or(HubError::Unauthorized)
    }
}
