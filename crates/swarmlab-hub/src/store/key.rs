//! The hub's signing key: 64 hex digits of an ed25519 secret in `hub.key` (mode 0600),
//! made on first start. Only the store holds it, to sign ledger entries as it appends them;
//! the rest of the hub sees the public half.

use std::path::Path;

use swarmlab_proto::signing::{self, SigningKey};

use super::StoreError;

/// The key at `path`, made and written there when there is none.
pub(super) fn load_or_create(path: &Path) -> Result<SigningKey, StoreError> {
    let bad = |why: &str| StoreError::Key(format!("{}: {why}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("not 64 hex digits of an ed25519 secret key"))?;
            Ok(signing::signing_key(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::getrandom(&mut secret)
                .map_err(|e| StoreError::Key(format!("no randomness available: {e}")))?;
            write_secret(path, &hex::encode(secret)).map_err(|source| StoreError::Io {
                context: format!("failed to write {}", path.display()),
                source,
            })?;
            Ok(signing::signing_key(&secret))
        }
        Err(source) => Err(StoreError::Io {
            context: format!("failed to read {}", path.display()),
            source,
        }),
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
