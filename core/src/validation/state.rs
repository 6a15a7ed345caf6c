//! Per-peer, per-message-id, per-signer validation state (`consensus_state.go`,
//! `signer_state.go`, `seen_msg_types.go`, ssvlabs/ssv v2.3.7).

use std::collections::{BTreeMap, BTreeSet};

use crate::types::{Epoch, OperatorId, Round, Slot};

/// Which message kinds a signer sent in one slot and round: at most one of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeenMsgTypes(u8);

impl SeenMsgTypes {
    pub(crate) const PRE_CONSENSUS: u8 = 1 << 0;
    pub(crate) const PROPOSAL: u8 = 1 << 1;
    pub(crate) const PREPARE: u8 = 1 << 2;
    pub(crate) const COMMIT: u8 = 1 << 3;
    pub(crate) const ROUND_CHANGE: u8 = 1 << 4;
    pub(crate) const POST_CONSENSUS: u8 = 1 << 5;

    pub(crate) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn record(&mut self, bit: u8) {
        self.0 |= bit;
    }
}

/// What one signer did in one slot (`SignerState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignerState {
    pub(crate) slot: Slot,
    pub(crate) round: Round,
    pub(crate) seen: SeenMsgTypes,
    pub(crate) hashed_proposal_data: Option<[u8; 32]>,
    /// Signer sets of decided messages, as bit masks over committee positions.
    pub(crate) seen_signers: BTreeSet<u16>,
}

impl SignerState {
    pub(crate) fn new(slot: Slot, round: Round) -> Self {
        Self {
            slot,
            round,
            seen: SeenMsgTypes::default(),
            hashed_proposal_data: None,
            seen_signers: BTreeSet::new(),
        }
    }

    /// `Reset`: a new round forgets what was seen in the old one.
    pub(crate) fn reset(&mut self, slot: Slot, round: Round) {
        *self = Self::new(slot, round);
    }
}

/// One operator's slots and duty counts under one (peer, message id) (`OperatorState`).
///
/// Slots live in a ring of `stored_slots` entries keyed by `slot % stored_slots`, so a
/// slot's state is forgotten once a slot `stored_slots` later is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OperatorState {
    signers: BTreeMap<u64, SignerState>,
    max_slot: Slot,
    max_epoch: Epoch,
    curr_epoch_duties: u64,
    prev_epoch_duties: u64,
}

impl OperatorState {
    pub(crate) fn signer_state(&self, slot: Slot, stored_slots: u64) -> Option<&SignerState> {
        let s = self.signers.get(&slot.checked_rem(stored_slots).unwrap_or(slot))?;
        (s.slot == slot).then_some(s)
    }

    pub(crate) fn signer_state_mut(
        &mut self,
        slot: Slot,
        stored_slots: u64,
    ) -> Option<&mut SignerState> {
        let s = self.signers.get_mut(&slot.checked_rem(stored_slots).unwrap_or(slot))?;
        (s.slot == slot).then_some(s)
    }

    /// `SetSignerState`: stores the slot's state and counts a new duty in its epoch.
    pub(crate) fn set_signer_state(
        &mut self,
        slot: Slot,
        epoch: Epoch,
        state: SignerState,
        stored_slots: u64,
    ) {
        self.signers.insert(slot.checked_rem(stored_slots).unwrap_or(slot), state);
        self.max_slot = self.max_slot.max(slot);
        if epoch > self.max_epoch {
            self.max_epoch = epoch;
            self.prev_epoch_duties = self.curr_epoch_duties;
            self.curr_epoch_duties = 1;
        } else if epoch == self.max_epoch {
            self.curr_epoch_duties = self.curr_epoch_duties.saturating_add(1);
        } else {
            self.prev_epoch_duties = self.prev_epoch_duties.saturating_add(1);
        }
    }

    pub(crate) fn max_slot(&self) -> Slot {
        self.max_slot
    }

    /// Duties seen in `epoch`: counted for the latest two epochs only (older messages are
    /// late and ignored before this is asked).
    pub(crate) fn duty_count(&self, epoch: Epoch) -> u64 {
        if epoch == self.max_epoch {
            self.curr_epoch_duties
        } else if Some(epoch) == self.max_epoch.checked_sub(1) {
            self.prev_epoch_duties
        } else {
            0
        }
    }
}

/// Every signer's state under one (peer, message id) (`ValidatorState`), with its expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ValidatorState {
    pub(crate) operators: BTreeMap<OperatorId, OperatorState>,
}

/// An operator state to read when none is stored yet.
pub(crate) static EMPTY_OPERATOR: OperatorState = OperatorState {
    signers: BTreeMap::new(),
    max_slot: 0,
    max_epoch: 0,
    curr_epoch_duties: 0,
    prev_epoch_duties: 0,
};
