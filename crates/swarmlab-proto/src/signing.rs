//! ed25519 keys and signatures in the form they travel in: lowercase hex.

use ed25519_dalek::{Signature, Signer};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key or a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("public key is not 64 hex digits of a valid ed25519 key")]
    BadPublicKey,
    #[error("signature is not 128 hex digits")]
    BadSignatureEncoding,
    #[error("signature does not match the signed bytes")]
    Mismatch,
}

/// Signs `message`; the signature as 128 hex digits.
pub fn sign(key: &SigningKey, message: &[u8]) -> String {
    hex::encode(key.sign(message).to_bytes())
}

/// The public half of `key` as 64 hex digits.
pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// Parses a public key from 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes: [u8; 32] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::BadPublicKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::BadPublicKey)
}

/// Checks a hex signature over `message` (strict verification: no malleable signatures).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &str) -> Result<(), SignatureError> {
    let bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::BadSignatureEncoding)?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch)
}

/// A signing key from 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_message_does_not() {
        let key = signing_key(&[7; 32]);
        let public = parse_public_key(&public_key_hex(&key)).unwrap();
        let sig = sign(&key, b"hello");
        assert_eq!(verify(&public, b"hello", &sig), Ok(()));
        assert_eq!(
            verify(&public, b"hellp", &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&public, b"hello", "zz"),
            Err(SignatureError::BadSignatureEncoding)
        );
        assert_eq!(
            parse_public_key("00").unwrap_err(),
            SignatureError::BadPublicKey
        );
    }
}
