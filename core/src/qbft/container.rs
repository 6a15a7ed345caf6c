//! Messages of one type by round (`qbft/message_container.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::message::ProcessingMessage;
use super::Round;
use crate::types::{OperatorId, Root};

/// Messages by round, in arrival order within a round.
///
/// Bound: per round, [`add_first_for_signer_and_round`](Self::add_first_for_signer_and_round)
/// keeps one message per signer set, so a round holds at most one message per committee
/// member plus the decided messages a controller adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgContainer {
    /// Messages by round.
    pub msgs: BTreeMap<Round, Vec<ProcessingMessage>>,
}

impl MsgContainer {
    /// All messages, by ascending round.
    pub fn all(&self) -> impl Iterator<Item = &ProcessingMessage> {
        self.msgs.values().flatten()
    }

    /// The messages of `round` (empty when none).
    pub fn for_round(&self, round: Round) -> &[ProcessingMessage] {
        self.msgs.get(&round).map_or(&[], Vec::as_slice)
    }

    /// The longest set of messages for (`round`, `root`) with pairwise disjoint signers,
    /// greedily built from each starting message in arrival order, and its signers
    /// (`LongestUniqueSignersForRoundAndRoot`).
    pub fn longest_unique_signers(
        &self,
        round: Round,
        root: &Root,
    ) -> (Vec<OperatorId>, Vec<&ProcessingMessage>) {
        let mut best: (Vec<OperatorId>, Vec<&ProcessingMessage>) = (Vec::new(), Vec::new());
        let msgs: Vec<&ProcessingMessage> =
            self.for_round(round).iter().filter(|m| &m.qbft.root == root).collect();
        for (i, first) in msgs.iter().enumerate() {
            let mut signers: Vec<OperatorId> = first.signers().to_vec();
            let mut set = vec![*first];
            for other in msgs.iter().skip(i.saturating_add(1)) {
                if !other.common_signers(&signers) {
                    signers.extend_from_slice(other.signers());
                    set.push(*other);
                }
            }
            if best.0.len() < signers.len() {
                best = (signers, set);
            }
        }
        best
    }

    /// Adds `msg` unless a message with the same signer set is already stored for its round
    /// (`AddFirstMsgForSignerAndRound`). Returns whether it was added.
    pub fn add_first_for_signer_and_round(&mut self, msg: ProcessingMessage) -> bool {
        let round = msg.round();
        let entry = self.msgs.entry(round).or_default();
        if entry.iter().any(|m| m.matched_signers(msg.signers())) {
            return false;
        }
        entry.push(msg);
        true
    }

    /// Adds `msg` whatever its signers (`AddMsg`).
    pub fn add(&mut self, msg: ProcessingMessage) {
        self.msgs.entry(msg.round()).or_default().push(msg);
    }
}

/// The number of distinct signers over `msgs`.
pub fn unique_signers<'a>(msgs: impl IntoIterator<Item = &'a ProcessingMessage>) -> usize {
    let mut set = std::collections::BTreeSet::new();
    for m in msgs {
        set.extend(m.signers().iter().copied());
    }
    set.len()
}
