//! Decided-history sync: decided messages are stored by the node and served to peers; a
//! node that starts or comes back online fetches the decided messages it missed for its
//! committees, checks them ([`ssv_core::validation::check_decided`]) and learns its highest
//! decided height per instance, to restore its QBFT heights and slashing history before it
//! signs anything. This is the seeds' "distributed slashing protection database".
//!
//! # Protocol `/ssv/decided/history/0.0.1` (ours)
//! The Go node had `/ssv/sync/decided/history/0.0.1` (v1.1.0), gone by v2.3.7, so this is
//! our own design, over libp2p request-response on one stream per request:
//! - request, 72 bytes: `msg_id (56) | from_height (u64 LE) | to_height (u64 LE)`;
//! - response: `count (u32 LE)` then `count` × (`len (u32 LE)` | SSZ `SignedSSVMessage`),
//!   ascending heights, at most [`MAX_RESPONSE_MESSAGES`] messages and
//!   [`MAX_RESPONSE_BYTES`] in total; the client asks again from the next height.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use ssv_core::types::{Height, MessageId};

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/ssv/decided/history/0.0.1");
/// Most messages in one response: two epochs of slots.
pub const MAX_RESPONSE_MESSAGES: u32 = 64;
/// Most bytes in one response: 64 MiB (a decided proposal with a full block is up to
/// 8.4 MB; most decided messages are about 1 KB).
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Request size in bytes.
pub const REQUEST_LEN: usize = 72;

/// A request for the decided messages of one instance (message id) in a height range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRequest {
    /// The QBFT instance identifier.
    pub msg_id: MessageId,
    /// First height wanted.
    pub from: Height,
    /// Last height wanted (inclusive).
    pub to: Height,
}

impl HistoryRequest {
    /// The 72-byte wire form.
    pub fn to_bytes(&self) -> [u8; REQUEST_LEN] {
        let mut out = [0u8; REQUEST_LEN];
        out[..56].copy_from_slice(&self.msg_id.0);
        out[56..64].copy_from_slice(&self.from.to_le_bytes());
        out[64..].copy_from_slice(&self.to.to_le_bytes());
        out
    }

    /// Parses the wire form.
    pub fn from_bytes(bytes: &[u8; REQUEST_LEN]) -> Self {
        let mut id = [0u8; 56];
        id.copy_from_slice(&bytes[..56]);
        let mut from = [0u8; 8];
        from.copy_from_slice(&bytes[56..64]);
        let mut to = [0u8; 8];
        to.copy_from_slice(&bytes[64..]);
        Self { msg_id: MessageId(id), from: u64::from_le_bytes(from), to: u64::from_le_bytes(to) }
    }
}

/// Decided messages as SSZ bytes, ascending by height.
pub type HistoryResponse = Vec<Vec<u8>>;

/// Why the history store failed.
#[derive(Debug, thiserror::Error)]
#[error("decided history store: {0}")]
pub struct HistoryError(pub String);

/// Where decided messages are kept: the node's redb storage implements it; tests use
/// [`InMemoryDecidedHistory`].
pub trait DecidedHistory: Send + Sync {
    /// Stores the decided message (SSZ `SignedSSVMessage`) of `msg_id` at `height`,
    /// replacing one with fewer signers.
    ///
    /// # Errors
    /// A storage failure.
    fn store_decided(
        &self,
        msg_id: &MessageId,
        height: Height,
        message: &[u8],
    ) -> Result<(), HistoryError>;

    /// Up to `limit` decided messages of `msg_id` with heights in `from..=to`, ascending.
    ///
    /// # Errors
    /// A storage failure.
    fn decided_range(
        &self,
        msg_id: &MessageId,
        from: Height,
        to: Height,
        limit: usize,
    ) -> Result<Vec<(Height, Vec<u8>)>, HistoryError>;

    /// The highest height with a decided message for `msg_id`.
    ///
    /// # Errors
    /// A storage failure.
    fn highest_decided(&self, msg_id: &MessageId) -> Result<Option<Height>, HistoryError>;
}

/// A [`DecidedHistory`] in a mutex-guarded ordered map.
#[derive(Debug, Default)]
pub struct InMemoryDecidedHistory {
    map: Mutex<BTreeMap<(MessageId, Height), Vec<u8>>>,
}

impl InMemoryDecidedHistory {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored messages.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned<T>(_: T) -> HistoryError {
    HistoryError("lock poisoned".into())
}

impl DecidedHistory for InMemoryDecidedHistory {
    fn store_decided(
        &self,
        msg_id: &MessageId,
        height: Height,
        message: &[u8],
    ) -> Result<(), HistoryError> {
        let mut map = self.map.lock().map_err(poisoned)?;
        let signers = |m: &[u8]| {
            use ssv_core::types::ssz::Decode as _;
            ssv_core::types::SignedSsvMessage::from_ssz_bytes(m)
                .map(|s| s.operator_ids.len())
                .unwrap_or(0)
        };
        let keep_old =
            map.get(&(*msg_id, height)).is_some_and(|old| signers(old) >= signers(message));
        if !keep_old {
            map.insert((*msg_id, height), message.to_vec());
        }
        Ok(())
    }

    fn decided_range(
        &self,
        msg_id: &MessageId,
        from: Height,
        to: Height,
        limit: usize,
    ) -> Result<Vec<(Height, Vec<u8>)>, HistoryError> {
        if from > to {
            return Ok(Vec::new());
        }
        let map = self.map.lock().map_err(poisoned)?;
        Ok(map
            .range((*msg_id, from)..=(*msg_id, to))
            .take(limit)
            .map(|((_, h), m)| (*h, m.clone()))
            .collect())
    }

    fn highest_decided(&self, msg_id: &MessageId) -> Result<Option<Height>, HistoryError> {
        let map = self.map.lock().map_err(poisoned)?;
        Ok(map.range((*msg_id, 0)..=(*msg_id, u64::MAX)).next_back().map(|((_, h), _)| *h))
    }
}

/// The request-response codec of [`PROTOCOL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryCodec;

async fn read_u32<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<u32> {
    let mut b = [0u8; 4];
    io.read_exact(&mut b).await?;
    Ok(u32::from_le_bytes(b))
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for HistoryCodec {
    type Protocol = StreamProtocol;
    type Request = HistoryRequest;
    type Response = HistoryResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<HistoryRequest> {
        let mut b = [0u8; REQUEST_LEN];
        io.read_exact(&mut b).await?;
        Ok(HistoryRequest::from_bytes(&b))
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<HistoryResponse> {
        let count = read_u32(io).await?;
        if count > MAX_RESPONSE_MESSAGES {
            return Err(invalid("too many messages"));
        }
        let mut total = 0usize;
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = read_u32(io).await? as usize;
            total = total.saturating_add(len);
            if total > MAX_RESPONSE_BYTES {
                return Err(invalid("response too large"));
            }
            let mut m = vec![0u8; len];
            io.read_exact(&mut m).await?;
            out.push(m);
        }
        Ok(out)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: HistoryRequest,
    ) -> io::Result<()> {
        io.write_all(&req.to_bytes()).await?;
        io.close().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: HistoryResponse,
    ) -> io::Result<()> {
        let count = u32::try_from(res.len()).map_err(|_| invalid("too many messages"))?;
        io.write_all(&count.to_le_bytes()).await?;
        for m in res {
            let len = u32::try_from(m.len()).map_err(|_| invalid("message too large"))?;
            io.write_all(&len.to_le_bytes()).await?;
            io.write_all(&m).await?;
        }
        io.close().await
    }
}

/// The answer to `req` from `store`: at most [`MAX_RESPONSE_MESSAGES`] messages and
/// [`MAX_RESPONSE_BYTES`] bytes.
pub fn serve(store: &dyn DecidedHistory, req: &HistoryRequest) -> HistoryResponse {
    let Ok(found) =
        store.decided_range(&req.msg_id, req.from, req.to, MAX_RESPONSE_MESSAGES as usize)
    else {
        return Vec::new();
    };
    let mut total = 0usize;
    found
        .into_iter()
        .map(|(_, m)| m)
        .take_while(|m| {
            total = total.saturating_add(m.len());
            total <= MAX_RESPONSE_BYTES
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        let r = HistoryRequest { msg_id: MessageId([3; 56]), from: 7, to: u64::MAX };
        assert_eq!(HistoryRequest::from_bytes(&r.to_bytes()), r);
    }

    #[test]
    fn store_ranges_and_highest() {
        let s = InMemoryDecidedHistory::new();
        let id = MessageId([1; 56]);
        let other = MessageId([2; 56]);
        for h in [5, 1, 3] {
            s.store_decided(&id, h, &[h as u8]).unwrap();
        }
        s.store_decided(&other, 9, &[9]).unwrap();
        assert_eq!(s.highest_decided(&id).unwrap(), Some(5));
        assert_eq!(s.highest_decided(&MessageId([0; 56])).unwrap(), None);
        let got: Vec<_> =
            s.decided_range(&id, 2, 9, 10).unwrap().into_iter().map(|(h, _)| h).collect();
        assert_eq!(got, vec![3, 5]);
        assert_eq!(s.decided_range(&id, 0, 9, 1).unwrap().len(), 1);
        assert!(s.decided_range(&id, 9, 2, 10).unwrap().is_empty());
    }
}
