//! EIP-2335-style encrypted keystores, as the SSV node and Anchor keep operator RSA keys.
//!
//! Sources: EIP-2335; the SSV node's `ssvsigner/keystore/file.go`, which uses wealdtech's
//! `go-eth2-wallet-encryptor-keystorev4`; Anchor's `common/operator_key`.
//!
//! Layout (every byte string is hex):
//! ```json
//! { "kdf":      { "function": "pbkdf2" | "scrypt", "params": {…, "salt": "…"}, "message": "" },
//!   "checksum": { "function": "sha256", "params": {}, "message": "<32 bytes>" },
//!   "cipher":   { "function": "aes-128-ctr", "params": { "iv": "<16 bytes>" }, "message": "<ciphertext>" },
//!   "pubkey":   "<base64 of the operator's public PEM>" }
//! ```
//! Operator keystores hold these three modules at the top level (keystorev4's own output,
//! plus `pubkey`, or `pubKey` in older SSV node files). A full EIP-2335 file nests them
//! under `"crypto"`; both are read.
//!
//! - decryption key `dk` = KDF(password, salt), 32 bytes;
//! - checksum = SHA-256(dk[16..32] ‖ ciphertext): a mismatch means a wrong password;
//! - secret = AES-128-CTR(key = dk[0..16], iv) over the ciphertext.
//!
//! For an operator key the secret is the PKCS#1 PEM text of the RSA private key.
//!
//! The password is normalised as keystorev4 does: NFKD, then ASCII control characters
//! (U+0000–U+001F, U+007F) removed, so the trailing newline of a password file does not
//! matter. If that fails the checksum, EIP-2335's stricter form (also removing the C1
//! controls U+0080–U+009F) is tried, as keystorev4 does with its alternate form.
//!
//! Everything here is deterministic: encryption takes the salt and IV as inputs.

use core::num::NonZeroU32;

use aws_lc_rs::cipher::{AES_128, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use unicode_normalization::UnicodeNormalization as _;
use zeroize::Zeroizing;

use crate::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey, RsaError};

/// Length of the derived decryption key (`dklen`): 16 bytes of AES key, 16 of checksum key.
pub const DECRYPTION_KEY_BYTES: usize = 32;

/// Most PBKDF2 iterations accepted: 2^24 is 64 times the usual 262,144 (2^18), which bounds
/// the CPU a hostile keystore can make a node spend.
pub const PBKDF2_MAX_ITERATIONS: u32 = 1 << 24;

/// Most scrypt memory accepted (128 · n · r bytes): 1 GiB, four times the usual
/// n = 2^18, r = 8 (256 MiB).
pub const SCRYPT_MAX_MEMORY_BYTES: u64 = 1 << 30;

/// Most scrypt work accepted (128 · n · r · p bytes mixed): 4 GiB, sixteen times the usual.
pub const SCRYPT_MAX_WORK_BYTES: u64 = 1 << 32;

/// Why a keystore could not be read, decrypted or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    /// The text is not JSON.
    #[error("keystore is not valid JSON: {0}")]
    Json(String),
    /// A required field is missing or has the wrong JSON type.
    #[error("keystore field {0} is missing or malformed")]
    Field(&'static str),
    /// A hex field does not decode.
    #[error("keystore field {0} is not valid hex")]
    Hex(&'static str),
    /// The KDF is neither `scrypt` nor `pbkdf2`.
    #[error("unsupported keystore KDF {0:?} (expected scrypt or pbkdf2)")]
    UnsupportedKdf(String),
    /// PBKDF2 with a PRF other than `hmac-sha256`.
    #[error("unsupported PBKDF2 PRF {0:?} (expected hmac-sha256)")]
    UnsupportedPrf(String),
    /// The cipher is not `aes-128-ctr`.
    #[error("unsupported keystore cipher {0:?} (expected aes-128-ctr)")]
    UnsupportedCipher(String),
    /// The checksum function is not `sha256`.
    #[error("unsupported keystore checksum {0:?} (expected sha256)")]
    UnsupportedChecksum(String),
    /// KDF parameters out of range (dklen, n, iterations, or over the resource limits).
    #[error("invalid keystore KDF parameters: {0}")]
    KdfParams(&'static str),
    /// The IV is not 16 bytes or the checksum not 32.
    #[error("keystore {0} has the wrong length")]
    Length(&'static str),
    /// The checksum does not match: the password is wrong (or the file is corrupted).
    #[error("wrong keystore password (checksum mismatch)")]
    WrongPassword,
    /// AES or the KDF failed internally.
    #[error("keystore cipher failure")]
    Cipher,
    /// The decrypted secret is not an operator RSA private key.
    #[error("keystore secret is not an operator RSA key: {0}")]
    OperatorKey(RsaError),
    /// The file's `pubkey` is not a valid operator public key.
    #[error("keystore pubkey is not an operator public key: {0}")]
    PublicKey(RsaError),
    /// The decrypted private key does not match the file's `pubkey`.
    #[error("keystore pubkey does not match the decrypted private key")]
    PublicKeyMismatch,
}

/// The key-derivation function and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kdf {
    /// scrypt with `n` (a power of two ≥ 2), `r`, `p`, `dklen` = 32.
    Scrypt {
        /// CPU/memory cost, a power of two.
        n: u64,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
        /// Salt bytes.
        salt: Vec<u8>,
    },
    /// PBKDF2 with HMAC-SHA-256, `c` iterations, `dklen` = 32.
    Pbkdf2 {
        /// Iterations.
        c: u32,
        /// Salt bytes.
        salt: Vec<u8>,
    },
}

impl Kdf {
    /// keystorev4's default for a given salt: PBKDF2-HMAC-SHA-256, 262,144 iterations.
    pub fn pbkdf2_default(salt: Vec<u8>) -> Self {
        Self::Pbkdf2 { c: 262_144, salt }
    }

    /// EIP-2335's scrypt example parameters for a given salt: n = 2^18, r = 8, p = 1.
    pub fn scrypt_default(salt: Vec<u8>) -> Self {
        Self::Scrypt { n: 1 << 18, r: 8, p: 1, salt }
    }

    /// Checks the parameters against the format and the resource limits.
    fn check(&self) -> Result<(), KeystoreError> {
        match self {
            Self::Pbkdf2 { c, .. } => {
                if *c == 0 {
                    return Err(KeystoreError::KdfParams("pbkdf2 c must be positive"));
                }
                if *c > PBKDF2_MAX_ITERATIONS {
                    return Err(KeystoreError::KdfParams("pbkdf2 c exceeds 2^24"));
                }
            }
            Self::Scrypt { n, r, p, .. } => {
                if *n < 2 || !n.is_power_of_two() {
                    return Err(KeystoreError::KdfParams("scrypt n must be a power of two ≥ 2"));
                }
                if *r == 0 || *p == 0 {
                    return Err(KeystoreError::KdfParams("scrypt r and p must be positive"));
                }
                let memory = n.checked_mul(u64::from(*r)).and_then(|v| v.checked_mul(128));
                let work = memory.and_then(|m| m.checked_mul(u64::from(*p)));
                if memory.is_none_or(|m| m > SCRYPT_MAX_MEMORY_BYTES) {
                    return Err(KeystoreError::KdfParams("scrypt memory 128·n·r exceeds 1 GiB"));
                }
                if work.is_none_or(|w| w > SCRYPT_MAX_WORK_BYTES) {
                    return Err(KeystoreError::KdfParams("scrypt work 128·n·r·p exceeds 4 GiB"));
                }
            }
        }
        Ok(())
    }

    /// Derives the 32-byte decryption key from a normalised password.
    fn derive(&self, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        self.check()?;
        let mut dk = Zeroizing::new([0u8; DECRYPTION_KEY_BYTES]);
        match self {
            Self::Pbkdf2 { c, salt } => {
                let c = NonZeroU32::new(*c)
                    .ok_or(KeystoreError::KdfParams("pbkdf2 c must be positive"))?;
                pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, c, salt, password, &mut dk[..]);
            }
            Self::Scrypt { n, r, p, salt } => {
                let log_n = u8::try_from(n.trailing_zeros())
                    .map_err(|_| KeystoreError::KdfParams("scrypt n"))?;
                let params = scrypt::Params::new(log_n, *r, *p, DECRYPTION_KEY_BYTES)
                    .map_err(|_| KeystoreError::KdfParams("scrypt parameters refused"))?;
                scrypt::scrypt(password, salt, &params, &mut dk[..])
                    .map_err(|_| KeystoreError::Cipher)?;
            }
        }
        Ok(dk)
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Pbkdf2 { c, salt } => json!({
                "function": "pbkdf2",
                "params": { "c": c, "dklen": DECRYPTION_KEY_BYTES, "prf": "hmac-sha256", "salt": hex::encode(salt) },
                "message": "",
            }),
            Self::Scrypt { n, r, p, salt } => json!({
                "function": "scrypt",
                "params": { "dklen": DECRYPTION_KEY_BYTES, "n": n, "p": p, "r": r, "salt": hex::encode(salt) },
                "message": "",
            }),
        }
    }

    fn from_json(module: &Map<String, Value>) -> Result<Self, KeystoreError> {
        let function = str_field(module, "function", "kdf.function")?;
        let params = module
            .get("params")
            .and_then(Value::as_object)
            .ok_or(KeystoreError::Field("kdf.params"))?;
        let dklen = u64_field(params, "dklen", "kdf.params.dklen")?;
        if dklen != DECRYPTION_KEY_BYTES as u64 {
            return Err(KeystoreError::KdfParams("dklen must be 32"));
        }
        let salt = hex_field(params, "salt", "kdf.params.salt")?;
        match function {
            "pbkdf2" => {
                let prf = str_field(params, "prf", "kdf.params.prf")?;
                if prf != "hmac-sha256" {
                    return Err(KeystoreError::UnsupportedPrf(prf.to_string()));
                }
                let c = u64_field(params, "c", "kdf.params.c")?;
                let c = u32::try_from(c)
                    .map_err(|_| KeystoreError::KdfParams("pbkdf2 c exceeds 2^24"))?;
                Ok(Self::Pbkdf2 { c, salt })
            }
            "scrypt" => {
                let n = u64_field(params, "n", "kdf.params.n")?;
                let r = u32::try_from(u64_field(params, "r", "kdf.params.r")?)
                    .map_err(|_| KeystoreError::KdfParams("scrypt r too large"))?;
                let p = u32::try_from(u64_field(params, "p", "kdf.params.p")?)
                    .map_err(|_| KeystoreError::KdfParams("scrypt p too large"))?;
                Ok(Self::Scrypt { n, r, p, salt })
            }
            other => Err(KeystoreError::UnsupportedKdf(other.to_string())),
        }
    }
}

/// An encrypted keystore: KDF, AES-128-CTR ciphertext, checksum, and the optional `pubkey`
/// (for an operator keystore, base64 of the public PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    /// Key derivation.
    pub kdf: Kdf,
    /// AES-128-CTR initial counter block.
    pub iv: [u8; 16],
    /// The encrypted secret.
    pub ciphertext: Vec<u8>,
    /// SHA-256(dk[16..32] ‖ ciphertext).
    pub checksum: [u8; 32],
    /// `pubkey` (or legacy `pubKey`) as written in the file, if any.
    pub pubkey: Option<String>,
}

impl Keystore {
    /// Parses keystore JSON: the operator form (modules at the top level) or EIP-2335's
    /// (modules under `crypto`). The `pubkey` is kept as text; its check comes with
    /// [`Self::decrypt_operator_key`].
    ///
    /// # Errors
    /// [`KeystoreError::Json`], [`KeystoreError::Field`], [`KeystoreError::Hex`],
    /// [`KeystoreError::Length`] and the `Unsupported*` variants.
    pub fn from_json(text: &str) -> Result<Self, KeystoreError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| KeystoreError::Json(e.to_string()))?;
        let top = doc.as_object().ok_or(KeystoreError::Field("top level object"))?;
        let crypto = match top.get("crypto") {
            Some(v) => v.as_object().ok_or(KeystoreError::Field("crypto"))?,
            None => top,
        };
        let module = |name: &'static str| {
            crypto.get(name).and_then(Value::as_object).ok_or(KeystoreError::Field(name))
        };

        let kdf = Kdf::from_json(module("kdf")?)?;

        let checksum_module = module("checksum")?;
        let function = str_field(checksum_module, "function", "checksum.function")?;
        if function != "sha256" {
            return Err(KeystoreError::UnsupportedChecksum(function.to_string()));
        }
        let checksum: [u8; 32] = hex_field(checksum_module, "message", "checksum.message")?
            .try_into()
            .map_err(|_| KeystoreError::Length("checksum"))?;

        let cipher_module = module("cipher")?;
        let function = str_field(cipher_module, "function", "cipher.function")?;
        if function != "aes-128-ctr" {
            return Err(KeystoreError::UnsupportedCipher(function.to_string()));
        }
        let params = cipher_module
            .get("params")
            .and_then(Value::as_object)
            .ok_or(KeystoreError::Field("cipher.params"))?;
        let iv: [u8; 16] = hex_field(params, "iv", "cipher.params.iv")?
            .try_into()
            .map_err(|_| KeystoreError::Length("cipher.params.iv"))?;
        let ciphertext = hex_field(cipher_module, "message", "cipher.message")?;

        let pubkey = match top.get("pubkey").or_else(|| top.get("pubKey")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(KeystoreError::Field("pubkey")),
        };
        Ok(Self { kdf, iv, ciphertext, checksum, pubkey })
    }

    /// The operator keystore JSON (modules at the top level, then `pubkey` if set), the
    /// form the SSV node and Anchor read.
    pub fn to_json(&self) -> String {
        let mut doc = Map::new();
        doc.insert(
            "checksum".into(),
            json!({ "function": "sha256", "params": {}, "message": hex::encode(self.checksum) }),
        );
        doc.insert(
            "cipher".into(),
            json!({
                "function": "aes-128-ctr",
                "params": { "iv": hex::encode(self.iv) },
                "message": hex::encode(&self.ciphertext),
            }),
        );
        doc.insert("kdf".into(), self.kdf.to_json());
        if let Some(pubkey) = &self.pubkey {
            doc.insert("pubkey".into(), Value::String(pubkey.clone()));
        }
        Value::Object(doc).to_string()
    }

    /// Encrypts `secret` under `password` with the given KDF (salt included) and IV, both
    /// inputs so the result is deterministic; the caller draws them at random (32-byte salt,
    /// 16-byte IV).
    ///
    /// # Errors
    /// [`KeystoreError::KdfParams`] when the KDF parameters are out of range,
    /// [`KeystoreError::Cipher`] if AES fails.
    pub fn encrypt(
        secret: &[u8],
        password: &str,
        kdf: Kdf,
        iv: [u8; 16],
        pubkey: Option<String>,
    ) -> Result<Self, KeystoreError> {
        let dk = kdf.derive(normalise_password(password, false).as_bytes())?;
        let mut ciphertext = secret.to_vec();
        aes_128_ctr(&dk, &iv, &mut ciphertext)?;
        let checksum = checksum(&dk, &ciphertext);
        Ok(Self { kdf, iv, ciphertext, checksum, pubkey })
    }

    /// Encrypts an operator private key (its PKCS#1 PEM text), recording its public key
    /// (base64 PEM) as `pubkey`.
    ///
    /// # Errors
    /// As [`Self::encrypt`].
    pub fn encrypt_operator_key(
        key: &OperatorPrivateKey,
        password: &str,
        kdf: Kdf,
        iv: [u8; 16],
    ) -> Result<Self, KeystoreError> {
        let pem = key.to_pem();
        Self::encrypt(pem.as_bytes(), password, kdf, iv, Some(key.public_key().to_base64_pem()))
    }

    /// Decrypts the secret.
    ///
    /// # Errors
    /// [`KeystoreError::WrongPassword`] when the checksum does not match under either
    /// password normalisation; [`KeystoreError::KdfParams`] when the KDF is out of range.
    pub fn decrypt(&self, password: &str) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        let primary = normalise_password(password, false);
        let mut dk = self.kdf.derive(primary.as_bytes())?;
        if checksum(&dk, &self.ciphertext) != self.checksum {
            let strict = normalise_password(password, true);
            if strict == primary {
                return Err(KeystoreError::WrongPassword);
            }
            dk = self.kdf.derive(strict.as_bytes())?;
            if checksum(&dk, &self.ciphertext) != self.checksum {
                return Err(KeystoreError::WrongPassword);
            }
        }
        let mut secret = Zeroizing::new(self.ciphertext.clone());
        aes_128_ctr(&dk, &self.iv, &mut secret)?;
        Ok(secret)
    }

    /// Decrypts an operator keystore into its RSA private key. The secret is the key's PEM
    /// (base64 of the PEM is also accepted); when the file has a `pubkey`, it must be the
    /// key's public key.
    ///
    /// # Errors
    /// Those of [`Self::decrypt`]; [`KeystoreError::OperatorKey`] when the secret is not an
    /// RSA-2048 key; [`KeystoreError::PublicKey`] or [`KeystoreError::PublicKeyMismatch`]
    /// for a bad or different `pubkey`.
    pub fn decrypt_operator_key(
        &self,
        password: &str,
    ) -> Result<OperatorPrivateKey, KeystoreError> {
        let secret = self.decrypt(password)?;
        let key = if secret.trim_ascii_start().starts_with(b"-----") {
            OperatorPrivateKey::from_pem(&secret)
        } else {
            let text = core::str::from_utf8(&secret)
                .map_err(|_| KeystoreError::OperatorKey(RsaError::Pem("not UTF-8 text")))?;
            OperatorPrivateKey::from_base64_pem(text)
        }
        .map_err(KeystoreError::OperatorKey)?;
        if let Some(pubkey) = &self.pubkey {
            let listed =
                OperatorPublicKey::from_base64_pem(pubkey).map_err(KeystoreError::PublicKey)?;
            if &listed != key.public_key() {
                return Err(KeystoreError::PublicKeyMismatch);
            }
        }
        Ok(key)
    }
}

/// NFKD, then drop ASCII controls (and, when `strict`, the C1 controls too: EIP-2335).
fn normalise_password(password: &str, strict: bool) -> Zeroizing<String> {
    Zeroizing::new(
        password
            .nfkd()
            .filter(|c| {
                let cp = u32::from(*c);
                !(cp <= 0x1f || cp == 0x7f || (strict && (0x80..=0x9f).contains(&cp)))
            })
            .collect(),
    )
}

fn checksum(dk: &[u8; 32], ciphertext: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(dk.get(16..).unwrap_or_default());
    hasher.update(ciphertext);
    hasher.finalize().into()
}

/// AES-128-CTR with key dk[0..16] in place (the same operation encrypts and decrypts).
fn aes_128_ctr(dk: &[u8; 32], iv: &[u8; 16], data: &mut [u8]) -> Result<(), KeystoreError> {
    if data.is_empty() {
        return Ok(());
    }
    let key_bytes = dk.get(..16).ok_or(KeystoreError::Cipher)?;
    let key = UnboundCipherKey::new(&AES_128, key_bytes).map_err(|_| KeystoreError::Cipher)?;
    let key = DecryptingKey::ctr(key).map_err(|_| KeystoreError::Cipher)?;
    key.decrypt(data, DecryptionContext::Iv128(FixedLength::from(*iv)))
        .map_err(|_| KeystoreError::Cipher)?;
    Ok(())
}

fn str_field<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<&'a str, KeystoreError> {
    map.get(key).and_then(Value::as_str).ok_or(KeystoreError::Field(name))
}

fn u64_field(
    map: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<u64, KeystoreError> {
    map.get(key).and_then(Value::as_u64).ok_or(KeystoreError::Field(name))
}

fn hex_field(
    map: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Vec<u8>, KeystoreError> {
    let text = str_field(map, key, name)?;
    let text = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(text).map_err(|_| KeystoreError::Hex(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EIP-2335's published test vector (scrypt and pbkdf2): password
    /// "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑", secret 000000…1d19, from the EIP text.
    const EIP2335_SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    const EIP2335_PASSWORD: &str = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
    const EIP2335_PBKDF2: &str = r#"{
        "crypto": {
            "kdf": {"function": "pbkdf2", "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256",
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}, "message": ""},
            "checksum": {"function": "sha256", "params": {},
                "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"},
            "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"}
        },
        "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
        "version": 4
    }"#;
    const EIP2335_SCRYPT: &str = r#"{
        "crypto": {
            "kdf": {"function": "scrypt", "params": {"dklen": 32, "n": 262144, "p": 1, "r": 8,
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}, "message": ""},
            "checksum": {"function": "sha256", "params": {},
                "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484"},
            "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f"}
        },
        "version": 4
    }"#;

    #[test]
    fn eip2335_pbkdf2_vector_decrypts() {
        let ks = Keystore::from_json(EIP2335_PBKDF2).unwrap();
        assert_eq!(hex::encode(&*ks.decrypt(EIP2335_PASSWORD).unwrap()), EIP2335_SECRET);
        assert_eq!(ks.decrypt("wrong"), Err(KeystoreError::WrongPassword));
    }

    #[test]
    fn eip2335_scrypt_vector_decrypts() {
        let ks = Keystore::from_json(EIP2335_SCRYPT).unwrap();
        assert_eq!(hex::encode(&*ks.decrypt(EIP2335_PASSWORD).unwrap()), EIP2335_SECRET);
    }

    #[test]
    fn encrypt_reproduces_the_eip2335_pbkdf2_vector() {
        let ks = Keystore::from_json(EIP2335_PBKDF2).unwrap();
        let again = Keystore::encrypt(
            &hex::decode(EIP2335_SECRET).unwrap(),
            EIP2335_PASSWORD,
            ks.kdf.clone(),
            ks.iv,
            ks.pubkey.clone(),
        )
        .unwrap();
        assert_eq!(again, ks);
        assert_eq!(Keystore::from_json(&again.to_json()).unwrap(), ks);
    }

    #[test]
    fn operator_key_round_trips_and_checks_pubkey() {
        let sk = OperatorPrivateKey::generate().unwrap();
        let kdf = Kdf::Scrypt { n: 1 << 10, r: 8, p: 1, salt: vec![7; 32] };
        let ks = Keystore::encrypt_operator_key(&sk, "pw", kdf, [9; 16]).unwrap();
        let parsed = Keystore::from_json(&ks.to_json()).unwrap();
        assert_eq!(parsed, ks);
        let back = parsed.decrypt_operator_key("pw").unwrap();
        assert_eq!(back.public_key(), sk.public_key());
        assert_eq!(parsed.decrypt_operator_key("pW").unwrap_err(), KeystoreError::WrongPassword);

        let other = OperatorPrivateKey::generate().unwrap();
        let mut swapped = ks;
        swapped.pubkey = Some(other.public_key().to_base64_pem());
        assert_eq!(
            swapped.decrypt_operator_key("pw").unwrap_err(),
            KeystoreError::PublicKeyMismatch
        );
    }

    #[test]
    fn password_normalisation_drops_controls() {
        assert_eq!(normalise_password("what\n", false).as_str(), "what");
        assert_eq!(normalise_password("a\u{85}b", false).as_str(), "a\u{85}b");
        assert_eq!(normalise_password("a\u{85}b", true).as_str(), "ab");
        // NFKD decomposes compatibility characters: U+FB01 (ﬁ ligature) -> "fi".
        assert_eq!(normalise_password("\u{fb01}", false).as_str(), "fi");
    }

    #[test]
    fn kdf_limits_refuse_hostile_parameters() {
        let salt = vec![0u8; 32];
        for kdf in [
            Kdf::Scrypt { n: 3, r: 8, p: 1, salt: salt.clone() },
            Kdf::Scrypt { n: 1 << 30, r: 8, p: 1, salt: salt.clone() },
            Kdf::Scrypt { n: 1 << 18, r: 8, p: 1 << 20, salt: salt.clone() },
            Kdf::Pbkdf2 { c: 0, salt: salt.clone() },
            Kdf::Pbkdf2 { c: u32::MAX, salt },
        ] {
            assert!(matches!(
                Keystore::encrypt(b"x", "p", kdf, [0; 16], None),
                Err(KeystoreError::KdfParams(_))
            ));
        }
    }

    #[test]
    fn malformed_json_is_named() {
        assert!(matches!(Keystore::from_json("{"), Err(KeystoreError::Json(_))));
        assert_eq!(Keystore::from_json("{}"), Err(KeystoreError::Field("kdf")));
        let no_aes = EIP2335_PBKDF2.replace("aes-128-ctr", "aes-256-gcm");
        assert_eq!(
            Keystore::from_json(&no_aes),
            Err(KeystoreError::UnsupportedCipher("aes-256-gcm".into()))
        );
    }
}
