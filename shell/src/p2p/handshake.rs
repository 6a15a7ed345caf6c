//! The `/ssv/info/0.0.1` handshake of the Go node (ssvlabs/ssv v2.3.7
//! `network/records/{node_info,metadata,serializable}.go`,
//! `network/peers/connections/{handshaker,conn_handler,filters}.go`).
//!
//! The dialer sends its sealed node info and reads the listener's; the listener answers with
//! its own before checking. Each side refuses (disconnects) a peer whose network id is not
//! its own. On the wire a request or response is the whole stream (written, then the write
//! side closed), as Go's `streams` package.
//!
//! A node info is a libp2p signed envelope (domain `ssv`, payload type `ssv/nodeinfo`)
//! whose payload is the JSON `{"Entries":["", "<network id>", "<metadata JSON>"]}`: the
//! first entry is the retired fork version, the network id is `0x` + hex of the domain type,
//! and the metadata is `{"NodeVersion","ExecutionNode","ConsensusNode","Subnets"}` with
//! `Subnets` as 32 hex characters.

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use libp2p::core::SignedEnvelope;
use libp2p::identity::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use ssv_core::types::DomainType;

use super::discovery::Subnets;

/// The handshake protocol.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/ssv/info/0.0.1");
/// Signature domain of the envelope.
pub const ENVELOPE_DOMAIN: &str = "ssv";
/// Payload type (codec) of the envelope.
pub const PAYLOAD_TYPE: &[u8] = b"ssv/nodeinfo";
/// Most bytes read for one node info (a sealed record is a few hundred bytes).
pub const MAX_RECORD_SIZE: u64 = 64 * 1024;

/// The node's general information (Go `NodeMetadata`); JSON field names as Go writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeMetadata {
    /// Node software and version.
    pub node_version: String,
    /// `name/version` of the execution client.
    pub execution_node: String,
    /// `name/version` of the consensus client.
    pub consensus_node: String,
    /// Subnets the node follows: 32 hex characters ([`Subnets::to_hex`]).
    pub subnets: String,
}

/// A node's handshake record (Go `NodeInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `0x` + hex of the domain type, see [`network_id`].
    pub network_id: String,
    /// Metadata, when the peer sent it.
    pub metadata: Option<NodeMetadata>,
}

/// Why a node info was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The envelope does not decode or its signature, domain or payload type is wrong.
    #[error("envelope: {0}")]
    Envelope(String),
    /// The payload is not the expected JSON, or an entry is missing.
    #[error("record: {0}")]
    Record(String),
    /// The record was signed by another key than the peer's.
    #[error("record signed by another peer")]
    WrongSigner,
    /// The peer is on another network.
    #[error("network id mismatch: want {want}, got {got}")]
    NetworkMismatch {
        /// Ours.
        want: String,
        /// Theirs.
        got: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Serializable {
    entries: Vec<String>,
}

/// The network id of a domain type: `0x` + 8 hex characters.
pub fn network_id(domain: DomainType) -> String {
    format!("0x{}", hex::encode(domain.0))
}

impl NodeInfo {
    /// This node's info for `domain`, with `metadata`.
    pub fn new(domain: DomainType, metadata: Option<NodeMetadata>) -> Self {
        Self { network_id: network_id(domain), metadata }
    }

    /// The envelope payload (Go `MarshalRecord`).
    ///
    /// # Errors
    /// [`HandshakeError::Record`] when the metadata's subnets are not 32 characters (Go
    /// refuses to encode them too).
    pub fn marshal(&self) -> Result<Vec<u8>, HandshakeError> {
        let mut entries = vec![String::new(), self.network_id.clone()];
        if let Some(meta) = &self.metadata {
            if meta.subnets.len() != 32 {
                return Err(HandshakeError::Record(format!(
                    "subnets of {} characters",
                    meta.subnets.len()
                )));
            }
            entries.push(
                serde_json::to_string(meta).map_err(|e| HandshakeError::Record(e.to_string()))?,
            );
        }
        serde_json::to_vec(&Serializable { entries })
            .map_err(|e| HandshakeError::Record(e.to_string()))
    }

    /// Parses an envelope payload (Go `UnmarshalRecord`): at least two entries; a third is
    /// metadata whose subnets must be 32 characters.
    ///
    /// # Errors
    /// [`HandshakeError::Record`].
    pub fn unmarshal(payload: &[u8]) -> Result<Self, HandshakeError> {
        let record = |e: &dyn std::fmt::Display| HandshakeError::Record(e.to_string());
        let ser: Serializable = serde_json::from_slice(payload).map_err(|e| record(&e))?;
        let network_id = ser
            .entries
            .get(1)
            .cloned()
            .ok_or_else(|| record(&"not enough entries, network id is required"))?;
        let metadata = match ser.entries.get(2) {
            None => None,
            Some(text) => {
                let meta: NodeMetadata = serde_json::from_str(text).map_err(|e| record(&e))?;
                if meta.subnets.len() != 32 {
                    return Err(record(&format!("subnets of {} characters", meta.subnets.len())));
                }
                Some(meta)
            }
        };
        Ok(Self { network_id, metadata })
    }

    /// Signs the record with the node's network key into a protobuf envelope (Go `Seal`).
    ///
    /// # Errors
    /// [`HandshakeError::Record`] from [`NodeInfo::marshal`]; [`HandshakeError::Envelope`]
    /// when signing fails.
    pub fn seal(&self, keypair: &Keypair) -> Result<Vec<u8>, HandshakeError> {
        let envelope = SignedEnvelope::new(
            keypair,
            ENVELOPE_DOMAIN.to_owned(),
            PAYLOAD_TYPE.to_vec(),
            self.marshal()?,
        )
        .map_err(|e| HandshakeError::Envelope(e.to_string()))?;
        Ok(envelope.into_protobuf_encoding())
    }

    /// Opens an envelope (Go `Consume`): checks its signature, domain and payload type, and
    /// parses the record. Returns the signer's key with the record.
    ///
    /// # Errors
    /// [`HandshakeError::Envelope`], [`HandshakeError::Record`].
    pub fn consume(bytes: &[u8]) -> Result<(PublicKey, Self), HandshakeError> {
        let envelope = SignedEnvelope::from_protobuf_encoding(bytes)
            .map_err(|e| HandshakeError::Envelope(e.to_string()))?;
        let (payload, key) = envelope
            .payload_and_signing_key(ENVELOPE_DOMAIN.to_owned(), PAYLOAD_TYPE)
            .map_err(|e| HandshakeError::Envelope(e.to_string()))?;
        Ok((key.clone(), Self::unmarshal(payload)?))
    }

    /// The subnets of the metadata, if any and well formed.
    pub fn subnets(&self) -> Option<Subnets> {
        Subnets::from_hex(&self.metadata.as_ref()?.subnets).ok()
    }
}

/// Checks a received envelope from `peer` against our `network_id` (Go `NetworkIDFilter`),
/// and that the peer signed it.
///
/// # Errors
/// Any [`HandshakeError`].
pub fn verify(
    bytes: &[u8],
    peer: &libp2p::PeerId,
    network_id: &str,
) -> Result<NodeInfo, HandshakeError> {
    let (key, info) = NodeInfo::consume(bytes)?;
    if key.to_peer_id() != *peer {
        return Err(HandshakeError::WrongSigner);
    }
    if info.network_id != network_id {
        return Err(HandshakeError::NetworkMismatch {
            want: network_id.to_owned(),
            got: info.network_id,
        });
    }
    Ok(info)
}

/// Raw-bytes codec: a request or response is everything up to the end of the stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct HandshakeCodec;

async fn read_all<T: futures::AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io.take(MAX_RECORD_SIZE).read_to_end(&mut buf).await?;
    Ok(buf)
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for HandshakeCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_all(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_all(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        io.write_all(&req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        io.write_all(&res).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> NodeMetadata {
        NodeMetadata {
            node_version: "ssv-rs/0.1".into(),
            execution_node: "geth/1.14".into(),
            consensus_node: "lighthouse/5".into(),
            subnets: Subnets::from_list(&[1]).to_hex(),
        }
    }

    #[test]
    fn payload_is_go_json() {
        let info = NodeInfo::new(DomainType([0, 0, 5, 2]), Some(meta()));
        let json = String::from_utf8(info.marshal().unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"Entries":["","0x00000502","{\"NodeVersion\":\"ssv-rs/0.1\",\"ExecutionNode\":\"geth/1.14\",\"ConsensusNode\":\"lighthouse/5\",\"Subnets\":\"02000000000000000000000000000000\"}"]}"#
        );
        assert_eq!(NodeInfo::unmarshal(json.as_bytes()).unwrap(), info);
        // Go accepts a record without metadata and refuses one without a network id.
        let bare = NodeInfo::unmarshal(br#"{"Entries":["","0x00000001"]}"#).unwrap();
        assert_eq!(bare.network_id, "0x00000001");
        assert!(bare.metadata.is_none());
        assert!(NodeInfo::unmarshal(br#"{"Entries":[""]}"#).is_err());
        assert!(NodeInfo::unmarshal(br#"{"Entries":["","x","{\"Subnets\":\"01\"}"]}"#).is_err());
    }

    #[test]
    fn sealed_envelope_verifies_for_its_signer_only() {
        let keypair = Keypair::generate_secp256k1();
        let peer = keypair.public().to_peer_id();
        let info = NodeInfo::new(DomainType([0, 0, 5, 2]), Some(meta()));
        let sealed = info.seal(&keypair).unwrap();
        assert_eq!(verify(&sealed, &peer, "0x00000502").unwrap(), info);
        assert!(matches!(
            verify(&sealed, &peer, "0x00000503"),
            Err(HandshakeError::NetworkMismatch { .. })
        ));
        let other = Keypair::generate_secp256k1().public().to_peer_id();
        assert!(matches!(verify(&sealed, &other, "0x00000502"), Err(HandshakeError::WrongSigner)));
        let mut bad = sealed;
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(verify(&bad, &peer, "0x00000502").is_err());
    }
}
