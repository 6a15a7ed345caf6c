//! QBFT consensus (ssv-spec v1.2.2 `qbft/`): a sans-IO [`Instance`] (one height) and
//! [`Controller`] (the heights of one duty executor and role).
//!
//! # Driving contract
//! Both machines follow one shape, after quinn-proto:
//!
//! ```text
//! handle(&mut self, now: UnixMillis, input, out: &mut Vec<Output>) -> Result<(), QbftError>
//! poll_timeout(&self) -> Option<UnixMillis>
//! ```
//!
//! - The caller owns the clock: it passes `now` with every input, sleeps until
//!   `poll_timeout()` and then passes a `Timeout` input. A timeout before the deadline, or
//!   a second one for the same round, does nothing.
//! - Outputs are values pushed to `out` in order: [`Output::Broadcast`] (a message already
//!   signed through the configured [`OperatorSigner`]), [`Output::TimerSet`] (informative:
//!   `poll_timeout` is the authority) and [`Output::Decided`] (the value and the aggregated
//!   commit, signers sorted by operator id).
//! - Incoming messages' own signatures are the shell's job (checked statelessly, in
//!   parallel, before `handle`). Signatures the spec checks inside QBFT (justifications and
//!   decided messages) go through the configured [`SignatureVerifier`].
//! - Errors are [`QbftError`]s carrying the spec's v1.2.2 code via
//!   [`SpecError`](crate::error::SpecError); a rejected input leaves the state unchanged.
//! - State is plain data ([`State`], [`InstanceData`], [`ControllerData`]) with serde, for
//!   snapshots and comparison with the vectors' post-states.
//!
//! Nothing here reads a clock, draws randomness, spawns or does IO.

mod config;
mod container;
mod controller;
mod error;
mod instance;
mod message;

pub use config::{
    CUT_OFF_ROUND, CommitteeMember, FakeSignatures, FixedProposer, MIN_QUICK_TIMEOUT_MS,
    NonEmptyValue, Operator, OperatorSigner, ProposerSelection, QUICK_TIMEOUT_MS,
    QUICK_TIMEOUT_ROUND_MAX, QbftConfig, RoundRobinProposer, RoundTimeoutPolicy, RsaSigner,
    RsaVerifier, SLOW_TIMEOUT_MS, SignatureVerifier, SlotAnchor, SlotRelativeTimeouts,
    SpecTimeouts, ValueCheck, quick_timeout_ms,
};
pub use container::{MsgContainer, unique_signers};
pub use controller::{
    Controller, ControllerData, ControllerInput, FIRST_HEIGHT, STORED_INSTANCES_MAX,
};
pub use error::{QbftError, SignError, ValueCheckError};
pub use instance::{Instance, InstanceData, InstanceInput, RoundTimer, State};
pub use message::{ProcessingMessage, hash_data_root};

use crate::types::{Height, SignedSsvMessage};

/// A QBFT round; the first is 1.
pub type Round = u64;
/// A point in time: milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// "No round" (`NoRound`): e.g. nothing prepared yet.
pub const NO_ROUND: Round = 0;
/// The round every instance starts in (`FirstRound`).
pub const FIRST_ROUND: Round = 1;

/// An instance decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The height that decided.
    pub height: Height,
    /// The round of the commit quorum.
    pub round: Round,
    /// The decided value (SSZ consensus data).
    pub value: Vec<u8>,
    /// One commit carrying a quorum of signers (sorted by operator id) and the value as
    /// full data: the spec's decided message.
    pub aggregated_commit: SignedSsvMessage,
}

/// What a QBFT machine asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Broadcast this signed message to the committee's topic.
    Broadcast(SignedSsvMessage),
    /// The round timer of `height` now runs for `round` and fires at `deadline`
    /// (the spec's `TimeoutForRound`).
    TimerSet {
        /// The instance's height.
        height: Height,
        /// The round it was started for.
        round: Round,
        /// When it fires, Unix milliseconds.
        deadline: UnixMillis,
    },
    /// The instance decided (or a valid decided message arrived for an undecided height).
    Decided(Decided),
}
