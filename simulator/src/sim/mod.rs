//! Seeded whole-cluster simulation of SSV operator clusters under adversarial schedules,
//! with record, replay and shrink.
//!
//! A run is a pure function of one `u64` seed and its [`SimOptions`]: n operator nodes
//! ([`node::SimNode`]: the sans-IO QBFT cores plus the shell's decoding, signature checks,
//! routing and early-message retry queue) run the committee and proposer duties of every
//! slot ([`duties`]) over a seeded network emulator ([`net`]) with loss, duplication,
//! reordering, partitions that heal, crashes with restarts from persisted state, clock
//! skews, faulty beacon nodes and byzantine operators ([`options::Behaviour`]). The
//! invariants ([`invariants`]) are checked after every step; every input to every node is
//! recorded ([`trace`]) so that a run replays exactly and a failing run shrinks
//! ([`replay()`], [`shrink()`]).
//!
//! With [`SimOptions::duty_runners`] the nodes run the core's duty runners instead
//! ([`runners::DutyNode`]: a `Committee` of `CommitteeRunner`s per operator) against the
//! in-memory beacon chain ([`crate::chain`]): attestation data comes from the chain after
//! seeded delays and failures, shares sign with real BLS behind each node's slashing
//! history, and the chain verifies every submission. The invariants then also require that
//! no honest node signs a slashable attestation, that every submission verifies, and that
//! every due duty is submitted by every live node before its deadline.
//!
//! Modelled on TigerBeetle's VOPR (fault mixes drawn per seed, safety then liveness after
//! the heal) and madsim/turmoil (one seeded scheduler, determinism checked by trace hash).

pub mod aggregation;
pub mod cli;
pub mod crypto;
pub mod describe;
pub mod duties;
pub mod invariants;
pub mod net;
pub mod node;
pub mod options;
pub mod registration;
pub mod replay;
pub mod rng;
pub mod runners;
pub mod trace;
pub mod world;

pub use invariants::{Violation, ViolationKind};
pub use options::{Behaviour, CryptoMode, Density, ExitAt, SimOptions};
pub use replay::{ReplayReport, ShrinkReport, replay, shrink};
pub use trace::Trace;
pub use world::{RunReport, run};
