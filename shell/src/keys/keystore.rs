//! EIP-2335 keystore crypto (PBKDF2-HMAC-SHA256 + AES-128-CTR + SHA-256 checksum) around
//! an arbitrary secret, in the flat layout of Go `keystorev4` with a `pubKey` field.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// PBKDF2 parameters of a new keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pbkdf2Params {
    /// Iterations (`c`).
    pub iterations: u32,
}

impl Pbkdf2Params {
    /// EIP-2335's PBKDF2 example and Go `keystorev4`'s cost: 2^18 iterations.
    pub const STANDARD: Pbkdf2Params = Pbkdf2Params { iterations: 262_144 };
}

/// Why a keystore could not be read, made or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Not JSON of the keystore shape.
    #[error("malformed keystore: {0}")]
    Malformed(String),
    /// A KDF, PRF or cipher this node does not implement.
    #[error("unsupported keystore {what} {name:?}: only pbkdf2 (hmac-sha256) and aes-128-ctr")]
    Unsupported {
        /// `kdf`, `prf` or `cipher`.
        what: &'static str,
        /// Its name in the file.
        name: String,
    },
    /// The checksum does not match: the password is wrong (or the file damaged).
    #[error("wrong password (keystore checksum mismatch)")]
    WrongPassword,
    /// The crypto library failed.
    #[error("keystore crypto failure")]
    Crypto,
}

/// A parsed keystore: the three EIP-2335 modules and the public key it claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keystore {
    /// `{function, params, message}`.
    pub kdf: Module,
    /// `{function: "sha256", params: {}, message: hex}`.
    pub checksum: Module,
    /// `{function: "aes-128-ctr", params: {iv}, message: hex ciphertext}`.
    pub cipher: Module,
    /// Base64 of the operator public key PEM (`pubKey`; `pubkey` also read).
    #[serde(rename = "pubKey", alias = "pubkey", default)]
    pub pub_key: String,
}

/// One EIP-2335 module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// The algorithm.
    pub function: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Value,
    /// Hex payload (may be empty).
    #[serde(default)]
    pub message: String,
}

/// EIP-2335 password processing: NFKD, then C0, C1 and DEL control characters removed.
pub fn normalize_password(raw: &str) -> Zeroizing<String> {
    Zeroizing::new(raw.nfkd().filter(|c| !matches!(*c as u32, 0x00..=0x1f | 0x7f..=0x9f)).collect())
}

fn hex_field(text: &str, what: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| KeystoreError::Malformed(format!("{what}: {e}")))
}

fn derive(password: &str, salt: &[u8], iterations: u32, dklen: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; dklen]);
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn aes_128_ctr(key: &[u8], iv: [u8; 16], data: &mut [u8]) -> Result<(), KeystoreError> {
    let key = UnboundCipherKey::new(&AES_128, key).map_err(|_| KeystoreError::Crypto)?;
    let key = EncryptingKey::ctr(key).map_err(|_| KeystoreError::Crypto)?;
    key.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| KeystoreError::Crypto)?;
    Ok(())
}

fn checksum(dk: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(dk.get(16..32).unwrap_or_default());
    h.update(ciphertext);
    h.finalize().into()
}

impl Keystore {
    /// Encrypts `secret` under `password` (already normalised) with fresh salt and IV.
    pub fn encrypt(
        secret: &[u8],
        password: &str,
        pub_key: &str,
        params: Pbkdf2Params,
    ) -> Result<Keystore, KeystoreError> {
        let mut salt = [0u8; 32];
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeystoreError::Crypto)?;
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| KeystoreError::Crypto)?;
        let dk = derive(password, &salt, params.iterations, 32);
        let mut ciphertext = secret.to_vec();
        aes_128_ctr(dk.get(..16).ok_or(KeystoreError::Crypto)?, iv, &mut ciphertext)?;
        Ok(Keystore {
            kdf: Module {
                function: "pbkdf2".into(),
                params: json!({
                    "c": params.iterations,
                    "dklen": 32,
                    "prf": "hmac-sha256",
                    "salt": hex::encode(salt),
                }),
                message: String::new(),
            },
            checksum: Module {
                function: "sha256".into(),
                params: json!({}),
                message: hex::encode(checksum(&dk, &ciphertext)),
            },
            cipher: Module {
                function: "aes-128-ctr".into(),
                params: json!({ "iv": hex::encode(iv) }),
                message: hex::encode(ciphertext),
            },
            pub_key: pub_key.to_owned(),
        })
    }

    /// Parses a keystore JSON: the flat `keystorev4` layout, or a full EIP-2335 file with
    /// a `crypto` object.
    pub fn from_json(text: &str) -> Result<Keystore, KeystoreError> {
        let mut value: Value =
            serde_json::from_str(text).map_err(|e| KeystoreError::Malformed(e.to_string()))?;
        if let Some(crypto) = value.get("crypto").cloned() {
            let pub_key = value.get("pubKey").or_else(|| value.get("pubkey")).cloned();
            value = crypto;
            if let (Some(obj), Some(pk)) = (value.as_object_mut(), pub_key) {
                obj.insert("pubKey".into(), pk);
            }
        }
        serde_json::from_value(value).map_err(|e| KeystoreError::Malformed(e.to_string()))
    }

    /// The keystore as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Decrypts with `password` (already normalised).
    pub fn decrypt(&self, password: &str) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        if self.kdf.function != "pbkdf2" {
            return Err(KeystoreError::Unsupported {
                what: "kdf",
                name: self.kdf.function.clone(),
            });
        }
        if self.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::Unsupported {
                what: "cipher",
                name: self.cipher.function.clone(),
            });
        }
        let p = &self.kdf.params;
        let prf = p["prf"].as_str().unwrap_or("hmac-sha256");
        if prf != "hmac-sha256" {
            return Err(KeystoreError::Unsupported { what: "prf", name: prf.into() });
        }
        let iterations = p["c"]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c > 0)
            .ok_or_else(|| KeystoreError::Malformed("kdf.params.c".into()))?;
        let dklen = p["dklen"].as_u64().unwrap_or(32);
        if dklen < 32 {
            return Err(KeystoreError::Malformed(format!("kdf.params.dklen {dklen} < 32")));
        }
        let salt = hex_field(p["salt"].as_str().unwrap_or_default(), "kdf.params.salt")?;
        let iv: [u8; 16] =
            hex_field(self.cipher.params["iv"].as_str().unwrap_or_default(), "cipher.params.iv")?
                .try_into()
                .map_err(|_| KeystoreError::Malformed("cipher.params.iv is not 16 bytes".into()))?;
        let ciphertext = hex_field(&self.cipher.message, "cipher.message")?;
        let expected = hex_field(&self.checksum.message, "checksum.message")?;
        let dk = derive(password, &salt, iterations, dklen as usize);
        if checksum(&dk, &ciphertext).as_slice() != expected.as_slice() {
            return Err(KeystoreError::WrongPassword);
        }
        let mut plain = Zeroizing::new(ciphertext);
        aes_128_ctr(dk.get(..16).ok_or(KeystoreError::Crypto)?, iv, &mut plain)?;
        Ok(plain)
    }
}
