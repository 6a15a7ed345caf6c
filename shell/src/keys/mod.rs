//! Operator key files: `ssv-node keygen` and loading the key at start.
//!
//! Two formats, as the Go node reads them (`ssvsigner/keystore/file.go`):
//! - a PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), written with mode 0600;
//! - an EIP-2335-style keystore JSON (`{"checksum", "cipher", "kdf", "pubKey"}`, the
//!   `crypto` object at the top level, as `keystorev4` writes it) whose secret is the PEM
//!   text, with a password file. Encryption uses PBKDF2-HMAC-SHA256 (c = 262,144) and
//!   AES-128-CTR; decryption accepts PBKDF2 only (scrypt keystores are refused by name).

mod keystore;

use std::io::Write;
use std::path::{Path, PathBuf};

use ssv_core::crypto::rsa::{OperatorPrivateKey, RsaError};
use zeroize::Zeroizing;

pub use keystore::{Keystore, KeystoreError, Module, Pbkdf2Params, normalize_password};

/// Why an operator key could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is a keystore but no password file was configured.
    #[error(
        "{} is an encrypted keystore: set operator_key.password_file (--operator-key-password-file)",
        path.display()
    )]
    PasswordRequired {
        /// The keystore.
        path: PathBuf,
    },
    /// The password file is empty (after removing control characters).
    #[error("password file {} is empty", path.display())]
    EmptyPassword {
        /// The password file.
        path: PathBuf,
    },
    /// Decryption failed (wrong password, or a damaged or unsupported keystore).
    #[error("cannot decrypt operator keystore {}: {source}", path.display())]
    Keystore {
        /// The keystore.
        path: PathBuf,
        /// Why.
        #[source]
        source: KeystoreError,
    },
    /// The file (or the decrypted secret) is not an RSA-2048 private key.
    #[error("{} does not hold a valid RSA operator key: {source}", path.display())]
    Rsa {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: RsaError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_owned(), source }
}

/// Writes `contents` to a new file readable only by its owner (mode 0600 on Unix).
/// Refuses to overwrite an existing file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(contents).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// What `keygen` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The public key as the contract takes it: base64 of the PEM.
    pub public_key_base64: String,
    /// The key file.
    pub key_path: PathBuf,
    /// The password file, if the key is encrypted.
    pub password_path: Option<PathBuf>,
}

/// Generates an RSA-2048 operator key and writes it to `key_path`: PEM, or with
/// `encrypt = Some(password_file)` an encrypted keystore. A password file that exists is
/// read; one that does not is created with a random password (0600).
pub fn keygen(
    key_path: &Path,
    encrypt: Option<&Path>,
    params: Pbkdf2Params,
) -> Result<Generated, KeyError> {
    let key = OperatorPrivateKey::generate()
        .map_err(|source| KeyError::Rsa { path: key_path.to_owned(), source })?;
    let public_key_base64 = key.public_key().to_base64_pem();
    let pem = key.to_pem();
    match encrypt {
        None => {
            write_private_file(key_path, pem.as_bytes())?;
            Ok(Generated { public_key_base64, key_path: key_path.to_owned(), password_path: None })
        }
        Some(password_path) => {
            let password = if password_path.exists() {
                read_password(password_path)?
            } else {
                let mut raw = [0u8; 24];
                aws_lc_rs::rand::fill(&mut raw).map_err(|_| KeyError::Io {
                    path: password_path.to_owned(),
                    source: std::io::Error::other("no randomness for the password"),
                })?;
                let password = Zeroizing::new(hex::encode(raw));
                write_private_file(password_path, password.as_bytes())?;
                password
            };
            let keystore = Keystore::encrypt(pem.as_bytes(), &password, &public_key_base64, params)
                .map_err(|source| KeyError::Keystore { path: key_path.to_owned(), source })?;
            write_private_file(key_path, keystore.to_json().as_bytes())?;
            Ok(Generated {
                public_key_base64,
                key_path: key_path.to_owned(),
                password_path: Some(password_path.to_owned()),
            })
        }
    }
}

/// Reads a password file: EIP-2335 normalisation (NFKD, control characters removed).
pub fn read_password(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let raw = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    let password = keystore::normalize_password(&raw);
    if password.is_empty() {
        return Err(KeyError::EmptyPassword { path: path.to_owned() });
    }
    Ok(password)
}

/// Loads the operator key at `key_path`: a PEM (base64-wrapped PEM accepted too), or a
/// keystore JSON decrypted with the password in `password_file`.
pub fn load_operator_key(
    key_path: &Path,
    password_file: Option<&Path>,
) -> Result<OperatorPrivateKey, KeyError> {
    let text = Zeroizing::new(std::fs::read_to_string(key_path).map_err(io(key_path))?);
    let rsa = |source| KeyError::Rsa { path: key_path.to_owned(), source };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let keystore = Keystore::from_json(trimmed)
            .map_err(|source| KeyError::Keystore { path: key_path.to_owned(), source })?;
        let password_file = password_file
            .ok_or_else(|| KeyError::PasswordRequired { path: key_path.to_owned() })?;
        let password = read_password(password_file)?;
        let secret = keystore
            .decrypt(&password)
            .map_err(|source| KeyError::Keystore { path: key_path.to_owned(), source })?;
        parse_private_key(&secret).map_err(rsa)
    } else {
        parse_private_key(text.as_bytes()).map_err(rsa)
    }
}

/// A PKCS#1 PEM, the base64 of one, or raw PKCS#1 DER.
fn parse_private_key(bytes: &[u8]) -> Result<OperatorPrivateKey, RsaError> {
    if bytes.starts_with(b"-----") || bytes.trim_ascii_start().starts_with(b"-----") {
        return OperatorPrivateKey::from_pem(bytes.trim_ascii());
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(key) = OperatorPrivateKey::from_base64_pem(text.trim())
    {
        return Ok(key);
    }
    OperatorPrivateKey::from_der(bytes)
}

#[cfg(test)]
mod tests;
