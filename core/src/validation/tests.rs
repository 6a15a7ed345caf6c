//! One crafted message per rule, plus state, expiry and no-panic properties.
//!
//! Expectations come from the Go node's rules (ssvlabs/ssv v2.3.7 `message/validation/`):
//! each test builds the smallest message that breaks exactly one rule.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use ssz::Encode as _;
use ssz_types::VariableList;

use super::*;
use crate::crypto::rsa::OperatorPrivateKey;
use crate::types::{DomainType, PartialSignatureMessage, SsvMessage, encode_justifications};

const GENESIS: UnixMillis = 1_600_000_000_000;
const SLOT: Slot = 65;
const DOMAIN: DomainType = DomainType::JATO_TESTNET;
const VALIDATOR_PK: [u8; 48] = [7; 48];
const VALIDATOR_INDEX: ValidatorIndex = 10;
const PEER: &[u8] = b"peer-a";

fn keys() -> &'static [OperatorPrivateKey] {
    static KEYS: OnceLock<Vec<OperatorPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| (0..5).map(|_| OperatorPrivateKey::generate().unwrap()).collect())
}

fn config() -> ValidationConfig {
    ValidationConfig { max_state_entries: 1000, ..ValidationConfig::mainnet(DOMAIN, GENESIS) }
}

/// Operators 1..=4 in a committee with validators 10 and 11; operator 5 registered but in no
/// committee; validator [7; 48] (index 10) run by 1..=4.
fn view() -> (StaticNetworkView, CommitteeId) {
    let mut v = StaticNetworkView::new();
    for id in 1..=5u64 {
        v.add_operator(id, Some(keys()[(id - 1) as usize].public_key().clone()));
    }
    let cid = v.add_committee(&[1, 2, 3, 4], &[10, 11]);
    v.add_validator(
        VALIDATOR_PK,
        VALIDATOR_INDEX,
        &[1, 2, 3, 4],
        false,
        ValidatorStatus::Attesting,
    );
    (v, cid)
}

fn at(slot: Slot, offset_ms: i64) -> UnixMillis {
    (config().slot_start_ms(slot) as i64 + offset_ms) as UnixMillis
}

fn committee_id() -> CommitteeId {
    CommitteeId::from_operators(&[1, 2, 3, 4])
}

fn committee_msg_id() -> MessageId {
    MessageId::for_committee(DOMAIN, RunnerRole::Committee, &committee_id().0)
}

fn validator_msg_id(role: RunnerRole) -> MessageId {
    MessageId::for_validator(DOMAIN, role, &VALIDATOR_PK)
}

fn topic() -> String {
    topic_name(committee_subnet(&committee_id()))
}

fn qbft(msg_type: u64, id: MessageId, height: u64, round: u64, root: [u8; 32]) -> QbftMessage {
    QbftMessage {
        msg_type,
        height,
        round,
        identifier: VariableList::new(id.0.to_vec()).unwrap(),
        root,
        data_round: 0,
        round_change_justification: VariableList::empty(),
        prepare_justification: VariableList::empty(),
    }
}

fn sign(
    msg_type: u64,
    id: MessageId,
    data: Vec<u8>,
    signers: &[u64],
    full: Vec<u8>,
) -> SignedSsvMessage {
    let ssv = SsvMessage { msg_type, msg_id: id, data: VariableList::new(data).unwrap() };
    let bytes = ssv.as_ssz_bytes();
    let sigs = signers
        .iter()
        .map(|s| {
            let sig = match keys().get((*s as usize).wrapping_sub(1)) {
                Some(k) => k.sign(&bytes).unwrap().to_vec(),
                None => vec![0u8; 256],
            };
            VariableList::new(sig).unwrap()
        })
        .collect();
    SignedSsvMessage {
        signatures: VariableList::new(sigs).unwrap(),
        operator_ids: VariableList::new(signers.to_vec()).unwrap(),
        ssv_message: ssv,
        full_data: VariableList::new(full).unwrap(),
    }
}

fn consensus(q: &QbftMessage, signers: &[u64], full: Vec<u8>) -> SignedSsvMessage {
    let id = q.message_id().unwrap_or(committee_msg_id());
    sign(0, id, q.as_ssz_bytes(), signers, full)
}

/// A committee prepare of `signer` at (SLOT, round).
fn prepare(signer: u64, round: u64) -> SignedSsvMessage {
    consensus(&qbft(1, committee_msg_id(), SLOT, round, [1; 32]), &[signer], vec![])
}

fn leader(height: u64, round: u64) -> u64 {
    round_robin_proposer(height, round, &[1, 2, 3, 4]).unwrap()
}

fn proposal(id: MessageId, height: u64, round: u64, full: &[u8]) -> SignedSsvMessage {
    let root: [u8; 32] = Sha256::digest(full).into();
    consensus(&qbft(0, id, height, round, root), &[leader(height, round)], full.to_vec())
}

fn psig_data(msg_type: u64, slot: Slot, signer: u64, indices: &[u64]) -> Vec<u8> {
    let messages = indices
        .iter()
        .map(|i| PartialSignatureMessage {
            partial_signature: [3; 96],
            signing_root: [4; 32],
            signer,
            validator_index: *i,
        })
        .collect();
    PartialSignatureMessages { msg_type, slot, messages: VariableList::new(messages).unwrap() }
        .as_ssz_bytes()
}

fn partial(
    id: MessageId,
    msg_type: u64,
    slot: Slot,
    signer: u64,
    indices: &[u64],
) -> SignedSsvMessage {
    sign(1, id, psig_data(msg_type, slot, signer, indices), &[signer], vec![])
}

struct Run {
    mv: MessageValidator,
    view: StaticNetworkView,
}

impl Run {
    fn new() -> Self {
        Self { mv: MessageValidator::new(config()), view: view().0 }
    }

    fn bytes(&mut self, now: UnixMillis, data: &[u8]) -> Verdict {
        self.mv.validate(now, PEER, &topic(), data, &self.view)
    }

    fn msg(&mut self, now: UnixMillis, m: &SignedSsvMessage) -> Verdict {
        self.bytes(now, &m.as_ssz_bytes())
    }

    /// Asserts the failure and that state did not change.
    #[allow(clippy::needless_pass_by_value)]
    fn expect(&mut self, now: UnixMillis, m: &SignedSsvMessage, want: ValidationFailure) {
        let before = self.mv.states.clone();
        let verdict = self.msg(now, m);
        assert_eq!(verdict.failure(), Some(&want), "verdict {verdict:?}");
        match want.action() {
            Action::Ignore => assert!(matches!(verdict, Verdict::Ignore(_))),
            Action::Reject => assert!(matches!(verdict, Verdict::Reject(_))),
        }
        assert_eq!(self.mv.states, before, "a failed message changed state");
    }

    fn accept(&mut self, now: UnixMillis, m: &SignedSsvMessage) {
        let verdict = self.msg(now, m);
        assert!(matches!(verdict, Verdict::Accept(_)), "verdict {verdict:?}");
    }
}

use ValidationFailure as F;

#[test]
fn constants_match_the_go_formulas() {
    // const.go: sizes with 5% encoding overhead plus 4 bytes.
    let enc = |n: usize| n + n / 20 + 4;
    let consensus = 8 + 8 + 8 + 56 + 32 + 8 + 13 * (3616 + 50624);
    let partial = 8 + 8 + 1000 * (96 + 32 + 8 + 8);
    assert_eq!(MAX_ENCODED_CONSENSUS_MSG_SIZE, enc(consensus));
    assert_eq!(MAX_ENCODED_PARTIAL_SIGNATURE_SIZE, enc(partial));
    assert_eq!(MAX_PAYLOAD_DATA_SIZE, enc(consensus).max(enc(partial)));
    let signed = 13 * 256 + 13 * 8 + 8 + 56 + MAX_PAYLOAD_DATA_SIZE + 8_388_836;
    assert_eq!(MAX_ENCODED_MSG_SIZE, enc(signed));
    assert_eq!(config().stored_slots(), 34);
}

#[test]
fn subnet_is_committee_id_mod_128() {
    // Big-endian integer mod 128 depends on the last byte only.
    let mut id = [0xffu8; 32];
    id[31] = 0x85;
    assert_eq!(committee_subnet(&CommitteeId(id)), 5);
    assert_eq!(topic_name(5), "ssv.v2.5");
}

#[test]
fn round_robin_matches_alan_formula() {
    let c = [1, 2, 3, 4];
    assert_eq!(round_robin_proposer(0, 1, &c), Some(1));
    assert_eq!(round_robin_proposer(5, 1, &c), Some(2));
    assert_eq!(round_robin_proposer(5, 3, &c), Some(4));
    assert_eq!(round_robin_proposer(5, 0, &c), None);
    assert_eq!(round_robin_proposer(5, 1, &[]), None);
}

#[test]
fn accepts_valid_consensus_and_partial_messages() {
    let mut r = Run::new();
    let p = proposal(committee_msg_id(), SLOT, 1, b"beacon vote");
    let v = r.msg(at(SLOT, 100), &p);
    let Verdict::Accept(m) = v else { panic!("{v:?}") };
    assert_eq!(m.committee_id, committee_id());
    assert!(matches!(m.body, MessageBody::Consensus(ref q) if q.height == SLOT));
    r.accept(at(SLOT, 200), &prepare(2, 1));
    r.accept(at(SLOT, 300), &partial(committee_msg_id(), 0, SLOT, 3, &[10, 11]));
    // A decided commit with a quorum of signers.
    let commit = consensus(&qbft(2, committee_msg_id(), SLOT, 1, [1; 32]), &[1, 2, 3], vec![]);
    r.accept(at(SLOT, 400), &commit);
    assert_eq!(r.mv.state_entries(), 1);
}

// ----- pubsub and envelope -----

#[test]
fn pubsub_rules() {
    let mut r = Run::new();
    assert_eq!(r.bytes(at(SLOT, 0), &[]), Verdict::Reject(F::PubSubMessageHasNoData));
    let big = vec![0u8; MAX_ENCODED_MSG_SIZE + 1];
    assert_eq!(r.bytes(at(SLOT, 0), &big), Verdict::Ignore(F::PubSubDataTooBig(big.len())));
    assert_eq!(r.bytes(at(SLOT, 0), &[1, 2, 3]), Verdict::Reject(F::MalformedPubSubMessage));
}

#[test]
fn signed_message_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let base = prepare(1, 1);
    let with = |ids: Vec<u64>, sigs: Vec<Vec<u8>>| SignedSsvMessage {
        operator_ids: VariableList::new(ids).unwrap(),
        signatures: VariableList::new(
            sigs.into_iter().map(|s| VariableList::new(s).unwrap()).collect(),
        )
        .unwrap(),
        ..base.clone()
    };
    let s = || vec![9u8; 256];
    r.expect(now, &with(vec![], vec![s()]), F::NoSigners);
    r.expect(now, &with(vec![1], vec![]), F::NoSignatures);
    r.expect(now, &with(vec![1], vec![vec![9u8; 255]]), F::WrongRsaSignatureSize);
    r.expect(now, &with(vec![2, 1], vec![s(), s()]), F::SignersNotSorted);
    r.expect(now, &with(vec![1, 2], vec![s()]), F::SignersAndSignaturesWithDifferentLength);
    r.expect(now, &with(vec![0], vec![s()]), F::ZeroSigner);
    r.expect(now, &with(vec![1, 1], vec![s(), s()]), F::DuplicatedSigner);
    r.expect(now, &with(vec![1, 9], vec![s(), s()]), F::UnknownOperator);
}

#[test]
fn ssv_message_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let q = qbft(1, committee_msg_id(), SLOT, 1, [1; 32]).as_ssz_bytes();
    r.expect(now, &sign(0, committee_msg_id(), vec![], &[1], vec![]), F::EmptyData);
    r.expect(
        now,
        &sign(SSV_EVENT_MSG_TYPE, committee_msg_id(), q.clone(), &[1], vec![]),
        F::EventMessage,
    );
    r.expect(now, &sign(2, committee_msg_id(), q.clone(), &[1], vec![]), F::UnknownSsvMessageType);
    let other = MessageId::for_committee(
        DomainType::ALAN_MAINNET,
        RunnerRole::Committee,
        &committee_id().0,
    );
    r.expect(now, &sign(0, other, q.clone(), &[1], vec![]), F::WrongDomain);
    let mut bad_role = committee_msg_id();
    bad_role.0[4] = 9;
    r.expect(now, &sign(0, bad_role, q, &[1], vec![]), F::InvalidRole);
    // Partial-signature data above its own bound (below the SSZ bound of SSVMessage.data).
    let big = vec![0u8; MAX_ENCODED_PARTIAL_SIGNATURE_SIZE + 1];
    r.expect(now, &sign(1, committee_msg_id(), big, &[1], vec![]), F::SsvDataTooBig);
}

// ----- committee and validator lookup -----

#[test]
fn committee_lookup_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let unknown = MessageId::for_committee(DOMAIN, RunnerRole::Committee, &[5; 32]);
    r.expect(
        now,
        &consensus(&qbft(1, unknown, SLOT, 1, [1; 32]), &[1], vec![]),
        F::NonExistentCommitteeId,
    );

    let empty = r.view.add_committee(&[1, 2, 3, 5], &[]);
    let id = MessageId::for_committee(DOMAIN, RunnerRole::Committee, &empty.0);
    r.expect(now, &consensus(&qbft(1, id, SLOT, 1, [1; 32]), &[1], vec![]), F::NoValidators);

    r.expect(now, &prepare(5, 1), F::SignerNotInCommittee);

    let m = prepare(1, 1).as_ssz_bytes();
    let v = r.mv.validate(now, PEER, "ssv.v2.999", &m, &r.view);
    assert_eq!(v, Verdict::Ignore(F::IncorrectTopic));
    // The base name alone is accepted, as Go's TrimPrefix allows.
    let base = committee_subnet(&committee_id()).to_string();
    assert!(matches!(r.mv.validate(now, PEER, &base, &m, &r.view), Verdict::Accept(_)));
}

#[test]
fn validator_lookup_rules() {
    let now = at(SLOT, 0);
    let agg = |pk: [u8; 48]| {
        let id = MessageId::for_validator(DOMAIN, RunnerRole::Aggregator, &pk);
        consensus(&qbft(1, id, SLOT, 1, [1; 32]), &[1], vec![])
    };
    let mut r = Run::new();
    r.expect(now, &agg([8; 48]), F::UnknownValidator);
    let cases = [
        (true, ValidatorStatus::Attesting, F::ValidatorLiquidated),
        (false, ValidatorStatus::Unknown, F::NoShareMetadata),
        (false, ValidatorStatus::NotAttesting, F::ValidatorNotAttesting),
        (false, ValidatorStatus::PendingQueued { activation_epoch: 99 }, F::ValidatorNotAttesting),
    ];
    for (liquidated, status, want) in cases {
        r.view.add_validator([8; 48], 20, &[1, 2, 3, 4], liquidated, status);
        r.expect(now, &agg([8; 48]), want);
    }
    r.view.add_validator(
        [8; 48],
        20,
        &[1, 2, 3, 4],
        false,
        ValidatorStatus::PendingQueued { activation_epoch: 2 },
    );
    r.accept(now, &agg([8; 48]));
}

// ----- consensus semantics -----

#[test]
fn consensus_semantic_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let id = committee_msg_id();
    r.expect(now, &sign(0, id, vec![1, 2, 3], &[1], vec![]), F::UndecodableMessageData);
    r.expect(
        now,
        &consensus(&qbft(1, id, SLOT, 1, [1; 32]), &[1, 2, 3], vec![]),
        F::NonDecidedWithMultipleSigners,
    );
    r.expect(
        now,
        &consensus(&qbft(2, id, SLOT, 1, [1; 32]), &[1, 2], vec![]),
        F::DecidedNotEnoughSigners,
    );
    let full = b"value".to_vec();
    let root: [u8; 32] = Sha256::digest(&full).into();
    r.expect(
        now,
        &consensus(&qbft(1, id, SLOT, 1, root), &[1], full.clone()),
        F::PrepareOrCommitWithFullData,
    );
    r.expect(
        now,
        &consensus(&qbft(2, id, SLOT, 1, root), &[1], full.clone()),
        F::PrepareOrCommitWithFullData,
    );
    let l = leader(SLOT, 1);
    r.expect(now, &consensus(&qbft(0, id, SLOT, 1, [0; 32]), &[l], full), F::InvalidHash);
    r.expect(
        now,
        &consensus(&qbft(7, id, SLOT, 1, [1; 32]), &[1], vec![]),
        F::UnknownQbftMessageType,
    );
    r.expect(now, &consensus(&qbft(1, id, SLOT, 0, [1; 32]), &[1], vec![]), F::ZeroRound);
    r.expect(now, &consensus(&qbft(1, id, SLOT, 13, [1; 32]), &[1], vec![]), F::RoundTooHigh);
    let prop_id = validator_msg_id(RunnerRole::Proposer);
    r.expect(now, &consensus(&qbft(1, prop_id, SLOT, 7, [1; 32]), &[1], vec![]), F::RoundTooHigh);
    let exit_id = validator_msg_id(RunnerRole::VoluntaryExit);
    r.expect(
        now,
        &consensus(&qbft(1, exit_id, SLOT, 1, [1; 32]), &[1], vec![]),
        F::UnexpectedConsensusMessage,
    );
    let reg_id = validator_msg_id(RunnerRole::ValidatorRegistration);
    r.expect(
        now,
        &consensus(&qbft(1, reg_id, SLOT, 1, [1; 32]), &[1], vec![]),
        F::UnexpectedConsensusMessage,
    );
    // Identifier of another committee inside this committee's message.
    let mut q = qbft(1, id, SLOT, 1, [1; 32]);
    q.identifier = VariableList::new(vec![1; 56]).unwrap();
    r.expect(now, &sign(0, id, q.as_ssz_bytes(), &[1], vec![]), F::MismatchedIdentifier);
}

#[test]
fn justification_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let id = committee_msg_id();
    let good = encode_justifications(&[prepare(2, 1)]).unwrap();
    let garbage = VariableList::new(vec![VariableList::new(vec![1, 2, 3]).unwrap()]).unwrap();

    let mut q = qbft(1, id, SLOT, 1, [1; 32]);
    q.prepare_justification = garbage;
    r.expect(now, &consensus(&q, &[1], vec![]), F::MalformedPrepareJustifications);
    q.prepare_justification = good.clone();
    r.expect(now, &consensus(&q, &[1], vec![]), F::UnexpectedPrepareJustifications);

    let rc_good = encode_justifications(&[prepare(2, 1)]).unwrap();
    let rc_garbage = VariableList::new(vec![VariableList::new(vec![1, 2, 3]).unwrap()]).unwrap();
    let mut q = qbft(1, id, SLOT, 1, [1; 32]);
    q.round_change_justification = rc_garbage;
    r.expect(now, &consensus(&q, &[1], vec![]), F::MalformedRoundChangeJustifications);
    q.round_change_justification = rc_good.clone();
    r.expect(now, &consensus(&q, &[1], vec![]), F::UnexpectedRoundChangeJustifications);

    // Both kinds are fine on a proposal; round-change justifications on a round change.
    let full = b"v".to_vec();
    let root: [u8; 32] = Sha256::digest(&full).into();
    let mut p = qbft(0, id, SLOT, 1, root);
    p.prepare_justification = good;
    p.round_change_justification = rc_good.clone();
    r.accept(now, &consensus(&p, &[leader(SLOT, 1)], full));
    let mut rc = qbft(3, id, SLOT, 1, [0; 32]);
    rc.round_change_justification = rc_good;
    r.accept(now, &consensus(&rc, &[2], vec![]));
}

// ----- QBFT logic -----

#[test]
fn proposal_must_come_from_the_round_leader() {
    let mut r = Run::new();
    let full = b"v".to_vec();
    let root: [u8; 32] = Sha256::digest(&full).into();
    let not_leader = if leader(SLOT, 1) == 1 { 2 } else { 1 };
    let m = consensus(&qbft(0, committee_msg_id(), SLOT, 1, root), &[not_leader], full);
    r.expect(at(SLOT, 0), &m, F::SignerNotLeader);
}

#[test]
fn round_may_not_go_back_and_messages_are_not_repeated() {
    let mut r = Run::new();
    r.accept(at(SLOT, 2_100), &prepare(1, 2));
    r.expect(at(SLOT, 2_200), &prepare(1, 1), F::RoundAlreadyAdvanced);
    r.expect(at(SLOT, 2_200), &prepare(1, 2), F::DuplicatedMessage);
    // Another peer has its own state.
    let m = prepare(1, 1).as_ssz_bytes();
    assert!(matches!(
        r.mv.validate(at(SLOT, 2_200), b"peer-b", &topic(), &m, &r.view),
        Verdict::Accept(_)
    ));
    // A higher round resets what was seen.
    r.accept(at(SLOT, 4_100), &prepare(1, 3));
}

#[test]
fn second_proposal_in_a_round() {
    let mut r = Run::new();
    let id = committee_msg_id();
    r.accept(at(SLOT, 0), &proposal(id, SLOT, 1, b"a"));
    r.expect(at(SLOT, 10), &proposal(id, SLOT, 1, b"b"), F::DifferentProposalData);
    r.expect(at(SLOT, 10), &proposal(id, SLOT, 1, b"a"), F::DuplicatedMessage);
}

#[test]
fn decided_with_same_signers_is_ignored() {
    let mut r = Run::new();
    let commit = |s: &[u64]| consensus(&qbft(2, committee_msg_id(), SLOT, 1, [1; 32]), s, vec![]);
    r.accept(at(SLOT, 0), &commit(&[1, 2, 3]));
    r.expect(at(SLOT, 10), &commit(&[1, 2, 3]), F::DecidedWithSameSigners);
    r.accept(at(SLOT, 10), &commit(&[1, 2, 3, 4]));
    r.accept(at(SLOT, 10), &commit(&[2, 3, 4]));
}

#[test]
fn round_must_be_within_the_time_estimate() {
    let mut r = Run::new();
    // At slot start the estimate is round 1, so round 2 is the highest allowed.
    r.expect(at(SLOT, 0), &prepare(1, 3), F::EstimatedRoundNotInAllowedSpread);
    r.accept(at(SLOT, 0), &prepare(1, 2));
    // 4 s in: estimate 3, so round 4 is allowed.
    r.accept(at(SLOT, 4_000), &prepare(2, 4));
    // Slow rounds: after 16 s + 120 s the estimate is 10.
    r.accept(at(SLOT, 136_000), &prepare(3, 11));
    r.expect(at(SLOT, 136_000), &prepare(4, 12), F::EstimatedRoundNotInAllowedSpread);
    // Decided messages are not subject to the estimate.
    let commit = consensus(&qbft(2, committee_msg_id(), SLOT, 9, [1; 32]), &[1, 2, 3], vec![]);
    r.accept(at(SLOT, 0), &commit);
}

#[test]
fn short_slots_estimate_rounds_with_the_instances_quick_timeout() {
    // A 4-second devnet: rounds last 666 ms (`quick_timeout_ms`), so 2 s into the slot the
    // estimate is round 4 and round 5 is allowed; with Go's fixed 2 s it would be round 3.
    let cfg = ValidationConfig { slot_duration_ms: 4_000, ..config() };
    let start = cfg.slot_start_ms(SLOT);
    let mut r = Run { mv: MessageValidator::new(cfg), view: view().0 };
    let at4 = |ms: u64| start + ms;
    r.accept(at4(2_000), &prepare(1, 5));
    r.expect(at4(2_000), &prepare(2, 6), F::EstimatedRoundNotInAllowedSpread);
}

// ----- duty logic -----

#[test]
fn slot_time_window() {
    let mut r = Run::new();
    r.expect(at(SLOT, -51), &prepare(1, 1), F::EarlySlotMessage);
    r.accept(at(SLOT, -50), &prepare(1, 1));
    // Committee: 34 slots + 3 s + 50 ms of tolerance.
    let late = config().slot_start_ms(SLOT + 34) + 3_000 + 51;
    r.expect(late, &prepare(2, 1), F::LateSlotMessage);
    // Proposer: 3 slots. Needs a duty.
    r.view.add_proposer_duty(2, SLOT, VALIDATOR_INDEX);
    let p = partial(validator_msg_id(RunnerRole::Proposer), 1, SLOT, 1, &[VALIDATOR_INDEX]);
    let late = config().slot_start_ms(SLOT + 3) + 3_051;
    r.expect(late, &p, F::LateSlotMessage);
    r.accept(late - 1, &p);
    // Registrations never expire.
    let reg = partial(
        validator_msg_id(RunnerRole::ValidatorRegistration),
        4,
        SLOT,
        1,
        &[VALIDATOR_INDEX],
    );
    r.accept(at(SLOT + 1000, 0), &reg);
}

#[test]
fn slot_may_not_go_back_for_validator_roles() {
    let mut r = Run::new();
    let id = validator_msg_id(RunnerRole::Aggregator);
    let agg = |slot: Slot| consensus(&qbft(1, id, slot, 1, [1; 32]), &[1], vec![]);
    r.accept(at(SLOT + 1, 0), &agg(SLOT + 1));
    r.expect(at(SLOT + 1, 0), &agg(SLOT), F::SlotAlreadyAdvanced);
    let psig = partial(id, 2, SLOT, 1, &[VALIDATOR_INDEX]);
    r.expect(at(SLOT + 1, 0), &psig, F::SlotAlreadyAdvanced);
    // The committee role has no such rule.
    let mut r = Run::new();
    r.accept(
        at(SLOT + 1, 0),
        &consensus(&qbft(1, committee_msg_id(), SLOT + 1, 1, [1; 32]), &[1], vec![]),
    );
    r.accept(at(SLOT + 1, 0), &prepare(1, 1));
}

#[test]
fn duties_per_epoch_are_limited() {
    let mut r = Run::new();
    // Aggregator: 2 per epoch (SLOT..SLOT+2 share epoch 2).
    let id = validator_msg_id(RunnerRole::Aggregator);
    let agg = |slot: Slot| partial(id, 2, slot, 1, &[VALIDATOR_INDEX]);
    r.accept(at(SLOT + 2, 0), &agg(SLOT));
    r.expect(at(SLOT + 2, 0), &agg(SLOT), F::InvalidPartialSignatureTypeCount);
    r.accept(at(SLOT + 2, 0), &agg(SLOT + 1));
    r.expect(at(SLOT + 2, 0), &agg(SLOT + 2), F::TooManyDutiesPerEpoch);

    // Committee of 2 validators: min(32, 2·2) = 4 slots per epoch.
    let mut r = Run::new();
    let post = |slot: Slot| partial(committee_msg_id(), 0, slot, 1, &[10]);
    for s in 0..4 {
        r.accept(at(SLOT + 4, 0), &post(SLOT + s));
    }
    r.expect(at(SLOT + 4, 0), &post(SLOT + 4), F::TooManyDutiesPerEpoch);
    // A validator in the sync committee lifts the limit to 32.
    r.view.add_sync_committee_duty(0, 11);
    r.accept(at(SLOT + 4, 0), &post(SLOT + 4));

    // Voluntary exit: as many as the duty store holds.
    let mut r = Run::new();
    let exit = partial(validator_msg_id(RunnerRole::VoluntaryExit), 5, SLOT, 1, &[VALIDATOR_INDEX]);
    r.expect(at(SLOT, 0), &exit, F::TooManyDutiesPerEpoch);
    r.view.set_voluntary_exit_duties(SLOT, VALIDATOR_PK, 1);
    r.accept(at(SLOT, 0), &exit);
}

#[test]
fn proposer_and_sync_committee_contribution_need_a_duty() {
    let mut r = Run::new();
    let randao = |slot: Slot| {
        partial(validator_msg_id(RunnerRole::Proposer), 1, slot, 1, &[VALIDATOR_INDEX])
    };
    // RANDAO at an epoch's first slot (64) is tolerated while the epoch's duties are unknown.
    r.accept(at(64, 0), &randao(64));
    r.expect(at(SLOT, 0), &randao(SLOT), F::NoDuty);
    let mut r = Run::new();
    r.view.set_proposer_epoch_known(2);
    r.expect(at(64, 0), &randao(64), F::NoDuty);
    r.view.add_proposer_duty(2, 64, VALIDATOR_INDEX);
    r.accept(at(64, 0), &randao(64));

    let proofs = partial(
        validator_msg_id(RunnerRole::SyncCommitteeContribution),
        3,
        SLOT,
        1,
        &[VALIDATOR_INDEX],
    );
    r.expect(at(SLOT, 0), &proofs, F::NoDuty);
    r.view.add_sync_committee_duty(0, VALIDATOR_INDEX);
    r.accept(at(SLOT, 0), &proofs);
}

// ----- partial signatures -----

#[test]
fn partial_signature_semantic_rules() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let id = committee_msg_id();
    r.expect(now, &sign(1, id, vec![1, 2, 3], &[1], vec![]), F::UndecodableMessageData);
    r.expect(
        now,
        &sign(1, id, psig_data(0, SLOT, 1, &[10]), &[1, 2], vec![]),
        F::PartialSigOneSigner,
    );
    r.expect(
        now,
        &sign(1, id, psig_data(0, SLOT, 1, &[10]), &[1], vec![1]),
        F::FullDataNotInConsensusMessage,
    );
    r.expect(now, &partial(id, 9, SLOT, 1, &[10]), F::InvalidPartialSignatureType);
    r.expect(now, &partial(id, 1, SLOT, 1, &[10]), F::PartialSignatureTypeRoleMismatch);
    let agg = validator_msg_id(RunnerRole::Aggregator);
    r.expect(
        now,
        &partial(agg, 1, SLOT, 1, &[VALIDATOR_INDEX]),
        F::PartialSignatureTypeRoleMismatch,
    );
    r.expect(now, &partial(id, 0, SLOT, 1, &[]), F::NoPartialSignatureMessages);
    r.expect(now, &sign(1, id, psig_data(0, SLOT, 2, &[10]), &[1], vec![]), F::InconsistentSigners);
    r.expect(now, &partial(agg, 2, SLOT, 1, &[99]), F::ValidatorIndexMismatch);
    // Committee messages may name any index (operators need not agree on the validator set).
    r.accept(now, &partial(id, 0, SLOT, 1, &[99]));
}

#[test]
fn partial_signature_counts() {
    let now = at(SLOT, 0);
    let id = committee_msg_id();
    let mut r = Run::new();
    // Two validators: at most min(2·2, 2 + 512) = 4 signatures.
    r.expect(
        now,
        &partial(id, 0, SLOT, 1, &[10, 11, 10, 11, 12]),
        F::TooManyPartialSignatureMessages,
    );
    r.expect(
        now,
        &partial(id, 0, SLOT, 1, &[10, 10, 10]),
        F::TripleValidatorIndexInPartialSignatures,
    );
    r.accept(now, &partial(id, 0, SLOT, 1, &[10, 11, 10, 11]));
    r.expect(now, &partial(id, 0, SLOT, 1, &[10]), F::InvalidPartialSignatureTypeCount);
    // Validator roles: one signature, except sync-committee contribution with up to 13.
    let agg = validator_msg_id(RunnerRole::Aggregator);
    r.expect(
        now,
        &partial(agg, 2, SLOT, 1, &[VALIDATOR_INDEX; 2]),
        F::TooManyPartialSignatureMessages,
    );
    r.view.add_sync_committee_duty(0, VALIDATOR_INDEX);
    let scc = validator_msg_id(RunnerRole::SyncCommitteeContribution);
    r.expect(
        now,
        &partial(scc, 3, SLOT, 1, &[VALIDATOR_INDEX; 14]),
        F::TooManyPartialSignatureMessages,
    );
    r.accept(now, &partial(scc, 3, SLOT, 1, &[VALIDATOR_INDEX; 13]));
    // Pre- and post-consensus are counted apart.
    r.accept(now, &partial(scc, 0, SLOT, 1, &[VALIDATOR_INDEX]));
}

// ----- signatures -----

#[test]
fn rsa_signatures_are_verified_last() {
    let mut r = Run::new();
    let now = at(SLOT, 0);
    let mut m = prepare(1, 1);
    let mut sig = m.signatures[0].to_vec();
    sig[10] ^= 1;
    m.signatures = VariableList::new(vec![VariableList::new(sig).unwrap()]).unwrap();
    r.expect(now, &m, F::SignatureVerification);
    // A valid signature by another operator's key.
    let mut m = prepare(1, 1);
    m.signatures = prepare(2, 1).signatures;
    r.expect(now, &m, F::SignatureVerification);
    // A registered operator without a usable key.
    r.view.add_operator(1, None);
    r.expect(now, &prepare(1, 1), F::SignatureVerification);
    // One bad signature in a decided message.
    let mut r = Run::new();
    let mut d = consensus(&qbft(2, committee_msg_id(), SLOT, 1, [1; 32]), &[1, 2, 3], vec![]);
    let mut sigs: Vec<_> = d.signatures.iter().cloned().collect();
    sigs[2] = prepare(3, 1).signatures[0].clone();
    d.signatures = VariableList::new(sigs).unwrap();
    r.expect(now, &d, F::SignatureVerification);
    // A cheap rule fails before the (bad) signature is looked at.
    let mut m = prepare(5, 1);
    m.signatures = prepare(2, 1).signatures;
    r.expect(now, &m, F::SignerNotInCommittee);
}

// ----- state -----

#[test]
fn state_expires_and_is_bounded() {
    let mut r = Run::new();
    r.accept(at(SLOT, 0), &prepare(1, 1));
    let expiry = r.mv.poll_timeout().unwrap();
    assert_eq!(expiry, at(SLOT, 0) + 34 * 12_000);
    r.mv.handle_timeout(expiry - 1);
    assert_eq!(r.mv.state_entries(), 1);
    r.mv.handle_timeout(expiry);
    r.mv.handle_timeout(expiry);
    assert_eq!(r.mv.state_entries(), 0);
    assert_eq!(r.mv.poll_timeout(), None);

    let mut r = Run::new();
    r.mv.config.max_state_entries = 2;
    let m = prepare(1, 1).as_ssz_bytes();
    for (i, peer) in [b"p1", b"p2", b"p3"].iter().enumerate() {
        let v = r.mv.validate(at(SLOT, i as i64), *peer, &topic(), &m, &r.view);
        assert!(matches!(v, Verdict::Accept(_)));
    }
    assert_eq!(r.mv.state_entries(), 2);
    // The oldest (p1) was evicted, so p1 may send again; p3 may not.
    let v = r.mv.validate(at(SLOT, 10), b"p3", &topic(), &m, &r.view);
    assert_eq!(v, Verdict::Reject(F::DuplicatedMessage));
    let v = r.mv.validate(at(SLOT, 10), b"p1", &topic(), &m, &r.view);
    assert!(matches!(v, Verdict::Accept(_)));
}

#[test]
fn the_same_inputs_give_the_same_verdicts() {
    let msgs: Vec<Vec<u8>> = vec![
        prepare(1, 1).as_ssz_bytes(),
        prepare(1, 1).as_ssz_bytes(),
        prepare(2, 3).as_ssz_bytes(),
        proposal(committee_msg_id(), SLOT, 1, b"x").as_ssz_bytes(),
        vec![1, 2, 3],
    ];
    let run = || {
        let mut r = Run::new();
        msgs.iter().map(|m| r.bytes(at(SLOT, 0), m)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    use quickcheck::{QuickCheck, TestResult};
    #[allow(clippy::needless_pass_by_value)]
    fn prop(data: Vec<u8>, offset: u16) -> TestResult {
        let (view, _) = view();
        let mut mv = MessageValidator::new(config());
        let v = mv.validate(at(SLOT, i64::from(offset)), PEER, "ssv.v2.1", &data, &view);
        TestResult::from_bool(!matches!(v, Verdict::Accept(_)) && mv.state_entries() == 0)
    }
    QuickCheck::new().tests(2000).quickcheck(prop as fn(Vec<u8>, u16) -> TestResult);
}

#[test]
fn never_panics_on_mutated_valid_messages() {
    use quickcheck::{QuickCheck, TestResult};
    fn prop(flips: Vec<(u32, u8)>) -> TestResult {
        static VALID: OnceLock<Vec<u8>> = OnceLock::new();
        let valid =
            VALID.get_or_init(|| proposal(committee_msg_id(), SLOT, 1, b"value").as_ssz_bytes());
        let (view, _) = view();
        let mut data = valid.clone();
        for (at_, x) in flips {
            let i = at_ as usize % data.len();
            data[i] ^= x;
        }
        let mut mv = MessageValidator::new(config());
        let _ = mv.validate(at(SLOT, 0), PEER, &topic(), &data, &view);
        TestResult::passed()
    }
    QuickCheck::new().tests(300).quickcheck(prop as fn(Vec<(u32, u8)>) -> TestResult);
}

// ----- two-phase validation -----

/// A stream with duplicates, a round going back, a forged signature, a second proposal,
/// partials and a decided, from two peers.
fn mixed_stream() -> Vec<(UnixMillis, &'static [u8], Vec<u8>)> {
    let id = committee_msg_id();
    let mut forged = prepare(3, 2);
    forged.signatures = prepare(4, 2).signatures;
    let decided = consensus(&qbft(2, id, SLOT, 1, [1; 32]), &[1, 2, 3], vec![]);
    let list: Vec<(i64, &'static [u8], SignedSsvMessage)> = vec![
        (0, PEER, proposal(id, SLOT, 1, b"a")),
        (10, PEER, proposal(id, SLOT, 1, b"b")),
        (20, PEER, proposal(id, SLOT, 1, b"a")),
        (30, PEER, prepare(2, 1)),
        (40, PEER, prepare(2, 1)),
        (50, b"peer-b", prepare(2, 1)),
        (2_100, PEER, forged.clone()),
        (2_150, PEER, prepare(3, 2)),
        (2_200, PEER, prepare(3, 1)),
        (2_300, PEER, partial(id, 0, SLOT, 3, &[10, 11])),
        (2_400, PEER, partial(id, 0, SLOT, 3, &[10, 11])),
        (2_500, PEER, decided.clone()),
        (2_600, PEER, decided),
        (2_700, b"peer-b", forged),
    ];
    list.into_iter().map(|(ms, peer, m)| (at(SLOT, ms), peer, m.as_ssz_bytes())).collect()
}

#[test]
fn two_phase_gives_the_sequential_verdicts_whatever_the_verification_order() {
    let (view, _) = view();
    let stream = mixed_stream();
    let mut sequential = MessageValidator::new(config());
    let want: Vec<Verdict> =
        stream.iter().map(|(t, p, d)| sequential.validate(*t, p, &topic(), d, &view)).collect();
    assert!(want.iter().any(|v| matches!(v, Verdict::Accept(_))));
    assert!(want.iter().any(|v| v.failure() == Some(&F::SignatureVerification)));
    assert!(want.iter().any(|v| v.failure() == Some(&F::DuplicatedMessage)));

    // Every pre-check against the state before any commit (as a pipeline that is behind),
    // verification in reverse order (as parallel workers finishing out of order), then
    // commits in arrival order.
    let mut two_phase = MessageValidator::new(config());
    let pre: Vec<bool> = stream
        .iter()
        .map(|(t, p, d)| two_phase.pre_check(*t, p, &topic(), d, &view).is_ok())
        .collect();
    assert!(two_phase.states.is_empty(), "a pre-check changes nothing");
    let mut checks: Vec<Option<SignatureCheck>> = vec![None; stream.len()];
    for i in (0..stream.len()).rev() {
        if pre[i] {
            checks[i] = Some(verify_message_signatures(&stream[i].2, &view));
        }
    }
    let got: Vec<Verdict> = stream
        .iter()
        .zip(&checks)
        .map(|((t, p, d), c)| two_phase.commit(*t, p, &topic(), d, &view, *c))
        .collect();
    assert_eq!(got, want);
    assert_eq!(two_phase.states, sequential.states);
}

#[test]
fn pre_check_refuses_cheap_failures_and_leaves_signatures_to_the_workers() {
    let (view, _) = view();
    let mv = MessageValidator::new(config());
    let mut forged = prepare(1, 1);
    forged.signatures = prepare(2, 1).signatures;
    let forged = forged.as_ssz_bytes();
    // The forged signature is not looked at by the pre-check.
    assert_eq!(mv.pre_check(at(SLOT, 0), PEER, &topic(), &forged, &view), Ok(()));
    assert_eq!(verify_message_signatures(&forged, &view), SignatureCheck::Invalid);
    assert_eq!(
        verify_message_signatures(&prepare(1, 1).as_ssz_bytes(), &view),
        SignatureCheck::Valid
    );
    assert_eq!(verify_message_signatures(b"junk", &view), SignatureCheck::Invalid);
    // A wrong topic fails before any RSA.
    let err = mv.pre_check(at(SLOT, 0), PEER, "ssv.v2.0", &forged, &view).unwrap_err();
    assert!(err.failure().is_some());
    // A known-valid result is trusted; a known-invalid one rejects.
    let mut mv = mv;
    let v = mv.commit(at(SLOT, 0), PEER, &topic(), &forged, &view, Some(SignatureCheck::Valid));
    assert!(matches!(v, Verdict::Accept(_)));
    let good = prepare(2, 1).as_ssz_bytes();
    let v = mv.commit(at(SLOT, 0), PEER, &topic(), &good, &view, Some(SignatureCheck::Invalid));
    assert_eq!(v.failure(), Some(&F::SignatureVerification));
}
