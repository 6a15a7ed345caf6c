//! Operator RSA-2048 keys, PKCS#1 v1.5 SHA-256 signatures and share encryption (aws-lc-rs).
//!
//! Spec source: ssv-spec v1.2.2 `types/encryption.go` and `types/operator_signer.go`; key and
//! share formats from ssv-keys v1.2.0 and the ssv node (notes 1.3 and 4.1).
//!
//! - An operator signs `SHA-256(ssz(SSVMessage))` with RSASSA-PKCS1-v1_5. PKCS#1 v1.5
//!   signatures are deterministic, so the spec vectors' signatures can be reproduced byte for
//!   byte.
//! - The operator public key travels as a PEM whose label is `RSA PUBLIC KEY` but whose body
//!   is PKIX `SubjectPublicKeyInfo` DER (459 bytes for RSA-2048), or as base64 of that PEM
//!   (on chain and in keyshares files).
//! - The private key is a PKCS#1 PEM (`RSA PRIVATE KEY`), in the node config as base64 of
//!   that PEM.
//! - Each validator share secret is encrypted to its operator with RSAES-PKCS1-v1_5; the
//!   plaintext is the ASCII string `"0x" + 64 hex digits`.
//!
//! Determinism: parsing, signing, verifying and decrypting are pure functions of their
//! inputs. Two operations draw randomness inside aws-lc (its own RNG, not an input) and so
//! are the only non-deterministic ones here: [`OperatorPublicKey::encrypt`] (PKCS#1 v1.5
//! encryption padding is random by definition) and [`OperatorPrivateKey::generate`]. Both
//! are for the shell and tools (keyshares creation, `ssv-node keygen`, tests), never for a
//! state machine, which only decrypts.
//!
//! Errors here carry no spec error code: the code of a bad operator signature depends on the
//! caller (QBFT uses `MessageSignatureInvalid`, the committee `SsvMessageHasInvalidSignature`),
//! so callers map [`RsaError`] themselves.

use core::cmp::Ordering;
use core::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

/// Size of an operator RSA modulus, signature and share ciphertext in bytes (RSA-2048).
pub const RSA_MODULUS_BYTES: usize = 256;

/// Size of an operator RSA modulus in bits. Operator keys are RSA-2048 (`types/encryption.go`
/// `keySize`); other sizes are refused so every signature is exactly 256 bytes.
pub const RSA_MODULUS_BITS: usize = 2048;

/// Largest plaintext RSAES-PKCS1-v1_5 can carry under a 2048-bit key: 256 − 11 padding bytes.
pub const RSA_MAX_PLAINTEXT_BYTES: usize = RSA_MODULUS_BYTES - 11;

/// An operator signature: RSASSA-PKCS1-v1_5 with SHA-256, 256 bytes.
pub type OperatorSignature = [u8; RSA_MODULUS_BYTES];

/// A share ciphertext: RSAES-PKCS1-v1_5 under the operator's key, 256 bytes.
pub type ShareCiphertext = [u8; RSA_MODULUS_BYTES];

/// PEM label of an operator public key. The body is PKIX `SubjectPublicKeyInfo` DER despite
/// the PKCS#1-style label (`types/encryption.go` `GetPublicKeyPem`).
pub const PUBLIC_KEY_PEM_LABEL: &str = "RSA PUBLIC KEY";

/// PEM label of a PKCS#1 operator private key (`types/encryption.go` `PrivateKeyToPem`).
pub const PRIVATE_KEY_PEM_LABEL: &str = "RSA PRIVATE KEY";

/// PEM label of a PKCS#8 private key, also accepted on input.
const PKCS8_PEM_LABEL: &str = "PRIVATE KEY";

/// PEM label of a generic SPKI public key, also accepted on input.
const SPKI_PEM_LABEL: &str = "PUBLIC KEY";

/// Why an operator key, signature or ciphertext was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RsaError {
    /// The input is not a PEM block (or base64 of one) of the expected kind.
    #[error("malformed PEM: {0}")]
    Pem(&'static str),
    /// The text that should be base64 of a PEM (or a PEM body) is not valid base64.
    #[error("invalid base64 in operator key")]
    Base64,
    /// The PEM label is not one this key type accepts.
    #[error("unexpected PEM label {found:?}, expected {expected}")]
    PemLabel {
        /// The label found.
        found: String,
        /// What was accepted.
        expected: &'static str,
    },
    /// The DER does not encode an RSA key of the expected form.
    #[error("not a valid RSA {kind}: {reason}")]
    KeyRejected {
        /// `"private key"` or `"public key"`.
        kind: &'static str,
        /// aws-lc's reason.
        reason: String,
    },
    /// The key is RSA but not RSA-2048.
    #[error("operator RSA key is {bits} bits, expected 2048")]
    KeySize {
        /// The modulus size found.
        bits: usize,
    },
    /// A signature is not 256 bytes.
    #[error("operator signature is {len} bytes, expected 256")]
    SignatureLength {
        /// Length found.
        len: usize,
    },
    /// The signature does not verify under the operator's public key.
    #[error("operator RSA signature does not verify")]
    BadSignature,
    /// aws-lc failed to sign (not expected for a key that parsed).
    #[error("RSA signing failed")]
    Sign,
    /// The plaintext is longer than 245 bytes.
    #[error("plaintext of {len} bytes exceeds the RSA-2048 PKCS#1 v1.5 limit of 245")]
    PlaintextTooLong {
        /// Length given.
        len: usize,
    },
    /// aws-lc failed to encrypt (not expected for a key that parsed).
    #[error("RSA encryption failed")]
    Encrypt,
    /// The ciphertext is not a PKCS#1 v1.5 encryption under this key (wrong key, wrong
    /// length or corrupted).
    #[error("RSA decryption failed: ciphertext is not for this operator key or is corrupted")]
    Decrypt,
    /// The decrypted share is not `"0x"` followed by 64 hex digits.
    #[error("decrypted share is not \"0x\" + 64 hex digits")]
    ShareFormat,
}

/// An operator's RSA-2048 public key.
///
/// Holds the PKIX `SubjectPublicKeyInfo` DER (canonical, as aws-lc re-marshals it) plus
/// parsed forms for verification and encryption. Equality and ordering are over the DER, so
/// it can key a `BTreeMap`.
#[derive(Clone)]
pub struct OperatorPublicKey {
    spki_der: Vec<u8>,
    verifying: ParsedPublicKey,
    encrypting: PublicEncryptingKey,
}

impl OperatorPublicKey {
    /// Parses PKIX `SubjectPublicKeyInfo` DER of an RSA-2048 key.
    ///
    /// # Errors
    /// [`RsaError::KeyRejected`] when the DER is not an SPKI RSA key (a bare PKCS#1
    /// `RSAPublicKey` is refused, as Go's `x509.ParsePKIXPublicKey` refuses it),
    /// [`RsaError::KeySize`] when it is not 2048 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, RsaError> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| RsaError::KeyRejected {
            kind: "public key",
            reason: e.to_string(),
        };
        let encrypting = PublicEncryptingKey::from_der(der).map_err(rejected)?;
        let bits = encrypting.key_size_bits();
        if bits != RSA_MODULUS_BITS {
            return Err(RsaError::KeySize { bits });
        }
        let spki_der = encrypting
            .as_der()
            .map_err(|_| RsaError::KeyRejected {
                kind: "public key",
                reason: "cannot re-encode".into(),
            })?
            .as_ref()
            .to_vec();
        let verifying =
            ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &spki_der).map_err(rejected)?;
        Ok(Self { spki_der, verifying, encrypting })
    }

    /// Parses the spec's PEM form: label `RSA PUBLIC KEY` (or `PUBLIC KEY`), body PKIX DER.
    /// Line width and surrounding whitespace are not checked, as in Go's `pem.Decode`.
    ///
    /// # Errors
    /// [`RsaError::Pem`], [`RsaError::PemLabel`], or those of [`Self::from_spki_der`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, RsaError> {
        let block = pem_decode(pem)?;
        if block.label != PUBLIC_KEY_PEM_LABEL && block.label != SPKI_PEM_LABEL {
            return Err(RsaError::PemLabel {
                found: block.label,
                expected: "RSA PUBLIC KEY or PUBLIC KEY",
            });
        }
        Self::from_spki_der(&block.der)
    }

    /// Parses base64 of the PEM, the form used on chain (`OperatorAdded.publicKey`) and in
    /// keyshares files (`operatorKey`). Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`RsaError::Base64`], or those of [`Self::from_pem`].
    pub fn from_base64_pem(text: &str) -> Result<Self, RsaError> {
        let pem = BASE64.decode(text.trim()).map_err(|_| RsaError::Base64)?;
        Self::from_pem(&pem)
    }

    /// The PKIX `SubjectPublicKeyInfo` DER (294 bytes for RSA-2048 with e = 65537).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The PEM as Go's `pem.EncodeToMemory` writes it: label `RSA PUBLIC KEY`, 64-character
    /// base64 lines, trailing newline (459 bytes for RSA-2048 with e = 65537). This is the
    /// spec's `SSVOperatorPubKey`.
    pub fn to_pem(&self) -> String {
        pem_encode(PUBLIC_KEY_PEM_LABEL, &self.spki_der)
    }

    /// Base64 (standard, padded) of [`Self::to_pem`]: the on-chain and keyshares form.
    pub fn to_base64_pem(&self) -> String {
        BASE64.encode(self.to_pem())
    }

    /// Verifies an operator signature: RSASSA-PKCS1-v1_5 with SHA-256 over `message` (the
    /// SSZ bytes of an SSVMessage for wire messages).
    ///
    /// # Errors
    /// [`RsaError::SignatureLength`] unless `signature` is 256 bytes,
    /// [`RsaError::BadSignature`] when it does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), RsaError> {
        if signature.len() != RSA_MODULUS_BYTES {
            return Err(RsaError::SignatureLength { len: signature.len() });
        }
        self.verifying.verify_sig(message, signature).map_err(|_| RsaError::BadSignature)
    }

    /// Encrypts `plaintext` (at most 245 bytes) to this operator with RSAES-PKCS1-v1_5.
    ///
    /// Not deterministic: aws-lc draws the padding from its own RNG. For the shell and tools
    /// (creating keyshares, tests) only; nodes only decrypt.
    ///
    /// # Errors
    /// [`RsaError::PlaintextTooLong`], or [`RsaError::Encrypt`] if aws-lc fails.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<ShareCiphertext, RsaError> {
        if plaintext.len() > RSA_MAX_PLAINTEXT_BYTES {
            return Err(RsaError::PlaintextTooLong { len: plaintext.len() });
        }
        let key = Pkcs1PublicEncryptingKey::new(self.encrypting.clone())
            .map_err(|_| RsaError::Encrypt)?;
        let mut out = [0u8; RSA_MODULUS_BYTES];
        let written = key.encrypt(plaintext, &mut out).map_err(|_| RsaError::Encrypt)?.len();
        if written != RSA_MODULUS_BYTES {
            return Err(RsaError::Encrypt);
        }
        Ok(out)
    }

    /// Encrypts a 32-byte share secret as ssv-keys does: the plaintext is the ASCII string
    /// `"0x" + 64 lowercase hex digits`. Not deterministic (see [`Self::encrypt`]).
    ///
    /// # Errors
    /// As [`Self::encrypt`].
    pub fn encrypt_share(&self, share_secret: &[u8; 32]) -> Result<ShareCiphertext, RsaError> {
        let text = Zeroizing::new(format!("0x{}", hex::encode(share_secret)));
        self.encrypt(text.as_bytes())
    }
}

impl fmt::Debug for OperatorPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OperatorPublicKey").field(&hex::encode(&self.spki_der)).finish()
    }
}

impl PartialEq for OperatorPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for OperatorPublicKey {}

impl PartialOrd for OperatorPublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OperatorPublicKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.spki_der.cmp(&other.spki_der)
    }
}

/// An operator's RSA-2048 private key: signs SSV messages and decrypts its shares.
///
/// Debug output shows only the public key.
pub struct OperatorPrivateKey {
    signing: KeyPair,
    decrypting: PrivateDecryptingKey,
    pkcs1_der: Zeroizing<Vec<u8>>,
    public: OperatorPublicKey,
}

impl OperatorPrivateKey {
    /// Parses a PKCS#1 `RSAPrivateKey` DER or a PKCS#8 `PrivateKeyInfo` DER of an RSA-2048
    /// key.
    ///
    /// # Errors
    /// [`RsaError::KeyRejected`] when it is neither, [`RsaError::KeySize`] unless 2048 bits.
    pub fn from_der(der: &[u8]) -> Result<Self, RsaError> {
        let pair = match KeyPair::from_der(der) {
            Ok(pair) => pair,
            Err(pkcs1_err) => KeyPair::from_pkcs8(der).map_err(|_| RsaError::KeyRejected {
                kind: "private key",
                reason: format!("neither PKCS#1 nor PKCS#8: {pkcs1_err}"),
            })?,
        };
        Self::from_key_pair(pair)
    }

    fn from_key_pair(signing: KeyPair) -> Result<Self, RsaError> {
        let bits = signing.public_modulus_len().saturating_mul(8);
        if bits != RSA_MODULUS_BITS {
            return Err(RsaError::KeySize { bits });
        }
        let internal = |reason: &str| RsaError::KeyRejected {
            kind: "private key",
            reason: reason.to_string(),
        };
        let pkcs8 = signing.as_der().map_err(|_| internal("cannot encode as PKCS#8"))?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| internal(&e.to_string()))?;
        let pkcs1_der = Zeroizing::new(
            pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or_else(|| internal("unexpected PKCS#8 shape"))?,
        );
        let spki =
            signing.public_key().as_der().map_err(|_| internal("cannot encode the public key"))?;
        let public = OperatorPublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self { signing, decrypting, pkcs1_der, public })
    }

    /// Parses a PEM: `RSA PRIVATE KEY` (PKCS#1, what the node and the spec use) or
    /// `PRIVATE KEY` (PKCS#8). Encrypted PEMs (with headers) are refused.
    ///
    /// # Errors
    /// [`RsaError::Pem`], [`RsaError::PemLabel`], or those of [`Self::from_der`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, RsaError> {
        let block = pem_decode(pem)?;
        if block.label != PRIVATE_KEY_PEM_LABEL && block.label != PKCS8_PEM_LABEL {
            return Err(RsaError::PemLabel {
                found: block.label,
                expected: "RSA PRIVATE KEY or PRIVATE KEY",
            });
        }
        Self::from_der(&block.der)
    }

    /// Parses base64 of the PEM: the node config's `OperatorPrivateKey` form.
    ///
    /// # Errors
    /// [`RsaError::Base64`], or those of [`Self::from_pem`].
    pub fn from_base64_pem(text: &str) -> Result<Self, RsaError> {
        let pem = Zeroizing::new(BASE64.decode(text.trim()).map_err(|_| RsaError::Base64)?);
        Self::from_pem(&pem)
    }

    /// Generates a fresh RSA-2048 key (for `ssv-node keygen` and tests).
    ///
    /// Not deterministic: aws-lc draws from its own RNG. Shell and tools only, never a state
    /// machine.
    ///
    /// # Errors
    /// [`RsaError::KeyRejected`] if aws-lc fails to generate.
    pub fn generate() -> Result<Self, RsaError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| RsaError::KeyRejected {
            kind: "private key",
            reason: "generation failed".into(),
        })?;
        Self::from_key_pair(pair)
    }

    /// The public key.
    pub fn public_key(&self) -> &OperatorPublicKey {
        &self.public
    }

    /// PKCS#1 `RSAPrivateKey` DER (as Go's `x509.MarshalPKCS1PrivateKey`).
    pub fn pkcs1_der(&self) -> &[u8] {
        &self.pkcs1_der
    }

    /// PKCS#1 PEM (`RSA PRIVATE KEY`, 64-character lines, trailing newline), as Go's
    /// `PrivateKeyToPem`.
    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem_encode(PRIVATE_KEY_PEM_LABEL, &self.pkcs1_der))
    }

    /// Base64 of [`Self::to_pem`]: the node config form.
    pub fn to_base64_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.to_pem().as_bytes()))
    }

    /// Signs `message` (the SSZ bytes of an SSVMessage) with RSASSA-PKCS1-v1_5 and SHA-256,
    /// as `types.SignSSVMessage`. Deterministic: the same key and message give the same
    /// 256 bytes.
    ///
    /// # Errors
    /// [`RsaError::Sign`] only if aws-lc fails internally (not expected for a parsed key).
    pub fn sign(&self, message: &[u8]) -> Result<OperatorSignature, RsaError> {
        // Signing the digest avoids aws-lc-rs's (ignored) RNG argument of `KeyPair::sign`.
        let digest = digest::digest(&digest::SHA256, message);
        let mut signature = [0u8; RSA_MODULUS_BYTES];
        self.signing
            .sign_digest(&RSA_PKCS1_SHA256, &digest, &mut signature)
            .map_err(|_| RsaError::Sign)?;
        Ok(signature)
    }

    /// Decrypts an RSAES-PKCS1-v1_5 ciphertext (256 bytes) made for this operator.
    ///
    /// # Errors
    /// [`RsaError::Decrypt`] when the ciphertext is not 256 bytes, was made for another key,
    /// or its padding is invalid.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, RsaError> {
        if ciphertext.len() != RSA_MODULUS_BYTES {
            return Err(RsaError::Decrypt);
        }
        let key = Pkcs1PrivateDecryptingKey::new(self.decrypting.clone())
            .map_err(|_| RsaError::Decrypt)?;
        let mut out = Zeroizing::new(vec![0u8; RSA_MODULUS_BYTES]);
        let len = key.decrypt(ciphertext, &mut out).map_err(|_| RsaError::Decrypt)?.len();
        out.truncate(len);
        Ok(out)
    }

    /// Decrypts this operator's encrypted share (from a keyshares file or a `ValidatorAdded`
    /// event) and parses the plaintext `"0x" + 64 hex digits` (either case; the `0x` is
    /// optional, as herumi's `SetHexString` does not need it) into the 32-byte big-endian
    /// share secret. Whether it is a valid BLS scalar is the caller's check.
    ///
    /// # Errors
    /// [`RsaError::Decrypt`] as [`Self::decrypt`], [`RsaError::ShareFormat`] when the
    /// plaintext is not of that form.
    pub fn decrypt_share(&self, ciphertext: &[u8]) -> Result<Zeroizing<[u8; 32]>, RsaError> {
        let plain = self.decrypt(ciphertext)?;
        let digits = plain.strip_prefix(b"0x").unwrap_or(&plain);
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, &mut secret[..]).map_err(|_| RsaError::ShareFormat)?;
        Ok(secret)
    }
}

impl fmt::Debug for OperatorPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorPrivateKey").field("public", &self.public).finish_non_exhaustive()
    }
}

/// A decoded PEM block.
struct PemBlock {
    label: String,
    der: Zeroizing<Vec<u8>>,
}

/// Decodes the first PEM block in `input`, as Go's `pem.Decode`: text before `-----BEGIN`
/// is skipped, the body's whitespace is ignored. Blocks with headers (encrypted PEM) are
/// refused, and the END label must match the BEGIN label.
fn pem_decode(input: &[u8]) -> Result<PemBlock, RsaError> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let text = core::str::from_utf8(input).map_err(|_| RsaError::Pem("not UTF-8 text"))?;
    let start = text.find(BEGIN).ok_or(RsaError::Pem("no -----BEGIN line"))?;
    let after_begin = text.get(start.saturating_add(BEGIN.len())..).unwrap_or_default();
    let label_end = after_begin.find(DASHES).ok_or(RsaError::Pem("unterminated BEGIN line"))?;
    let label = after_begin.get(..label_end).unwrap_or_default();
    if label.contains('\n') {
        return Err(RsaError::Pem("unterminated BEGIN line"));
    }
    let body_and_rest =
        after_begin.get(label_end.saturating_add(DASHES.len())..).unwrap_or_default();
    let end_marker = format!("-----END {label}-----");
    let body_end =
        body_and_rest.find(&end_marker).ok_or(RsaError::Pem("no matching -----END line"))?;
    let body = body_and_rest.get(..body_end).unwrap_or_default();
    if body.contains(':') {
        return Err(RsaError::Pem("PEM headers (encrypted PEM) are not supported"));
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let der = Zeroizing::new(BASE64.decode(compact.as_bytes()).map_err(|_| RsaError::Base64)?);
    Ok(PemBlock { label: label.to_string(), der })
}

/// Encodes a PEM block byte-exactly as Go's `pem.EncodeToMemory` with no headers.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = Zeroizing::new(BASE64.encode(der));
    let mut out =
        String::with_capacity(body.len().saturating_add(body.len() / 64).saturating_add(64));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(core::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Reads one DER TLV at the start of `input`: returns (tag, contents, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (len_bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        let len = len_bytes.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256).and_then(|v| v.checked_add(usize::from(b)))
        })?;
        (len, rest)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// Extracts the PKCS#1 `RSAPrivateKey` from a PKCS#8 `PrivateKeyInfo`
/// (`SEQUENCE { INTEGER version, AlgorithmIdentifier, OCTET STRING privateKey, … }`).
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<Vec<u8>> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (tag, info, _) = der_tlv(pkcs8)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, _version, rest) = der_tlv(info)?;
    if tag != INTEGER {
        return None;
    }
    let (tag, _algorithm, rest) = der_tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, key, _) = der_tlv(rest)?;
    (tag == OCTET_STRING).then(|| key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_matches_go_line_layout() {
        let der: Vec<u8> = (0u8..100).collect();
        let pem = pem_encode("TEST", &der);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN TEST-----"));
        assert_eq!(lines.last(), Some(&"-----END TEST-----"));
        assert!(pem.ends_with("-----\n"));
        // 100 bytes -> 136 base64 chars -> lines of 64, 64, 8.
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), vec![20, 64, 64, 8, 18]);
        let back = pem_decode(pem.as_bytes()).unwrap();
        assert_eq!(back.label, "TEST");
        assert_eq!(&back.der[..], &der[..]);
    }

    #[test]
    fn pem_decode_refuses_garbage() {
        assert!(pem_decode(b"hello").is_err());
        assert!(pem_decode(b"-----BEGIN X-----\nAAAA\n-----END Y-----\n").is_err());
        assert!(
            pem_decode(b"-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END X-----\n")
                .is_err()
        );
        assert!(pem_decode(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
    }

    #[test]
    fn generated_key_round_trips_sign_verify_encrypt_decrypt() {
        let sk = OperatorPrivateKey::generate().unwrap();
        let pk = sk.public_key();
        assert_eq!(pk.to_pem().len(), 459);
        assert_eq!(pk.spki_der().len(), 294);

        let sig = sk.sign(b"message").unwrap();
        assert_eq!(sig, sk.sign(b"message").unwrap(), "PKCS#1 v1.5 signing is deterministic");
        pk.verify(b"message", &sig).unwrap();
        assert_eq!(pk.verify(b"other", &sig), Err(RsaError::BadSignature));
        assert_eq!(pk.verify(b"message", &sig[..255]), Err(RsaError::SignatureLength { len: 255 }));

        let share = [0xabu8; 32];
        let ct = pk.encrypt_share(&share).unwrap();
        assert_eq!(*sk.decrypt_share(&ct).unwrap(), share);
        assert_eq!(&sk.decrypt(&ct).unwrap()[..], format!("0x{}", "ab".repeat(32)).as_bytes());

        // Round trips through every text form.
        let again = OperatorPrivateKey::from_base64_pem(&sk.to_base64_pem()).unwrap();
        assert_eq!(again.public_key(), pk);
        assert_eq!(again.pkcs1_der(), sk.pkcs1_der());
        let pk2 = OperatorPublicKey::from_base64_pem(&pk.to_base64_pem()).unwrap();
        assert_eq!(&pk2, pk);
        assert_eq!(OperatorPublicKey::from_pem(pk.to_pem().as_bytes()).unwrap(), pk2);

        // Another key can neither verify nor decrypt.
        let other = OperatorPrivateKey::generate().unwrap();
        assert_eq!(other.public_key().verify(b"message", &sig), Err(RsaError::BadSignature));
        assert_eq!(other.decrypt(&ct), Err(RsaError::Decrypt));
        assert_eq!(sk.decrypt(&ct[..100]), Err(RsaError::Decrypt));
        assert_eq!(pk.encrypt(&[0u8; 246]), Err(RsaError::PlaintextTooLong { len: 246 }));
    }

    #[test]
    fn share_plaintext_must_be_hex() {
        let sk = OperatorPrivateKey::generate().unwrap();
        let ct = sk.public_key().encrypt(b"0xnot-hex").unwrap();
        assert_eq!(sk.decrypt_share(&ct), Err(RsaError::ShareFormat));
        let ct = sk.public_key().encrypt(b"0x00").unwrap();
        assert_eq!(sk.decrypt_share(&ct), Err(RsaError::ShareFormat));
    }

    #[test]
    fn public_key_refuses_private_label_and_pkcs1_body() {
        let sk = OperatorPrivateKey::generate().unwrap();
        assert!(matches!(
            OperatorPublicKey::from_pem(sk.to_pem().as_bytes()),
            Err(RsaError::PemLabel { .. })
        ));
        // A bare PKCS#1 RSAPublicKey body is not PKIX.
        let pkcs1_pub = sk.signing.public_key().as_ref().to_vec();
        let pem = pem_encode(PUBLIC_KEY_PEM_LABEL, &pkcs1_pub);
        assert!(matches!(
            OperatorPublicKey::from_pem(pem.as_bytes()),
            Err(RsaError::KeyRejected { .. })
        ));
    }
}
