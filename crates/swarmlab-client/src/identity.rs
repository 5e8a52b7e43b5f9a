//! [`IdentityFile`]: who a worker or verifier is to one hub — its ed25519 secret key, the
//! identity id and the bearer token — kept in one file readable by its owner only.
//!
//! A worker registers itself on first start; a verifier's key is enrolled by the hub's admin
//! (`swarmlab hub add-identity`), then bound to its token here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use swarmlab_proto::{signing, IdentityToken, RegisterRequest, Role, SigningKey};

use crate::client::HubClient;
use crate::ClientError;

/// The file's name inside a worker's or verifier's directory.
pub const FILE: &str = "identity.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityFile {
    /// The hub this identity belongs to.
    pub hub: String,
    pub identity_id: Option<String>,
    pub role: Role,
    /// Absent until the identity is registered or enrolled.
    pub token: Option<String>,
    /// The ed25519 secret key, 64 hex digits.
    pub secret_key: String,
}

impl IdentityFile {
    /// A fresh key for `hub`, not yet registered.
    pub fn generate(hub: &str, role: Role) -> Result<IdentityFile, ClientError> {
        Ok(IdentityFile {
            hub: hub.to_string(),
            identity_id: None,
            role,
            token: None,
            secret_key: crate::random_hex::<32>()?,
        })
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Reads the identity in `dir`; `None` when there is none yet.
    pub fn load(dir: &Path) -> Result<Option<IdentityFile>, ClientError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClientError::io("read", path)(e)),
        };
        let file: IdentityFile =
            serde_json::from_str(&text).map_err(|source| ClientError::IdentityFile {
                path: path.clone(),
                source,
            })?;
        file.key().map_err(|source| ClientError::IdentityKey {
            path,
            source: Box::new(source),
        })?;
        Ok(Some(file))
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self, dir: &Path) -> Result<(), ClientError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir).map_err(ClientError::io("create", dir))?;
        let path = Self::path(dir);
        let tmp = dir.join(format!(".{FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(ClientError::io("write", &tmp))?;
        let text = serde_json::to_string_pretty(self).expect("identity serialises");
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(ClientError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(ClientError::io("write", &path))
    }

    pub fn key(&self) -> Result<SigningKey, ClientError> {
        let bytes: [u8; 32] = hex::decode(&self.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(ClientError::Key)?;
        Ok(signing::signing_key(&bytes))
    }

    pub fn public_key_hex(&self) -> Result<String, ClientError> {
        Ok(signing::public_key_hex(&self.key()?))
    }

    /// The worker identity in `dir`, registered with `hub` on first use (with `invite`, a
    /// code from the hub's admin, where the hub registers workers by invite).
    pub fn worker(
        dir: &Path,
        hub: &str,
        name: &str,
        invite: Option<&str>,
        client: &HubClient,
    ) -> Result<IdentityFile, ClientError> {
        if let Some(identity) = IdentityFile::load(dir)? {
            if identity.hub.trim_end_matches('/') != hub.trim_end_matches('/') {
                return Err(ClientError::OtherHub {
                    path: IdentityFile::path(dir),
                    owner: identity.hub,
                    hub: hub.to_string(),
                });
            }
            if identity.token.is_some() {
                return Ok(identity);
            }
        }
        let mut identity = IdentityFile::generate(hub, Role::Worker)?;
        let token: IdentityToken = client
            .post(
                "register",
                &RegisterRequest {
                    name: name.to_string(),
                    public_key: identity.public_key_hex()?,
                    invite: invite.map(str::to_string),
                },
            )
            .map_err(ClientError::Register)?;
        identity.identity_id = Some(token.identity_id);
        identity.token = Some(token.token);
        identity.save(dir)?;
        Ok(identity)
    }

    /// The token and id, or why this identity cannot act yet.
    pub fn credentials(&self) -> Result<(String, String), ClientError> {
        match (&self.token, &self.identity_id) {
            (Some(token), Some(id)) => Ok((token.clone(), id.clone())),
            _ => Err(ClientError::NoToken),
        }
    }
}
