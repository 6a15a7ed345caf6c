//! Bounded inbound queues, one per message class, with expiry and a per-peer share, so a
//! burst at a slot boundary or a flood from one peer cannot starve consensus.
//!
//! The consumer always takes consensus messages first, then partial signatures. Each class
//! holds at most [`QueueLimits::capacity`] messages, of which one peer may hold at most
//! [`QueueLimits::per_peer`]; a message older than [`QueueLimits::max_age`] is dropped
//! unread (its slot has passed). When a class is full the oldest message is dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssv_core::validation::{MessageBody, ValidatedMessage};
use tokio::sync::Notify;

/// The classes, in the order the consumer serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageClass {
    /// QBFT messages (proposal, prepare, commit, round change, decided).
    Consensus,
    /// Pre- and post-consensus partial signatures.
    PartialSignature,
}

impl MessageClass {
    /// The class of a validated message.
    pub fn of(message: &ValidatedMessage) -> Self {
        match message.body {
            MessageBody::Consensus(_) => Self::Consensus,
            MessageBody::PartialSignatures(_) => Self::PartialSignature,
        }
    }
}

/// Limits of each class queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most queued messages per class. 4096: a slot boundary brings a few messages per
    /// committee member per committee; a node runs a few hundred committees at most.
    pub capacity: usize,
    /// Most queued messages of one peer per class: a quarter of the capacity.
    pub per_peer: usize,
    /// A message waiting longer is dropped: one slot (12 s), after which its duty moved on.
    pub max_age: Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self { capacity: 4096, per_peer: 1024, max_age: Duration::from_secs(12) }
    }
}

struct Entry {
    peer: Vec<u8>,
    at: Instant,
    message: ValidatedMessage,
}

#[derive(Default)]
struct ClassQueue {
    entries: VecDeque<Entry>,
    per_peer: BTreeMap<Vec<u8>, usize>,
}

impl ClassQueue {
    fn pop(&mut self) -> Option<Entry> {
        let entry = self.entries.pop_front()?;
        if let Some(n) = self.per_peer.get_mut(&entry.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(&entry.peer);
            }
        }
        Some(entry)
    }
}

struct Shared {
    queues: Mutex<(ClassQueue, ClassQueue, bool)>,
    notify: Notify,
    limits: QueueLimits,
    dropped: std::sync::atomic::AtomicU64,
}

/// The producer side, held by the network task.
#[derive(Clone)]
pub struct IncomingSender {
    shared: Arc<Shared>,
}

/// The consumer side: validated messages for the node, consensus first.
pub struct Incoming {
    shared: Arc<Shared>,
}

/// A connected producer/consumer pair.
pub fn channel(limits: QueueLimits) -> (IncomingSender, Incoming) {
    let shared = Arc::new(Shared {
        queues: Mutex::new((ClassQueue::default(), ClassQueue::default(), false)),
        notify: Notify::new(),
        limits,
        dropped: std::sync::atomic::AtomicU64::new(0),
    });
    (IncomingSender { shared: shared.clone() }, Incoming { shared })
}

impl IncomingSender {
    /// Queues a message from `peer`. Returns false when it was dropped (peer over its share).
    pub fn push(&self, peer: &[u8], message: ValidatedMessage) -> bool {
        let limits = self.shared.limits;
        let Ok(mut guard) = self.shared.queues.lock() else { return false };
        let queue = match MessageClass::of(&message) {
            MessageClass::Consensus => &mut guard.0,
            MessageClass::PartialSignature => &mut guard.1,
        };
        let count = queue.per_peer.get(peer).copied().unwrap_or(0);
        if count >= limits.per_peer {
            self.shared.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        while queue.entries.len() >= limits.capacity.max(1) {
            queue.pop();
            self.shared.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        *queue.per_peer.entry(peer.to_vec()).or_insert(0) += 1;
        queue.entries.push_back(Entry { peer: peer.to_vec(), at: Instant::now(), message });
        drop(guard);
        self.shared.notify.notify_one();
        true
    }

    /// Ends the stream: the consumer gets `None` once the queues are drained.
    pub fn close(&self) {
        if let Ok(mut guard) = self.shared.queues.lock() {
            guard.2 = true;
        }
        self.shared.notify.notify_one();
    }
}

impl Incoming {
    /// The next message, consensus before partial signatures, skipping expired ones.
    /// `None` once the producer closed and everything was read.
    pub fn try_recv(&mut self) -> Option<ValidatedMessage> {
        let max_age = self.shared.limits.max_age;
        let mut guard = self.shared.queues.lock().ok()?;
        for class in [MessageClass::Consensus, MessageClass::PartialSignature] {
            let queue = match class {
                MessageClass::Consensus => &mut guard.0,
                MessageClass::PartialSignature => &mut guard.1,
            };
            while let Some(entry) = queue.pop() {
                if entry.at.elapsed() <= max_age {
                    return Some(entry.message);
                }
                self.shared.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        None
    }

    /// Waits for the next message. `None` when the producer closed and the queues are empty.
    pub async fn recv(&mut self) -> Option<ValidatedMessage> {
        loop {
            let shared = self.shared.clone();
            let notified = shared.notify.notified();
            if let Some(m) = self.try_recv() {
                return Some(m);
            }
            if self.shared.queues.lock().map(|g| g.2).unwrap_or(true) {
                return None;
            }
            notified.await;
        }
    }

    /// Messages dropped so far (over capacity, over a peer's share, or expired).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use ssv_core::types::ssz_types::VariableList;
    use ssv_core::types::{
        CommitteeId, MessageId, PartialSignatureMessages, QbftMessage, SignedSsvMessage, SsvMessage,
    };
    use ssv_core::validation::{MessageBody, ValidatedMessage};

    use super::*;

    fn msg(consensus: bool, tag: u64) -> ValidatedMessage {
        let signed = SignedSsvMessage {
            signatures: VariableList::empty(),
            operator_ids: VariableList::empty(),
            ssv_message: SsvMessage {
                msg_type: 0,
                msg_id: MessageId([0; 56]),
                data: VariableList::empty(),
            },
            full_data: VariableList::empty(),
        };
        let body = if consensus {
            MessageBody::Consensus(QbftMessage {
                msg_type: 1,
                height: tag,
                round: 1,
                identifier: VariableList::empty(),
                root: [0; 32],
                data_round: 0,
                round_change_justification: VariableList::empty(),
                prepare_justification: VariableList::empty(),
            })
        } else {
            MessageBody::PartialSignatures(PartialSignatureMessages {
                msg_type: 0,
                slot: tag,
                messages: VariableList::empty(),
            })
        };
        ValidatedMessage { signed, body, committee_id: CommitteeId([0; 32]) }
    }

    fn tag(m: &ValidatedMessage) -> (bool, u64) {
        match &m.body {
            MessageBody::Consensus(q) => (true, q.height),
            MessageBody::PartialSignatures(p) => (false, p.slot),
        }
    }

    #[test]
    fn consensus_first_and_a_flooding_peer_is_capped() {
        let limits = QueueLimits { capacity: 8, per_peer: 3, max_age: Duration::from_secs(60) };
        let (tx, mut rx) = channel(limits);
        for i in 0..10 {
            tx.push(b"flooder", msg(false, i));
        }
        assert!(tx.push(b"honest", msg(true, 100)));
        assert!(tx.push(b"honest", msg(false, 200)));
        assert_eq!(rx.try_recv().map(|m| tag(&m)), Some((true, 100)));
        let rest: Vec<_> = std::iter::from_fn(|| rx.try_recv()).map(|m| tag(&m)).collect();
        assert_eq!(rest, vec![(false, 0), (false, 1), (false, 2), (false, 200)]);
        assert_eq!(rx.dropped(), 7);
    }

    #[test]
    fn full_class_drops_oldest_and_old_messages_expire() {
        let limits = QueueLimits { capacity: 2, per_peer: 10, max_age: Duration::from_secs(60) };
        let (tx, mut rx) = channel(limits);
        for i in 0..3 {
            tx.push(b"p", msg(true, i));
        }
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv()).map(|m| tag(&m).1).collect();
        assert_eq!(got, vec![1, 2]);

        let limits = QueueLimits { capacity: 2, per_peer: 10, max_age: Duration::ZERO };
        let (tx, mut rx) = channel(limits);
        tx.push(b"p", msg(true, 1));
        std::thread::sleep(Duration::from_millis(2));
        assert!(rx.try_recv().is_none());
        assert_eq!(rx.dropped(), 1);
    }

    #[tokio::test]
    async fn recv_ends_after_close() {
        let (tx, mut rx) = channel(QueueLimits::default());
        tx.push(b"p", msg(true, 1));
        tx.close();
        assert!(rx.recv().await.is_some());
        assert!(rx.recv().await.is_none());
    }
}
