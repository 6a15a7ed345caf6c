//! Serde helpers for the Beacon-API JSON format (also read by the consensus-spec YAML tests).
//!
//! Integers are written as decimal strings and read from a string or a number; byte
//! fields are `0x`-prefixed lowercase hex. Bitfields need nothing here: `ssz_types`
//! already writes them as the hex of their SSZ bytes.

use std::fmt;
use std::marker::PhantomData;

use alloy_primitives::U256;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};

/// Parses `0x`-prefixed hex into bytes.
fn decode_prefixed_hex<E: de::Error>(text: &str) -> Result<Vec<u8>, E> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| E::custom(format!("hex must start with 0x: {text:.20}")))?;
    hex::decode(digits).map_err(|err| E::custom(format!("invalid hex: {err}")))
}

/// `u64` as a decimal string (`"12"`); reads `"12"` or `12`.
pub mod quoted_u64 {
    use super::*;

    struct QuotedU64;

    impl Visitor<'_> for QuotedU64 {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a uint64 as a decimal string or a number")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("negative uint64: {v}")))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse().map_err(|_| E::custom(format!("invalid uint64: {v:.30}")))
        }
    }

    /// Writes `value` as a decimal string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// Reads a decimal string or a non-negative number.
    ///
    /// # Errors
    /// When the value is not a uint64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(QuotedU64)
    }
}

/// `uint256` (`alloy_primitives::U256`) as a decimal string; reads a string or a number.
pub mod quoted_u256 {
    use super::*;

    struct QuotedU256;

    impl Visitor<'_> for QuotedU256 {
        type Value = U256;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a uint256 as a decimal string")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
            Ok(U256::from(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
            U256::from_str_radix(v, 10).map_err(|_| E::custom(format!("invalid uint256: {v:.90}")))
        }
    }

    /// Writes `value` as a decimal string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    /// Reads a decimal string or a number.
    ///
    /// # Errors
    /// When the value is not a uint256.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        d.deserialize_any(QuotedU256)
    }
}

/// `[u8; N]` as `0x`-prefixed hex of exactly `N` bytes.
pub mod hex_array {
    use super::*;

    pub(super) struct HexArray<const N: usize>;

    impl<const N: usize> Visitor<'_> for HexArray<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "0x-prefixed hex of {N} bytes")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<[u8; N], E> {
            let bytes = decode_prefixed_hex::<E>(v)?;
            let len = bytes.len();
            bytes.try_into().map_err(|_| E::custom(format!("expected {N} bytes, got {len}")))
        }
    }

    /// Writes `bytes` as `0x`-prefixed hex.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    /// Reads `0x`-prefixed hex of exactly `N` bytes.
    ///
    /// # Errors
    /// When the prefix is missing, the hex is invalid or the length is not `N`.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        d.deserialize_str(HexArray::<N>)
    }
}

/// A list or vector of `[u8; N]` (`VariableList` or `FixedVector`) as a JSON array of hex.
pub mod hex_array_list {
    use super::*;

    struct Elem<const N: usize>([u8; N]);

    impl<'de, const N: usize> serde::Deserialize<'de> for Elem<N> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(hex_array::HexArray::<N>).map(Elem)
        }
    }

    struct Seq<C, const N: usize>(PhantomData<C>);

    impl<'de, C: ssz::TryFromIter<[u8; N]>, const N: usize> Visitor<'de> for Seq<C, N> {
        type Value = C;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of 0x-prefixed hex strings of {N} bytes")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<C, A::Error> {
            let mut items = Vec::new();
            while let Some(Elem(item)) = seq.next_element::<Elem<N>>()? {
                items.push(item);
            }
            C::try_from_iter(items).map_err(|err| de::Error::custom(format!("{err:?}")))
        }
    }

    /// Writes each item as `0x`-prefixed hex.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<'a, S, C, const N: usize>(list: &'a C, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        &'a C: IntoIterator<Item = &'a [u8; N]>,
    {
        let mut seq = s.serialize_seq(None)?;
        for item in list {
            seq.serialize_element(&format!("0x{}", hex::encode(item)))?;
        }
        seq.end()
    }

    /// Reads an array of hex strings of `N` bytes each.
    ///
    /// # Errors
    /// When an item is invalid or the count is outside the container's bound.
    pub fn deserialize<'de, D, C, const N: usize>(d: D) -> Result<C, D::Error>
    where
        D: Deserializer<'de>,
        C: ssz::TryFromIter<[u8; N]>,
    {
        d.deserialize_seq(Seq::<C, N>(PhantomData))
    }
}
