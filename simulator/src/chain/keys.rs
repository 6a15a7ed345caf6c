//! Deterministic validator keys for the simulated chain.
//!
//! Secret key `i` under seed `s` is `SHA-256("ssv-sim/validator-key" ‖ s_le64 ‖ i_le64 ‖
//! c_le32)` with the top two bits cleared, for the smallest counter `c` giving a non-zero
//! scalar. Clearing two bits makes the value below 2^254 < r (the BLS12-381 group order,
//! about 0x73ed…), so it is always a valid scalar; `c` only moves past 0 for the zero value,
//! which never happens in practice. These keys are for tests and devnets only.

use sha2::{Digest, Sha256};
use ssv_core::crypto::bls::SecretKey;

/// The domain string hashed in front of every derived key.
const KEY_DERIVATION_TAG: &[u8] = b"ssv-sim/validator-key";

/// The secret key of validator `index` under `seed` (see the module doc for the rule).
pub fn derive_secret_key(seed: u64, index: u64) -> SecretKey {
    let mut counter: u32 = 0;
    loop {
        let mut hasher = Sha256::new();
        hasher.update(KEY_DERIVATION_TAG);
        hasher.update(seed.to_le_bytes());
        hasher.update(index.to_le_bytes());
        hasher.update(counter.to_le_bytes());
        let mut bytes: [u8; 32] = hasher.finalize().into();
        bytes[0] &= 0x3f;
        if let Ok(key) = SecretKey::from_bytes(&bytes) {
            return key;
        }
        counter = counter.wrapping_add(1);
    }
}

/// Secret keys `0..count` under `seed`.
pub fn derive_secret_keys(seed: u64, count: u64) -> Vec<SecretKey> {
    (0..count).map(|i| derive_secret_key(seed, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = derive_secret_keys(7, 4);
        let b = derive_secret_keys(7, 4);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.public_key().to_bytes(), y.public_key().to_bytes());
        }
        assert_ne!(a[0].public_key().to_bytes(), a[1].public_key().to_bytes());
        assert_ne!(derive_secret_key(8, 0).public_key().to_bytes(), a[0].public_key().to_bytes());
    }
}
