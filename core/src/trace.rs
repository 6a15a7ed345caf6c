//! The trace format: every input a node gives its cores, recorded so that a real node's
//! life (or a simulated one's) can be re-run and shown to produce the same outputs
//! (`ssv-sim replay`). This module defines the format, encodes and decodes it, and digests
//! outputs; it does no IO. The shell writes node traces (`--trace-dir`), the simulator
//! writes the same records for its simulated nodes.
//!
//! # Byte layout (format version 5)
//! Integers are little-endian; bodies are [postcard](https://docs.rs/postcard) (serde).
//!
//! ```text
//! magic    8 bytes   "SSVTRACE"
//! version  u16       TRACE_FORMAT_VERSION (5; TRACE_FORMAT_MIN_VERSION and up are read)
//! frame    header:   postcard(TraceHeader)
//! frame    …         records, until the end of the file
//!
//! frame  = len: u32 | body: len bytes | check: first 4 bytes of SHA-256(body)
//! ```
//!
//! A frame's body is at most [`FRAME_MAX`] bytes. In a node trace every frame after the
//! header is a `postcard(`[`TraceRecord`]`)`; a simulator trace carries its world-level
//! events in frames of its own around the same records (see the simulator's `trace`
//! module) and puts its seed and options in [`TraceHeader::simulator`].
//!
//! # What a record holds
//! One call `core.handle(now, input, out)`: the `now` (Unix ms), which core (a committee or
//! a validator), the [`Input`] exactly as handed over, the [`Answer`]s the core obtained
//! synchronously from its environment while handling it (operator RSA signatures, slashing
//! lookups, the duty context of a committee runner created for a new duty), and the
//! [`outputs_digest`] of the result and the outputs. Replay rebuilds the cores from the
//! header, answers from the record instead of the environment and compares digests.
//!
//! The header holds only public facts (operator public keys, shares without their secret,
//! the beacon network): never a secret key. BLS signing happens outside the core (a
//! [`Request::Sign`] answered by an [`Input::Response`]), so it is replayed from the
//! records; operator signatures are taken from the [`Answer`]s.
//!
//! [`Request::Sign`]: crate::runner::Request::Sign

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssz::Encode;

use crate::beacon::DataVersion;
use crate::crypto::signing::ForkVersion;
use crate::error::ErrorCode;
use crate::qbft::{self, UnixMillis};
use crate::runner::{BeaconNetwork, Input, Output, RunnerError};
use crate::types::{Epoch, OperatorId, Root, Share, Slot, ValidatorIndex};

/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"SSVTRACE";

/// The format version written and read by this build. Bumped on any incompatible change
/// to the layout, the header, the record, or the serde form of the core's input types.
/// (Version 1 was a JSON-lines format without output digests; version 4 added the
/// simulator header's `aggregation` option and its aggregator and contribution inputs;
/// version 5 the simulator's registration and exit options and inputs.)
pub const TRACE_FORMAT_VERSION: u16 = 5;

/// The oldest format version this build reads ([`TraceReader::version`] tells which one a
/// file has): versions 4 and 5 differ only in the simulator's section and inputs, which
/// the simulator decodes by version.
pub const TRACE_FORMAT_MIN_VERSION: u16 = 4;

/// Largest frame body, bytes (64 MiB): a larger length is corruption, not a record.
pub const FRAME_MAX: u32 = 64 << 20;

/// Why a trace could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// The file does not start with [`MAGIC`].
    #[error("not an SSV trace: bad magic {found:02x?} (expected \"SSVTRACE\")")]
    BadMagic {
        /// The first bytes found (up to 8).
        found: Vec<u8>,
    },
    /// The file is another format version.
    #[error(
        "trace format version {found}, this build reads versions {TRACE_FORMAT_MIN_VERSION} to {expected}"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// [`TRACE_FORMAT_VERSION`].
        expected: u16,
    },
    /// The file ends inside the preamble or a frame.
    #[error("truncated trace: frame {frame} needs {needed} bytes, {available} left")]
    Truncated {
        /// Frame number (0 = header, 1 = first record; the preamble is frame 0 too).
        frame: u64,
        /// Bytes the frame needs.
        needed: u64,
        /// Bytes the file has left.
        available: u64,
    },
    /// A frame length over [`FRAME_MAX`].
    #[error("frame {frame}: length {len} exceeds the {FRAME_MAX}-byte limit (corrupt length)")]
    FrameTooLarge {
        /// Frame number.
        frame: u64,
        /// The length read.
        len: u32,
    },
    /// A frame's check bytes do not match its body.
    #[error("frame {frame}: checksum mismatch (the frame is corrupt)")]
    Checksum {
        /// Frame number.
        frame: u64,
    },
    /// A frame body does not decode.
    #[error("frame {frame}: undecodable body: {reason}")]
    Decode {
        /// Frame number.
        frame: u64,
        /// The decoder's message.
        reason: String,
    },
    /// Records out of order (each record's `seq` is the previous one's plus one).
    #[error("frame {frame}: record seq {found} where {expected} was expected")]
    Sequence {
        /// Frame number.
        frame: u64,
        /// The seq found.
        found: u64,
        /// The seq expected.
        expected: u64,
    },
    /// A value could not be encoded.
    #[error("cannot encode trace frame: {0}")]
    Encode(String),
}

/// The beacon network facts a replay needs (the fields of [`BeaconNetwork`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFacts {
    /// Slots per epoch.
    pub slots_per_epoch: u64,
    /// Slot duration, ms.
    pub slot_ms: u64,
    /// Genesis time, Unix ms.
    pub genesis_ms: UnixMillis,
    /// The genesis validators root.
    pub genesis_validators_root: Root,
    /// `(first epoch, fork version)` ascending.
    pub fork_versions: Vec<(Epoch, ForkVersion)>,
    /// `(first epoch, go-eth2-client data version number)` ascending.
    pub data_versions: Vec<(Epoch, u64)>,
    /// Sync-committee positions per subnet.
    pub sync_subcommittee_size: u64,
}

impl From<&BeaconNetwork> for NetworkFacts {
    fn from(n: &BeaconNetwork) -> Self {
        NetworkFacts {
            slots_per_epoch: n.slots_per_epoch,
            slot_ms: n.slot_ms,
            genesis_ms: n.genesis_ms,
            genesis_validators_root: n.genesis_validators_root,
            fork_versions: n.fork_versions.clone(),
            data_versions: n.data_versions.iter().map(|(e, v)| (*e, v.as_u64())).collect(),
            sync_subcommittee_size: n.sync_subcommittee_size,
        }
    }
}

impl NetworkFacts {
    /// The beacon network these facts describe (unknown data version numbers map to
    /// [`DataVersion::Unknown`]).
    pub fn to_network(&self) -> BeaconNetwork {
        BeaconNetwork {
            slots_per_epoch: self.slots_per_epoch,
            slot_ms: self.slot_ms,
            genesis_ms: self.genesis_ms,
            genesis_validators_root: self.genesis_validators_root,
            fork_versions: self.fork_versions.clone(),
            data_versions: self
                .data_versions
                .iter()
                .map(|(e, v)| (*e, DataVersion::from_u64(*v).unwrap_or(DataVersion::Unknown)))
                .collect(),
            sync_subcommittee_size: self.sync_subcommittee_size,
        }
    }
}

/// One committee the node is a member of, and the shares it runs in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeFacts {
    /// The committee's operator ids, ascending.
    pub operators: Vec<OperatorId>,
    /// The shares (public: the share secret is never recorded).
    #[serde(with = "ssz_list")]
    pub shares: Vec<Share>,
}

/// Everything a replay needs to rebuild a node's cores. Public facts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// The recording node's operator id.
    pub operator_id: OperatorId,
    /// Network name (`mainnet`, `hoodi`, `devnet`, `simulator`, …).
    pub network: String,
    /// The SSV domain type.
    pub domain_type: [u8; 4],
    /// The writer's version (`ssv-node 0.1.0`).
    pub node_version: String,
    /// The beacon network.
    pub beacon: NetworkFacts,
    /// Every operator of the node's committees: id and RSA public key (PEM bytes).
    pub operators: Vec<qbft::Operator>,
    /// The node's committees and shares.
    pub committees: Vec<CommitteeFacts>,
    /// A simulator trace's world section (postcard, the simulator's own type); `None` in a
    /// node trace.
    pub simulator: Option<Vec<u8>>,
}

/// Which of a node's cores handled an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CoreRef {
    /// The committee (`ssv_core::runner::Committee`) with this committee id.
    Committee([u8; 32]),
    /// The validator router (`ssv_core::runner::Validator`) of this validator.
    Validator(ValidatorIndex),
}

/// A slashing lookup that refused (the value check's error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The spec code, if any.
    pub code: Option<ErrorCode>,
    /// The reason.
    pub reason: String,
}

/// Something the core obtained synchronously from its environment while handling one
/// input, in the order it asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// The operator's RSA signature over a message the core emitted.
    OperatorSignature(Vec<u8>),
    /// A slashing-protection lookup (`SlashingProtection`): `None` = safe.
    Protection(Option<Refusal>),
    /// The duty context a committee runner was created with for a new duty: the slot and
    /// the source and target epochs the beacon vote must carry.
    DutyContext {
        /// The duty's slot.
        slot: Slot,
        /// Expected source epoch.
        expected_source: Epoch,
        /// Expected target epoch.
        expected_target: Epoch,
    },
}

/// One input handed to a core, with what it produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Sequence number in the node's life (0 at start; files of a rotated trace continue
    /// the count).
    pub seq: u64,
    /// The `now` passed with the input, Unix ms.
    pub now_unix_millis: UnixMillis,
    /// The core.
    pub core: CoreRef,
    /// The input, exactly as handed to `handle`.
    pub input: Input,
    /// What the core asked its environment while handling it.
    pub answers: Vec<Answer>,
    /// [`outputs_digest`] of the result and outputs.
    pub outputs: [u8; 32],
}

/// A short name of an input's kind (`start-duty`, `message`, `timeout`, `response`), for
/// reports.
pub fn input_kind(input: &Input) -> &'static str {
    match input {
        Input::StartDuty(_) => "start-duty",
        Input::Message(_) => "message",
        Input::Timeout => "timeout",
        Input::Response { .. } => "response",
    }
}

/// SHA-256 over a canonical encoding of `handle`'s result and outputs: what replay
/// compares. Each output is a tag byte and its fields (messages as SSZ, beacon submissions
/// as their `hash_tree_root`, requests as postcard); a rejected input contributes its
/// error's text.
pub fn outputs_digest(result: &Result<(), RunnerError>, outputs: &[Output]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut part = |tag: u8, bytes: &[u8]| {
        h.update([tag]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    match result {
        Ok(()) => part(b'K', &[]),
        Err(e) => part(b'E', e.to_string().as_bytes()),
    }
    for o in outputs {
        match o {
            Output::Qbft(qbft::Output::Broadcast(m)) => part(b'q', &m.as_ssz_bytes()),
            Output::Qbft(qbft::Output::TimerSet { height, round, deadline }) => {
                let mut b = Vec::with_capacity(24);
                b.extend_from_slice(&height.to_le_bytes());
                b.extend_from_slice(&round.to_le_bytes());
                b.extend_from_slice(&deadline.to_le_bytes());
                part(b't', &b);
            }
            Output::Qbft(qbft::Output::Decided(d)) => {
                let mut b = Vec::new();
                b.extend_from_slice(&d.height.to_le_bytes());
                b.extend_from_slice(&d.round.to_le_bytes());
                part(b'd', &b);
                part(b'v', &d.value);
                part(b'a', &d.aggregated_commit.as_ssz_bytes());
            }
            Output::Broadcast(m) => part(b'b', &m.as_ssz_bytes()),
            Output::Request { id, request } => {
                part(b'r', &id.to_le_bytes());
                // A request that does not encode still differs from one that does.
                part(b'R', &postcard::to_allocvec(request).unwrap_or_default());
            }
            Output::Submit(s) => part(b's', &s.root()),
        }
    }
    h.finalize().into()
}

fn check(body: &[u8]) -> [u8; 4] {
    let d = Sha256::digest(body);
    let mut c = [0; 4];
    c.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    c
}

/// Appends one frame (length, body, check) holding `postcard(value)` to `out`.
///
/// # Errors
/// [`TraceError::Encode`] when `value` does not serialize or exceeds [`FRAME_MAX`].
pub fn encode_frame<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), TraceError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut buf = postcard::to_extend(value, std::mem::take(out))
        .map_err(|e| TraceError::Encode(e.to_string()))?;
    let body_len = buf.len().saturating_sub(start).saturating_sub(4);
    let len = u32::try_from(body_len)
        .ok()
        .filter(|l| *l <= FRAME_MAX)
        .ok_or_else(|| TraceError::Encode(format!("frame of {body_len} bytes")))?;
    if let Some(slot) = buf.get_mut(start..start.saturating_add(4)) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
    let c = check(buf.get(start.saturating_add(4)..).unwrap_or_default());
    buf.extend_from_slice(&c);
    *out = buf;
    Ok(())
}

/// The start of a trace file: magic, version and the header frame.
///
/// # Errors
/// [`TraceError::Encode`].
pub fn encode_preamble(header: &TraceHeader) -> Result<Vec<u8>, TraceError> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&TRACE_FORMAT_VERSION.to_le_bytes());
    encode_frame(header, &mut out)?;
    Ok(out)
}

/// Reads a trace file's frames in order: [`TraceReader::new`] checks the preamble and
/// decodes the header, then [`TraceReader::next_frame`] yields each body.
#[derive(Debug)]
pub struct TraceReader<'a> {
    rest: &'a [u8],
    frame: u64,
    header: TraceHeader,
    version: u16,
}

impl<'a> TraceReader<'a> {
    /// Checks magic and version and decodes the header.
    ///
    /// # Errors
    /// [`TraceError::BadMagic`], [`TraceError::UnsupportedVersion`], or a header frame
    /// that is truncated, corrupt or undecodable.
    pub fn new(bytes: &'a [u8]) -> Result<Self, TraceError> {
        let Some(rest) = bytes.strip_prefix(&MAGIC) else {
            return Err(TraceError::BadMagic { found: bytes.iter().take(8).copied().collect() });
        };
        let (Some(version), Some(rest)) = (rest.get(..2), rest.get(2..)) else {
            return Err(TraceError::Truncated {
                frame: 0,
                needed: 2,
                available: rest.len() as u64,
            });
        };
        let found = u16::from_le_bytes([
            version.first().copied().unwrap_or(0),
            version.get(1).copied().unwrap_or(0),
        ]);
        if !(TRACE_FORMAT_MIN_VERSION..=TRACE_FORMAT_VERSION).contains(&found) {
            return Err(TraceError::UnsupportedVersion { found, expected: TRACE_FORMAT_VERSION });
        }
        let mut reader = TraceReader { rest, frame: 0, header: empty_header(), version: found };
        let body = reader.next_frame()?.ok_or(TraceError::Truncated {
            frame: 0,
            needed: 4,
            available: 0,
        })?;
        reader.header = decode(0, body)?;
        Ok(reader)
    }

    /// The header.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The file's format version ([`TRACE_FORMAT_MIN_VERSION`] to
    /// [`TRACE_FORMAT_VERSION`]).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The number of the frame [`TraceReader::next_frame`] returns next (1 = first record).
    pub fn frame_number(&self) -> u64 {
        self.frame
    }

    /// The next frame's body, `None` at the end of the file.
    ///
    /// # Errors
    /// [`TraceError::Truncated`], [`TraceError::FrameTooLarge`], [`TraceError::Checksum`].
    pub fn next_frame(&mut self) -> Result<Option<&'a [u8]>, TraceError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let frame = self.frame;
        let available = self.rest.len() as u64;
        let truncated = |needed: u64| TraceError::Truncated { frame, needed, available };
        let len_bytes: [u8; 4] =
            self.rest.get(..4).and_then(|b| b.try_into().ok()).ok_or(truncated(4))?;
        let len = u32::from_le_bytes(len_bytes);
        if len > FRAME_MAX {
            return Err(TraceError::FrameTooLarge { frame, len });
        }
        let total = (len as usize).saturating_add(8);
        let chunk = self.rest.get(..total).ok_or(truncated(total as u64))?;
        let body = chunk.get(4..total.saturating_sub(4)).unwrap_or_default();
        let c = chunk.get(total.saturating_sub(4)..).unwrap_or_default();
        if c != check(body) {
            return Err(TraceError::Checksum { frame });
        }
        self.rest = self.rest.get(total..).unwrap_or_default();
        self.frame = self.frame.saturating_add(1);
        Ok(Some(body))
    }

    /// The next frame decoded as `T`, `None` at the end.
    ///
    /// # Errors
    /// As [`TraceReader::next_frame`], and [`TraceError::Decode`].
    pub fn next_as<T: DeserializeOwned>(&mut self) -> Result<Option<T>, TraceError> {
        let frame = self.frame;
        self.next_frame()?.map(|b| decode(frame, b)).transpose()
    }
}

fn decode<T: DeserializeOwned>(frame: u64, body: &[u8]) -> Result<T, TraceError> {
    postcard::from_bytes(body).map_err(|e| TraceError::Decode { frame, reason: e.to_string() })
}

fn empty_header() -> TraceHeader {
    TraceHeader {
        operator_id: 0,
        network: String::new(),
        domain_type: [0; 4],
        node_version: String::new(),
        beacon: NetworkFacts {
            slots_per_epoch: 0,
            slot_ms: 0,
            genesis_ms: 0,
            genesis_validators_root: [0; 32],
            fork_versions: Vec::new(),
            data_versions: Vec::new(),
            sync_subcommittee_size: 0,
        },
        operators: Vec::new(),
        committees: Vec::new(),
        simulator: None,
    }
}

/// Reads a whole node trace: the header and every record, checking that `seq` counts up
/// by one from the first record.
///
/// # Errors
/// Any [`TraceError`].
pub fn read_node_trace(bytes: &[u8]) -> Result<(TraceHeader, Vec<TraceRecord>), TraceError> {
    let mut reader = TraceReader::new(bytes)?;
    let mut records: Vec<TraceRecord> = Vec::new();
    loop {
        let frame = reader.frame_number();
        let Some(r) = reader.next_as::<TraceRecord>()? else { break };
        if let Some(prev) = records.last() {
            let expected = prev.seq.saturating_add(1);
            if r.seq != expected {
                return Err(TraceError::Sequence { frame, found: r.seq, expected });
            }
        }
        records.push(r);
    }
    Ok((reader.header, records))
}

/// Serde for an SSZ type as its SSZ bytes (`#[serde(with = "ssz_bytes")]`): compact in
/// postcard, and the wire form the spec defines.
pub mod ssz_bytes {
    use serde::de::Error as _;
    use serde::{Deserializer, Serializer};

    /// Writes `value`'s SSZ bytes.
    ///
    /// # Errors
    /// Only the serializer's.
    pub fn serialize<T: ssz::Encode, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&value.as_ssz_bytes())
    }

    /// Reads SSZ bytes.
    ///
    /// # Errors
    /// Bytes that are not a valid SSZ encoding of `T`.
    pub fn deserialize<'de, T: ssz::Decode, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let bytes: serde_bytes_buf::Buf = serde::Deserialize::deserialize(d)?;
        T::from_ssz_bytes(&bytes.0).map_err(|e| D::Error::custom(format!("ssz: {e:?}")))
    }

    pub(crate) mod serde_bytes_buf {
        use serde::de::{SeqAccess, Visitor};

        /// A byte buffer read from serde bytes (or a sequence of u8).
        pub(crate) struct Buf(pub(crate) Vec<u8>);

        struct V;

        impl<'de> Visitor<'de> for V {
            type Value = Buf;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                Ok(Buf(v.to_vec()))
            }

            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                Ok(Buf(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Buf(out))
            }
        }

        impl<'de> serde::Deserialize<'de> for Buf {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_bytes(V)
            }
        }
    }
}

/// Serde for a list of SSZ values, each as its SSZ bytes.
pub mod ssz_list {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ssz_bytes::serde_bytes_buf::Buf;

    /// Writes each value's SSZ bytes.
    ///
    /// # Errors
    /// Only the serializer's.
    pub fn serialize<T: ssz::Encode, S: Serializer>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&Bytes(&v.as_ssz_bytes()))?;
        }
        seq.end()
    }

    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    /// Reads a list of SSZ encodings.
    ///
    /// # Errors
    /// An element that is not a valid SSZ encoding of `T`.
    pub fn deserialize<'de, T: ssz::Decode, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        let raw: Vec<Buf> = Vec::deserialize(d)?;
        raw.into_iter()
            .map(|b| {
                T::from_ssz_bytes(&b.0).map_err(|e| serde::de::Error::custom(format!("ssz: {e:?}")))
            })
            .collect()
    }
}

/// Serde for a fixed byte array of any length (`[u8; 48]`, `[u8; 96]`) as bytes.
pub mod byte_array {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ssz_bytes::serde_bytes_buf::Buf;

    /// Writes the bytes.
    ///
    /// # Errors
    /// Only the serializer's.
    pub fn serialize<const N: usize, S: Serializer>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Reads exactly `N` bytes.
    ///
    /// # Errors
    /// Another length.
    pub fn deserialize<'de, const N: usize, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let b = Buf::deserialize(d)?;
        let len = b.0.len();
        b.0.try_into().map_err(|_| D::Error::custom(format!("{len} bytes, expected {N}")))
    }
}

/// Serde for a list of fixed byte arrays (`Vec<[u8; 96]>`).
pub mod byte_array_list {
    use serde::de::Error as _;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ssz_bytes::serde_bytes_buf::Buf;

    /// Writes each array as bytes.
    ///
    /// # Errors
    /// Only the serializer's.
    pub fn serialize<const N: usize, S: Serializer>(
        v: &[[u8; N]],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for a in v {
            seq.serialize_element(&Bytes(a))?;
        }
        seq.end()
    }

    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    /// Reads arrays of exactly `N` bytes.
    ///
    /// # Errors
    /// An element of another length.
    pub fn deserialize<'de, const N: usize, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<[u8; N]>, D::Error> {
        let raw: Vec<Buf> = Vec::deserialize(d)?;
        raw.into_iter()
            .map(|b| {
                let len = b.0.len();
                b.0.try_into().map_err(|_| D::Error::custom(format!("{len} bytes, expected {N}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
