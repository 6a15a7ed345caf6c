//! `p2p::loopback`: an in-process [`Network`] for tests of several nodes in one process.
//!
//! A [`LoopbackHub`] connects any number of [`LoopbackNetwork`]s. A broadcast is delivered
//! to every other member subscribed to the message's subnet, after decoding (undecodable
//! bytes are dropped); there is no gossipsub, no validation rules and no sockets. Members
//! read what they receive from their [`Incoming`] queue, exactly as from a real node.
//!
//! Note for the coordinator: helper `node` may have its own loopback; this one is the
//! p2p-side version, with the same [`Network`] trait and the same [`Incoming`] queue as
//! [`super::swarm::P2pNode`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use ssv_core::types::ssz::Decode as _;
use ssv_core::types::{CommitteeId, SignedSsvMessage};
use ssv_core::validation::{MessageBody, ValidatedMessage, committee_subnet};

use super::queue::{Incoming, IncomingSender, QueueLimits, channel};
use super::{Network, NetworkError};

struct Member {
    name: Vec<u8>,
    subnets: BTreeSet<u64>,
    sender: IncomingSender,
}

/// The shared medium of a set of loopback networks.
#[derive(Clone, Default)]
pub struct LoopbackHub {
    members: Arc<Mutex<Vec<Member>>>,
}

/// One member of a [`LoopbackHub`].
#[derive(Clone)]
pub struct LoopbackNetwork {
    hub: LoopbackHub,
    index: usize,
}

impl LoopbackHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a member called `name` (used as its peer id) and returns its network and queue.
    pub fn join(&self, name: &[u8], limits: QueueLimits) -> (LoopbackNetwork, Incoming) {
        let (sender, incoming) = channel(limits);
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members.push(Member { name: name.to_vec(), subnets: BTreeSet::new(), sender });
        (LoopbackNetwork { hub: self.clone(), index: members.len() - 1 }, incoming)
    }
}

impl Network for LoopbackNetwork {
    fn broadcast(&self, committee_id: &CommitteeId, message: Vec<u8>) -> Result<(), NetworkError> {
        let signed = SignedSsvMessage::from_ssz_bytes(&message)
            .map_err(|e| NetworkError::Publish(format!("undecodable: {e:?}")))?;
        let body = match signed.ssv_message.msg_type {
            0 => MessageBody::Consensus(
                signed
                    .ssv_message
                    .decode_qbft()
                    .map_err(|e| NetworkError::Publish(e.to_string()))?,
            ),
            _ => MessageBody::PartialSignatures(
                signed
                    .ssv_message
                    .decode_partial_signatures()
                    .map_err(|e| NetworkError::Publish(e.to_string()))?,
            ),
        };
        let subnet = committee_subnet(committee_id);
        let members = self.hub.members.lock().map_err(|_| NetworkError::Stopped)?;
        let from = members.get(self.index).map(|m| m.name.clone()).unwrap_or_default();
        for (i, m) in members.iter().enumerate() {
            if i != self.index && m.subnets.contains(&subnet) {
                let message = ValidatedMessage {
                    signed: signed.clone(),
                    body: body.clone(),
                    committee_id: *committee_id,
                };
                m.sender.push(&from, message);
            }
        }
        Ok(())
    }

    fn subscribe_committee(&self, committee_id: &CommitteeId) -> Result<(), NetworkError> {
        let mut members = self.hub.members.lock().map_err(|_| NetworkError::Stopped)?;
        if let Some(m) = members.get_mut(self.index) {
            m.subnets.insert(committee_subnet(committee_id));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ssv_core::types::ssz::Encode as _;
    use ssv_core::types::ssz_types::VariableList;
    use ssv_core::types::{MessageId, PartialSignatureMessages, SsvMessage};

    use super::*;

    #[test]
    fn delivers_to_subscribed_others_only() {
        let hub = LoopbackHub::new();
        let cid = CommitteeId([1; 32]);
        let (a, mut a_in) = hub.join(b"a", QueueLimits::default());
        let (b, mut b_in) = hub.join(b"b", QueueLimits::default());
        let (_c, mut c_in) = hub.join(b"c", QueueLimits::default());
        a.subscribe_committee(&cid).unwrap();
        b.subscribe_committee(&cid).unwrap();
        let psig =
            PartialSignatureMessages { msg_type: 0, slot: 3, messages: VariableList::empty() };
        let signed = SignedSsvMessage {
            signatures: VariableList::empty(),
            operator_ids: VariableList::empty(),
            ssv_message: SsvMessage {
                msg_type: 1,
                msg_id: MessageId([0; 56]),
                data: VariableList::new(psig.as_ssz_bytes()).unwrap(),
            },
            full_data: VariableList::empty(),
        };
        a.broadcast(&cid, signed.as_ssz_bytes()).unwrap();
        assert_eq!(b_in.try_recv().map(|m| m.signed), Some(signed));
        assert!(a_in.try_recv().is_none());
        assert!(c_in.try_recv().is_none());
        assert!(a.broadcast(&cid, vec![1, 2, 3]).is_err());
    }
}
