//! What a run simulates: the cluster, its duties and the faults, all fixed by the seed and
//! these options. Options are part of a trace's header, so a trace replays on its own.

use serde::{Deserialize, Serialize};

use super::rng::Rng;

/// Operator signatures in the simulated world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CryptoMode {
    /// `sha256(public_key ‖ message)` stand-ins: the same code paths, about 100x cheaper.
    #[default]
    Fake,
    /// RSA-2048 PKCS#1 v1.5 with the simulator's fixed test keys.
    Real,
}

/// How a byzantine operator misbehaves. Each one runs the honest core; the world alters
/// what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Behaviour {
    /// Sends nothing, ever.
    Silent,
    /// Two replicas started with different values, each talking to half of the committee:
    /// an equivocating leader proposes two values.
    Equivocate,
    /// Half of its messages carry a corrupted signature.
    BadSignature,
    /// Sends random bytes and validly signed messages with random QBFT payloads.
    Garbage,
    /// Re-sends old messages it saw, from earlier rounds and slots.
    Replay,
    /// Sends validly signed round changes for many future rounds.
    RoundChangeSpam,
    /// Duty path: sends post-consensus partial signatures that conflict with its real ones
    /// (real BLS signatures over other roots), before or instead of the real ones.
    ConflictingPartials,
}

impl Behaviour {
    /// Every behaviour, for swarm draws and the CLI.
    pub const ALL: [Self; 7] = [
        Self::Silent,
        Self::Equivocate,
        Self::BadSignature,
        Self::Garbage,
        Self::Replay,
        Self::RoundChangeSpam,
        Self::ConflictingPartials,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Silent => "silent",
            Self::Equivocate => "equivocate",
            Self::BadSignature => "bad-signature",
            Self::Garbage => "garbage",
            Self::Replay => "replay",
            Self::RoundChangeSpam => "round-change-spam",
            Self::ConflictingPartials => "conflicting-partials",
        }
    }

    /// Parses a CLI name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|b| b.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|b| b.name()).collect();
            format!("unknown behaviour {name:?}; one of {}", names.join(", "))
        })
    }
}

/// How many duties the duty path's chain gives the cluster's validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Density {
    /// 2 slots per epoch and a registry of only the cluster's validators, so every
    /// validator is in the sync committee and proposes in turn: about 1.5 × validators due
    /// items per slot (stress).
    #[default]
    Dense,
    /// 32 slots per epoch (mainnet), and the sync committee and proposers drawn from a
    /// registry of [`MAINNET_REGISTRY`] validators of which the cluster's are the first: a
    /// validator attests once an epoch and is a sync-committee member or proposer at
    /// mainnet odds.
    Mainnet,
}

/// Validators of the mainnet-density registry (about mainnet's active set).
pub const MAINNET_REGISTRY: u64 = 1_000_000;

impl Density {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Mainnet => "mainnet",
        }
    }

    /// Parses a CLI name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(name: &str) -> Result<Self, String> {
        [Self::Dense, Self::Mainnet]
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| format!("unknown density {name:?}; one of dense, mainnet"))
    }

    /// Slots per epoch of the duty path's chain.
    pub fn slots_per_epoch(self) -> u64 {
        match self {
            Self::Dense => 2,
            Self::Mainnet => 32,
        }
    }

    /// Validators in the chain's registry when the cluster runs `validators` (proposers
    /// and the sync committee are drawn from it).
    pub fn registry(self, validators: u64) -> u64 {
        match self {
            Self::Dense => validators,
            Self::Mainnet => MAINNET_REGISTRY.max(validators),
        }
    }
}

/// Network faults while the run is chaotic (before [`SimOptions::heal_slot`]). After it,
/// every link delivers everything within `latency_ms_min..=latency_ms_max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetFaults {
    /// Smallest one-way latency of a link, ms.
    pub latency_ms_min: u64,
    /// Largest ordinary one-way latency, ms (each link draws its own range inside).
    pub latency_ms_max: u64,
    /// Chance (per mille) that a message is delayed by a spike (reordering).
    pub spike_permille: u32,
    /// Largest spike, ms.
    pub spike_ms_max: u64,
    /// Chance (per mille) that a message is lost.
    pub loss_permille: u32,
    /// Chance (per mille) that a message is delivered twice.
    pub duplicate_permille: u32,
    /// Number of partitions, each splitting the operators in two for a while, then healing.
    pub partitions: u32,
}

impl Default for NetFaults {
    fn default() -> Self {
        Self {
            latency_ms_min: 5,
            latency_ms_max: 80,
            spike_permille: 0,
            spike_ms_max: 0,
            loss_permille: 0,
            duplicate_permille: 0,
            partitions: 0,
        }
    }
}

/// Faults of the operators' beacon nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BeaconFaults {
    /// Largest extra delay before a duty's data arrives, ms (every node draws per duty).
    pub slow_ms_max: u64,
    /// Operators whose beacon node fails a duty with probability 1/3 (counted as faulty).
    pub erroring: u64,
    /// Operators whose beacon node lags a slot behind (their values differ, still valid).
    pub lagging: u64,
}

/// Everything a run is made of besides its seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOptions {
    /// Operators in the cluster: 4, 7, 10 or 13.
    pub operators: u64,
    /// Validators the cluster runs.
    pub validators: u64,
    /// Slots simulated.
    pub slots: u64,
    /// Slot duration, ms.
    pub slot_ms: u64,
    /// Signature scheme.
    pub crypto: CryptoMode,
    /// Network faults before the heal.
    pub net: NetFaults,
    /// Faults end at the start of this slot: partitions heal, crashed operators are back,
    /// links stop losing messages. Liveness is required of duties that start after it.
    pub heal_slot: u64,
    /// Byzantine operators' behaviours (operators drawn from the seed).
    pub byzantine: Vec<Behaviour>,
    /// Crash-and-restart events (of operators drawn from the seed) before the heal.
    pub crashes: u32,
    /// Largest clock skew of an operator, ms (each draws its own, either sign).
    pub clock_skew_ms_max: u64,
    /// Beacon-node faults.
    pub beacon: BeaconFaults,
    /// Run the core's duty runners (committee duties: attestations and sync-committee
    /// messages, real BLS) against the in-memory beacon chain instead of bare QBFT
    /// instances ([`super::runners`]).
    pub duty_runners: bool,
    /// Test-only broken rule: every operator's quorum is lowered to about f + 1 (the
    /// committee is told it tolerates fewer faults), which the invariants must catch.
    pub broken_quorum: bool,
    /// Duty path: how dense the cluster's duties are.
    pub density: Density,
    /// Duty path: also run the aggregator and sync-committee-contribution duties of every
    /// attester and sync member ([`super::aggregation`]). Off by default: at dense density
    /// they multiply the work of a slot several times over.
    pub aggregation: bool,
    /// Duty path: run every validator's builder registrations on the node's schedule
    /// ([`super::registration`]). Off by default, and on with [`SimOptions::aggregation`]
    /// wherever options are drawn or parsed (`--aggregation`, swarm): registering every
    /// validator at start-up and every ten epochs adds about a third to a mainnet-density
    /// slot's work. False in worlds recorded before registrations were simulated (trace
    /// format 4).
    pub registrations: bool,
    /// Duty path: a voluntary exit of one validator, started by every operator at a slot
    /// (in production a `ValidatorExited` contract event asks for it).
    pub exit: Option<ExitAt>,
}

/// A voluntary exit the operators start ([`SimOptions::exit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitAt {
    /// The exiting validator (an index below [`SimOptions::validators`]).
    pub validator: u64,
    /// The slot every operator starts the exit duty at (after epoch 0, before the end).
    pub slot: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            operators: 4,
            validators: 100,
            slots: 32,
            slot_ms: 12_000,
            crypto: CryptoMode::Fake,
            net: NetFaults::default(),
            heal_slot: 0,
            byzantine: Vec::new(),
            crashes: 0,
            clock_skew_ms_max: 0,
            beacon: BeaconFaults::default(),
            duty_runners: false,
            broken_quorum: false,
            density: Density::Dense,
            aggregation: false,
            registrations: false,
            exit: None,
        }
    }
}

/// Share (per mille) of swarm seeds that run the duty runners.
pub const DUTY_SEEDS_PERMILLE: u32 = 100;

/// Share (per mille) of swarm duty-path seeds that exit a validator.
pub const EXIT_SEEDS_PERMILLE: u32 = 300;

/// Operator counts the simulator supports (committee sizes of SSV).
pub const COMMITTEE_SIZES: [u64; 4] = [4, 7, 10, 13];

impl SimOptions {
    /// `f`: the faults the committee tolerates.
    pub fn f(&self) -> u64 {
        (self.operators.saturating_sub(1)) / 3
    }

    /// Members that count as faulty for liveness: byzantine operators and those with an
    /// erroring beacon node (crashes all end before the heal).
    pub fn faulty(&self) -> u64 {
        self.byzantine.len() as u64 + self.beacon.erroring
    }

    /// Whether liveness is required: at most f faulty members.
    pub fn expects_liveness(&self) -> bool {
        self.faulty() <= self.f()
    }

    /// Checks the options describe a runnable world.
    ///
    /// # Errors
    /// What is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !COMMITTEE_SIZES.contains(&self.operators) {
            return Err(format!("operators must be one of {COMMITTEE_SIZES:?}"));
        }
        if self.validators == 0 || self.slots == 0 || self.slot_ms < 1_000 {
            return Err("need at least one validator, one slot and 1 s slots".into());
        }
        if self.faulty() > self.operators {
            return Err("more faulty operators than operators".into());
        }
        if self.duty_runners && self.slots <= self.density.slots_per_epoch() {
            return Err("the duty path has no duties in epoch 0: simulate more slots".into());
        }
        if self.net.latency_ms_min > self.net.latency_ms_max {
            return Err("latency min above max".into());
        }
        if let Some(e) = self.exit {
            let spe = self.density.slots_per_epoch();
            if !self.duty_runners || e.validator >= self.validators {
                return Err(
                    "an exit needs the duty path and one of the cluster's validators".into()
                );
            }
            if e.slot < spe || e.slot >= self.slots {
                return Err(format!("the exit slot must be in {spe}..{}", self.slots));
            }
        }
        Ok(())
    }

    /// A random fault mix for `seed`, VOPR-style: each seed picks its own cluster size,
    /// network conditions, byzantine behaviours (at most f, so liveness is required),
    /// crashes, clock skews and beacon faults. `crypto` is kept from the caller.
    pub fn swarm(seed: u64, crypto: CryptoMode) -> Self {
        let mut r = Rng::fork(seed, "swarm");
        let operators = *r.pick(&COMMITTEE_SIZES).unwrap_or(&4);
        let f = (operators - 1) / 3;
        let slots = r.range(12, 32);
        let heal_slot = r.range(0, slots / 2);
        let latency_ms_min = r.range(0, 50);
        let net = NetFaults {
            latency_ms_min,
            latency_ms_max: latency_ms_min + r.range(0, 400),
            spike_permille: if r.chance(500) { r.range(0, 200) as u32 } else { 0 },
            spike_ms_max: r.range(0, 6_000),
            loss_permille: if r.chance(500) { r.range(0, 300) as u32 } else { 0 },
            duplicate_permille: if r.chance(500) { r.range(0, 300) as u32 } else { 0 },
            partitions: if heal_slot > 0 { r.below(4) as u32 } else { 0 },
        };
        let faulty = r.range(0, f);
        let erroring = if faulty > 0 && r.chance(200) { 1 } else { 0 };
        let byzantine = (0..faulty - erroring)
            .map(|_| *r.pick(&Behaviour::ALL).unwrap_or(&Behaviour::Silent))
            .collect();
        // With real crypto the duty path does real BLS for every share signature,
        // reconstruction and submission: a few validators keep a seed's run within a second
        // or two. Fake BLS (hash stand-ins) affords up to 100.
        let duty_runners = r.chance(DUTY_SEEDS_PERMILLE);
        let validators = if duty_runners && crypto == CryptoMode::Real {
            *r.pick(&[1, 2]).unwrap_or(&1)
        } else if duty_runners {
            *r.pick(&[1, 2, 10, 100]).unwrap_or(&1)
        } else {
            *r.pick(&[1, 10, 100]).unwrap_or(&10)
        };
        let mut o = Self {
            operators,
            validators,
            slots,
            slot_ms: 12_000,
            crypto,
            net,
            heal_slot,
            byzantine,
            crashes: if heal_slot > 1 { r.below(3) as u32 } else { 0 },
            clock_skew_ms_max: r.range(0, 500),
            beacon: BeaconFaults {
                slow_ms_max: r.range(0, 1_500),
                erroring,
                lagging: r.range(0, 1).min(operators - faulty),
            },
            duty_runners,
            broken_quorum: false,
            density: Density::Dense,
            // Aggregation multiplies a dense slot's work: the small duty worlds only.
            aggregation: duty_runners && validators <= 10,
            // With aggregation: `--aggregation` runs every validator duty beyond
            // attestation, sync and proposal.
            registrations: duty_runners && validators <= 10,
            exit: None,
        };
        // Drawn last, so the draws above stay what they were.
        if duty_runners && r.chance(EXIT_SEEDS_PERMILLE) {
            let spe = o.density.slots_per_epoch();
            let (validator, slot) = (r.below(validators), r.range(spe, slots - 1));
            o.exit = Some(ExitAt { validator, slot });
        }
        o
    }
}
