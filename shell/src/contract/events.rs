//! The eight SSVNetwork events an operator node follows, decoded from raw logs with their
//! exact ABI (notes 4.3; the node's `eth/contract/contract.abi`, identical for these events
//! in the mainnet v1.2.0 ABI).
//!
//! [`decode_log`] turns a log's topics and data into a [`ContractEvent`]. A log whose topic0
//! is not one of the eight is [`DecodedLog::Ignored`] (the contract emits many other
//! events); a log of one of the eight that does not decode is an [`EventDecodeError`], which
//! the caller counts and skips (a malformed event never stops the node).

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolEvent, SolType, SolValue, sol_data};

/// Solidity declarations of the SSVNetwork events and the devnet contract's functions.
///
/// The event declarations are the ABI the node decodes with; the test `contract_events`
/// checks each signature hash against the ABI files in `shared/vectors/ssv-network`.
#[allow(missing_docs)]
pub mod abi {
    alloy::sol! {
        /// `ISSVNetworkCore.Cluster`: the cluster snapshot every cluster event carries.
        #[derive(Debug, PartialEq, Eq)]
        struct Cluster {
            uint32 validatorCount;
            uint64 networkFeeIndex;
            uint64 index;
            bool active;
            uint256 balance;
        }

        #[derive(Debug, PartialEq, Eq)]
        event OperatorAdded(uint64 indexed operatorId, address indexed owner, bytes publicKey, uint256 fee);
        #[derive(Debug, PartialEq, Eq)]
        event OperatorRemoved(uint64 indexed operatorId);
        #[derive(Debug, PartialEq, Eq)]
        event ValidatorAdded(address indexed owner, uint64[] operatorIds, bytes publicKey, bytes shares, Cluster cluster);
        #[derive(Debug, PartialEq, Eq)]
        event ValidatorRemoved(address indexed owner, uint64[] operatorIds, bytes publicKey, Cluster cluster);
        #[derive(Debug, PartialEq, Eq)]
        event ClusterLiquidated(address indexed owner, uint64[] operatorIds, Cluster cluster);
        #[derive(Debug, PartialEq, Eq)]
        event ClusterReactivated(address indexed owner, uint64[] operatorIds, Cluster cluster);
        #[derive(Debug, PartialEq, Eq)]
        event FeeRecipientAddressUpdated(address indexed owner, address recipientAddress);
        #[derive(Debug, PartialEq, Eq)]
        event ValidatorExited(address indexed owner, uint64[] operatorIds, bytes publicKey);

        /// The devnet contract (`devnet/contracts/SSVNetworkDevnet.sol`): one function per
        /// event, with SSVNetwork's argument lists where SSVNetwork has the function.
        interface SSVNetworkDevnet {
            function registerOperator(bytes publicKey, uint256 fee) external returns (uint64);
            function removeOperator(uint64 operatorId) external;
            function registerValidator(bytes publicKey, uint64[] operatorIds, bytes sharesData, uint256 amount, Cluster cluster) external;
            function removeValidator(bytes publicKey, uint64[] operatorIds, Cluster cluster) external;
            function liquidate(address clusterOwner, uint64[] operatorIds, Cluster cluster) external;
            function reactivate(uint64[] operatorIds, uint256 amount, Cluster cluster) external;
            function setFeeRecipientAddress(address recipientAddress) external;
            function exitValidator(bytes publicKey, uint64[] operatorIds) external;
        }
    }
}

/// The topic0 of each followed event, in the order of the table in notes 4.3.
pub const FOLLOWED_TOPICS: [B256; 8] = [
    abi::OperatorAdded::SIGNATURE_HASH,
    abi::OperatorRemoved::SIGNATURE_HASH,
    abi::ValidatorAdded::SIGNATURE_HASH,
    abi::ValidatorRemoved::SIGNATURE_HASH,
    abi::ClusterLiquidated::SIGNATURE_HASH,
    abi::ClusterReactivated::SIGNATURE_HASH,
    abi::FeeRecipientAddressUpdated::SIGNATURE_HASH,
    abi::ValidatorExited::SIGNATURE_HASH,
];

/// One followed SSVNetwork event, with the fields the node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractEvent {
    /// `OperatorAdded`: a new operator with its RSA key.
    OperatorAdded {
        /// The id the contract assigned (sequential from 1).
        operator_id: u64,
        /// The operator's owner account.
        owner: Address,
        /// The operator key as the node stores it: the base64 PEM text, after undoing the
        /// second ABI encoding (`abi.encode(bytes)`) the registering tool applies.
        public_key: Vec<u8>,
        /// The operator fee (SSV wei per block).
        fee: U256,
    },
    /// `OperatorRemoved`.
    OperatorRemoved {
        /// The removed operator.
        operator_id: u64,
    },
    /// `ValidatorAdded`: a validator registered to a cluster with its `sharesData`.
    ValidatorAdded {
        /// The cluster owner.
        owner: Address,
        /// The committee, as the owner listed it.
        operator_ids: Vec<u64>,
        /// The validator public key (48 bytes when well formed).
        public_key: Vec<u8>,
        /// `sharesData`: signature (96) ‖ share public keys (48 · n) ‖ encrypted shares (256 · n).
        shares: Vec<u8>,
    },
    /// `ValidatorRemoved`.
    ValidatorRemoved {
        /// The cluster owner.
        owner: Address,
        /// The committee.
        operator_ids: Vec<u64>,
        /// The validator public key.
        public_key: Vec<u8>,
    },
    /// `ClusterLiquidated`: the cluster's validators stop.
    ClusterLiquidated {
        /// The cluster owner.
        owner: Address,
        /// The committee.
        operator_ids: Vec<u64>,
    },
    /// `ClusterReactivated`: the cluster's validators start again.
    ClusterReactivated {
        /// The cluster owner.
        owner: Address,
        /// The committee.
        operator_ids: Vec<u64>,
    },
    /// `FeeRecipientAddressUpdated`: the owner's execution fee recipient.
    FeeRecipientAddressUpdated {
        /// The owner.
        owner: Address,
        /// The new fee recipient.
        recipient: Address,
    },
    /// `ValidatorExited`: the owner asks the committee for a voluntary exit.
    ValidatorExited {
        /// The cluster owner.
        owner: Address,
        /// The committee.
        operator_ids: Vec<u64>,
        /// The validator public key.
        public_key: Vec<u8>,
    },
}

impl ContractEvent {
    /// The event's Solidity name, for logs and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OperatorAdded { .. } => "OperatorAdded",
            Self::OperatorRemoved { .. } => "OperatorRemoved",
            Self::ValidatorAdded { .. } => "ValidatorAdded",
            Self::ValidatorRemoved { .. } => "ValidatorRemoved",
            Self::ClusterLiquidated { .. } => "ClusterLiquidated",
            Self::ClusterReactivated { .. } => "ClusterReactivated",
            Self::FeeRecipientAddressUpdated { .. } => "FeeRecipientAddressUpdated",
            Self::ValidatorExited { .. } => "ValidatorExited",
        }
    }
}

/// What [`decode_log`] made of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedLog {
    /// One of the eight followed events.
    Event(ContractEvent),
    /// Another SSVNetwork event (fees, deposits, DAO parameters…), or a log without topics.
    Ignored,
}

/// A log of a followed event that does not decode with its ABI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {event} log: {reason}")]
pub struct EventDecodeError {
    /// The event topic0 named.
    pub event: &'static str,
    /// What the ABI decoder said.
    pub reason: String,
}

/// Decodes a raw log (`topics`, `data`) of the SSVNetwork contract.
///
/// Decoding is as lenient as go-ethereum's `abi.Unpack` (no strict padding checks), so the
/// node accepts exactly what the Go node accepts.
///
/// # Errors
/// [`EventDecodeError`] when topic0 names a followed event but the topics or data do not
/// fit its ABI, or `OperatorAdded`'s public key is not itself `abi.encode(bytes)`.
pub fn decode_log(topics: &[B256], data: &[u8]) -> Result<DecodedLog, EventDecodeError> {
    let Some(topic0) = topics.first() else {
        return Ok(DecodedLog::Ignored);
    };
    let topics = topics.iter().copied();
    let event = match *topic0 {
        abi::OperatorAdded::SIGNATURE_HASH => {
            let e = decode::<abi::OperatorAdded>(topics, data)?;
            let public_key = unpack_operator_public_key(&e.publicKey).map_err(|reason| {
                EventDecodeError { event: abi::OperatorAdded::SIGNATURE, reason }
            })?;
            ContractEvent::OperatorAdded {
                operator_id: e.operatorId,
                owner: e.owner,
                public_key,
                fee: e.fee,
            }
        }
        abi::OperatorRemoved::SIGNATURE_HASH => {
            let e = decode::<abi::OperatorRemoved>(topics, data)?;
            ContractEvent::OperatorRemoved { operator_id: e.operatorId }
        }
        abi::ValidatorAdded::SIGNATURE_HASH => {
            let e = decode::<abi::ValidatorAdded>(topics, data)?;
            ContractEvent::ValidatorAdded {
                owner: e.owner,
                operator_ids: e.operatorIds,
                public_key: e.publicKey.to_vec(),
                shares: e.shares.to_vec(),
            }
        }
        abi::ValidatorRemoved::SIGNATURE_HASH => {
            let e = decode::<abi::ValidatorRemoved>(topics, data)?;
            ContractEvent::ValidatorRemoved {
                owner: e.owner,
                operator_ids: e.operatorIds,
                public_key: e.publicKey.to_vec(),
            }
        }
        abi::ClusterLiquidated::SIGNATURE_HASH => {
            let e = decode::<abi::ClusterLiquidated>(topics, data)?;
            ContractEvent::ClusterLiquidated { owner: e.owner, operator_ids: e.operatorIds }
        }
        abi::ClusterReactivated::SIGNATURE_HASH => {
            let e = decode::<abi::ClusterReactivated>(topics, data)?;
            ContractEvent::ClusterReactivated { owner: e.owner, operator_ids: e.operatorIds }
        }
        abi::FeeRecipientAddressUpdated::SIGNATURE_HASH => {
            let e = decode::<abi::FeeRecipientAddressUpdated>(topics, data)?;
            ContractEvent::FeeRecipientAddressUpdated {
                owner: e.owner,
                recipient: e.recipientAddress,
            }
        }
        abi::ValidatorExited::SIGNATURE_HASH => {
            let e = decode::<abi::ValidatorExited>(topics, data)?;
            ContractEvent::ValidatorExited {
                owner: e.owner,
                operator_ids: e.operatorIds,
                public_key: e.publicKey.to_vec(),
            }
        }
        _ => return Ok(DecodedLog::Ignored),
    };
    Ok(DecodedLog::Event(event))
}

fn decode<E: SolEvent>(
    topics: impl IntoIterator<Item = B256>,
    data: &[u8],
) -> Result<E, EventDecodeError> {
    E::decode_raw_log(topics, data)
        .map_err(|e| EventDecodeError { event: E::SIGNATURE, reason: e.to_string() })
}

/// Undoes the second ABI encoding of `OperatorAdded.publicKey`: the event's `bytes` hold
/// `abi.encode(bytes pem)` (the node's `eth/contract/operator_public_key.abi`), and the node
/// keeps the inner bytes (the base64 PEM text).
///
/// # Errors
/// The ABI decoder's message when `packed` is not one ABI-encoded `bytes`.
pub fn unpack_operator_public_key(packed: &[u8]) -> Result<Vec<u8>, String> {
    <sol_data::Bytes as SolType>::abi_decode(packed)
        .map(|b| b.to_vec())
        .map_err(|e| format!("operator public key is not abi.encode(bytes): {e}"))
}

/// The inverse of [`unpack_operator_public_key`]: `abi.encode(bytes key)`, as the
/// registering tool (ssv-keys, the devnet) passes the key to `registerOperator`.
pub fn pack_operator_public_key(key: &[u8]) -> Vec<u8> {
    Bytes::copy_from_slice(key).abi_encode()
}
