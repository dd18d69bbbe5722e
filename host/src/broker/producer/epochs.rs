//! The current epoch of each producer id this broker handed out or bumped,
//! so InitProducerId can refuse a bump from a fenced (stale) instance.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::limits::PRODUCER_EXPIRATION_MS;

/// Ids silent for the expiration are looked for only above this many.
const PRUNE_ABOVE: usize = 1024;

/// Most ids tracked; beyond it new ids go untracked, so a flood of
/// InitProducerId calls cannot grow memory (an untracked id asking for a bump
/// simply gets a fresh id, as every idempotent producer does in Kafka).
const MAX_TRACKED: usize = 1 << 16;

/// What a bump request for (id, epoch) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochBump {
    /// The epoch was the current one: here is the next.
    Bumped(i16),
    /// The epoch is not the id's current one: INVALID_PRODUCER_EPOCH.
    Stale,
    /// The id is not tracked (handed out before a restart, expired, or its
    /// epochs exhausted): the caller hands out a fresh id.
    Unknown,
}

/// Producer id → (current epoch, last InitProducerId in ms).
#[derive(Debug)]
pub struct ProducerEpochs {
    ids: Mutex<HashMap<i64, (i16, i64)>>,
    /// Ids silent this long are forgotten (`kafka.producer_id_expiration_ms`).
    expiration_ms: i64,
}

impl Default for ProducerEpochs {
    fn default() -> Self {
        ProducerEpochs::new(PRODUCER_EXPIRATION_MS)
    }
}

impl ProducerEpochs {
    /// No ids yet; ids silent for `expiration_ms` are forgotten.
    pub fn new(expiration_ms: i64) -> ProducerEpochs {
        ProducerEpochs {
            ids: Mutex::new(HashMap::new()),
            expiration_ms,
        }
    }

    /// Starts tracking a freshly handed out id at epoch 0.
    pub fn issued(&self, id: i64, now_ms: i64) {
        let mut ids = self.ids.lock();
        if ids.len() > PRUNE_ABOVE {
            let expiration = self.expiration_ms;
            ids.retain(|_, (_, last)| now_ms.saturating_sub(*last) < expiration);
        }
        if ids.len() < MAX_TRACKED {
            ids.insert(id, (0, now_ms));
        }
    }

    /// Bumps `id`'s epoch if `epoch` is its current one.
    pub fn bump(&self, id: i64, epoch: i16, now_ms: i64) -> EpochBump {
        let mut ids = self.ids.lock();
        let Some((current, last)) = ids.get_mut(&id) else {
            return EpochBump::Unknown;
        };
        if *current != epoch {
            return EpochBump::Stale;
        }
        if epoch == i16::MAX {
            ids.remove(&id);
            return EpochBump::Unknown;
        }
        *current = epoch + 1;
        *last = now_ms;
        EpochBump::Bumped(epoch + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_epoch_may_bump() {
        let e = ProducerEpochs::default();
        e.issued(7, 0);
        assert_eq!(e.bump(7, 0, 1), EpochBump::Bumped(1));
        assert_eq!(e.bump(7, 0, 2), EpochBump::Stale, "a fenced instance");
        assert_eq!(e.bump(7, 5, 2), EpochBump::Stale);
        assert_eq!(e.bump(7, 1, 3), EpochBump::Bumped(2));
        assert_eq!(e.bump(8, 0, 3), EpochBump::Unknown);
    }

    #[test]
    fn exhausted_epochs_and_silent_ids_are_forgotten() {
        let e = ProducerEpochs::default();
        e.issued(1, 0);
        e.ids.lock().insert(1, (i16::MAX, 0));
        assert_eq!(e.bump(1, i16::MAX, 0), EpochBump::Unknown);
        let late = PRODUCER_EXPIRATION_MS + 1;
        for id in 0..=PRUNE_ABOVE as i64 {
            e.issued(id, 0);
        }
        e.issued(-1, late);
        assert_eq!(e.ids.lock().len(), 1);
    }
}
