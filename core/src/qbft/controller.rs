//! The sequence of instances of one duty executor and role (`qbft/controller.go`,
//! `decided.go`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::config::{CommitteeMember, QbftConfig};
use super::error::QbftError;
use super::instance::{base_commit_validation, Instance, InstanceData};
use super::message::{hash_data_root, ProcessingMessage};
use super::{Decided, Output, UnixMillis};
use crate::types::{Height, QbftMessageType, SignedSsvMessage};

/// Most instances a controller keeps. The spec keeps all of them; a node only needs the
/// recent ones to answer late messages, and a duty executor has one height per slot, so
/// 64 covers two epochs of heights. Beyond it the lowest height is dropped.
pub const STORED_INSTANCES_MAX: usize = 64;

/// The heights a controller starts with (`FirstHeight`).
pub const FIRST_HEIGHT: Height = 0;

/// What a [`Controller`] is asked to do.
#[derive(Debug, Clone)]
pub enum ControllerInput {
    /// Start an instance at `height` with `value` (`StartNewInstance`).
    Start {
        /// The height (slot).
        height: Height,
        /// The value to propose (SSZ of the consensus data).
        value: Vec<u8>,
    },
    /// A received message (its own signature checked by the shell first; decided messages
    /// are verified here, as the spec requires).
    Message(SignedSsvMessage),
    /// The clock reached [`Controller::poll_timeout`]; early or repeated calls do nothing.
    Timeout,
}

/// A serializable snapshot of a [`Controller`] (the spec's `Controller` JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerData {
    /// The identifier every message must carry.
    pub identifier: Vec<u8>,
    /// The highest started (or decided-future) height.
    pub height: Height,
    /// Instances, highest height first.
    pub stored_instances: Vec<InstanceData>,
    /// This operator and its committee.
    pub committee: CommitteeMember,
}

/// A sans-IO QBFT controller: the instances of one identifier, one per height.
///
/// # Driving contract
/// Call [`Controller::handle`] with each input and `now`; outputs are pushed to `out` in
/// the order they happen:
/// - [`ControllerInput::Start`] → [`Output::TimerSet`] for round 1 and, when leading, a
///   proposal [`Output::Broadcast`]. Older instances stop.
/// - [`ControllerInput::Message`] → broadcasts of the running instance, and when the
///   instance decides, [`Output::Broadcast`] of the aggregated commit followed by
///   [`Output::Decided`]. A decided message (a commit with a quorum of signers) received
///   for an undecided height yields [`Output::Decided`] only (nothing to re-broadcast).
/// - [`ControllerInput::Timeout`] once the clock reaches [`Controller::poll_timeout`] →
///   a round change broadcast and the next [`Output::TimerSet`].
///
/// Errors carry the spec code; the state is unchanged by a rejected input (see
/// [`Instance`] for the one spec exception).
#[derive(Debug, Clone)]
pub struct Controller {
    config: Arc<QbftConfig>,
    identifier: Vec<u8>,
    height: Height,
    instances: Vec<Instance>,
    committee: CommitteeMember,
}

impl Controller {
    /// A controller at height 0 with no instance.
    pub fn new(config: Arc<QbftConfig>, identifier: Vec<u8>, committee: CommitteeMember) -> Self {
        Self { config, identifier, height: FIRST_HEIGHT, instances: Vec::new(), committee }
    }

    /// Restores a controller from a snapshot.
    pub fn from_data(config: Arc<QbftConfig>, data: ControllerData) -> Self {
        let instances =
            data.stored_instances.into_iter().map(|d| Instance::from_data(Arc::clone(&config), d)).collect();
        Self { config, identifier: data.identifier, height: data.height, instances, committee: data.committee }
    }

    /// A snapshot of the whole controller.
    pub fn data(&self) -> ControllerData {
        ControllerData {
            identifier: self.identifier.clone(),
            height: self.height,
            stored_instances: self.instances.iter().map(|i| i.data().clone()).collect(),
            committee: self.committee.clone(),
        }
    }

    /// The current height.
    pub fn height(&self) -> Height {
        self.height
    }

    /// Overrides the height (the spec tests' `StartHeight`; a restored node's last slot).
    pub fn set_height(&mut self, height: Height) {
        self.height = height;
    }

    /// The stored instances, highest height first.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The instance at `height`.
    pub fn instance(&self, height: Height) -> Option<&Instance> {
        self.instances.iter().find(|i| i.height() == height)
    }

    /// The earliest deadline among running instances.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.instances.iter().filter_map(Instance::poll_timeout).min()
    }

    /// Handles one input at `now`; see the type's driving contract.
    ///
    /// # Errors
    /// The spec's rejection, with its code.
    pub fn handle(&mut self, now: UnixMillis, input: ControllerInput, out: &mut Vec<Output>) -> Result<(), QbftError> {
        match input {
            ControllerInput::Start { height, value } => self.start_new_instance(now, height, value, out),
            ControllerInput::Message(signed) => self.process_msg(now, signed, out),
            ControllerInput::Timeout => {
                for inst in &mut self.instances {
                    if inst.poll_timeout().is_some_and(|d| now >= d) {
                        inst.handle(now, super::InstanceInput::Timeout, out)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn start_new_instance(
        &mut self,
        now: UnixMillis,
        height: Height,
        value: Vec<u8>,
        out: &mut Vec<Output>,
    ) -> Result<(), QbftError> {
        self.config.value_check.check(&value)?;
        if height < self.height {
            return Err(QbftError::StartInstance);
        }
        if self.instance(height).is_some() {
            return Err(QbftError::InstanceAlreadyRunning);
        }
        self.height = height;
        let mut inst =
            Instance::new(Arc::clone(&self.config), self.committee.clone(), self.identifier.clone(), height);
        let started = inst.start(now, value, out);
        self.store(inst);
        for other in &mut self.instances {
            if other.height() != height {
                other.force_stop();
            }
        }
        started
    }

    /// Inserts before the first lower height (`addNewInstance`), then enforces the cap.
    fn store(&mut self, inst: Instance) {
        let at = self.instances.iter().position(|i| i.height() < inst.height()).unwrap_or(self.instances.len());
        self.instances.insert(at, inst);
        self.instances.truncate(STORED_INSTANCES_MAX);
    }

    fn process_msg(&mut self, now: UnixMillis, signed: SignedSsvMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        let msg = ProcessingMessage::new(signed)?;
        if msg.qbft.identifier.as_ref() as &[u8] != self.identifier.as_slice() {
            return Err(QbftError::MessageIdentifierInvalid);
        }
        if self.is_decided_msg(&msg) {
            return self.upon_decided(msg, out);
        }
        let height = msg.qbft.height;
        let not_started = self.height == FIRST_HEIGHT && self.instance(FIRST_HEIGHT).is_none();
        if not_started || height > self.height {
            return Err(QbftError::FutureMessage);
        }
        let inst = self.instances.iter_mut().find(|i| i.height() == height).ok_or(QbftError::InstanceNotFound)?;
        if inst.state().decided {
            return Err(QbftError::SkipConsensusMessageAsInstanceIsDecided);
        }
        let start = out.len();
        inst.process_msg(now, msg, out)?;
        // The controller broadcasts the instance's aggregated commit before reporting it.
        let decided_at = out.iter().skip(start).position(|o| matches!(o, Output::Decided(_)));
        if let Some(offset) = decided_at {
            let index = start.saturating_add(offset);
            if let Some(Output::Decided(d)) = out.get(index) {
                let broadcast = Output::Broadcast(d.aggregated_commit.clone());
                out.insert(index, broadcast);
            }
        }
        Ok(())
    }

    fn is_decided_msg(&self, msg: &ProcessingMessage) -> bool {
        self.committee.has_quorum(msg.signers().len()) && msg.msg_type() == Some(QbftMessageType::Commit)
    }

    /// `UponDecided`: verify the decided message, record it, bump the height if it is
    /// from the future, and report it the first time the height decides.
    fn upon_decided(&mut self, msg: ProcessingMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        base_commit_validation(&msg, msg.qbft.height, &self.committee)?;
        msg.verify(&self.config, &self.committee)?;
        if hash_data_root(msg.full_data()) != msg.qbft.root {
            return Err(QbftError::RootHashInvalid);
        }
        let height = msg.qbft.height;
        let round = msg.round();
        let value = msg.full_data().to_vec();
        let is_future = height > self.height;
        let mut prev_decided = false;
        match self.instances.iter_mut().find(|i| i.height() == height) {
            None => {
                let mut inst =
                    Instance::new(Arc::clone(&self.config), self.committee.clone(), self.identifier.clone(), height);
                let data = inst.data_mut();
                data.state.round = round;
                data.state.decided = true;
                data.state.decided_value = Some(value.clone());
                data.state.commit_container.add(msg.clone());
                self.store(inst);
            }
            Some(inst) if !inst.state().decided => {
                let data = inst.data_mut();
                data.state.commit_container.add(msg.clone());
                data.state.decided = true;
                data.state.round = round;
                data.state.decided_value = Some(value.clone());
            }
            Some(inst) => {
                prev_decided = true;
                let (signers, _) = inst.state().commit_container.longest_unique_signers(round, &msg.qbft.root);
                if msg.signers().len() > signers.len() {
                    inst.data_mut().state.commit_container.add(msg.clone());
                }
            }
        }
        if is_future {
            self.height = height;
        }
        if !prev_decided {
            out.push(Output::Decided(Decided { height, round, value, aggregated_commit: msg.signed }));
        }
        Ok(())
    }
}
