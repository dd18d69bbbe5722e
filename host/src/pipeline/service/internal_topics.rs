//! The repartition topics of `group_by`s are their pipeline's own: `<pipeline>-<step>-
//! repartition` is a published name, so pipeline `a-b` with step `c` and pipeline `a`
//! with step `b-c` name the same topic, and a user topic of that name may exist. Sharing
//! a topic would mix two pipelines' records (or a user's) into one stage's input, so a
//! pipeline whose repartition topic clashes is refused at create, naming the topic and
//! the other pipeline; so is a pipeline reading or writing another's repartition topic,
//! at create and at update (an update may change `output`, `outputs` or
//! `dead_letter_topic`).

use super::super::error::PipelineError;
use super::super::spec::PipelineSpec;
use super::Pipelines;

/// Every topic `spec` reads or writes.
fn topics(spec: &PipelineSpec) -> Vec<String> {
    spec.inputs
        .iter()
        .cloned()
        .chain(spec.sources.values().map(|s| s.topic.clone()))
        .chain(spec.written_topics().into_iter().map(str::to_string))
        .collect()
}

impl Pipelines {
    /// Refuses `spec` (being created) when one of its repartition topics is another
    /// pipeline's topic or exists already, or when it reads or writes another pipeline's
    /// repartition topic. Called under the service's ops lock, so no other create races.
    ///
    /// An existing topic is taken for a leftover of an earlier create of this pipeline
    /// that failed (or a crash mid-create) when no stored pipeline claims it, it has
    /// `partitions` partitions and holds no record: otherwise such a leftover would
    /// refuse every retry.
    pub(super) fn check_internal_topics(
        &self,
        spec: &PipelineSpec,
        partitions: u32,
    ) -> Result<(), PipelineError> {
        self.check_shared_topics(spec)?;
        for r in spec.repartitions() {
            let Ok(topic) = self.broker.topic(&r.topic) else {
                continue;
            };
            let empty = (0..topic.partition_count()).all(|p| {
                topic
                    .partition(i64::from(p))
                    .is_ok_and(|log| log.stats().high_watermark == log.stats().log_start_offset)
            });
            if topic.partition_count() != partitions || !empty {
                return Err(PipelineError::RepartitionTopicExists { topic: r.topic });
            }
        }
        Ok(())
    }

    /// The half of [`Self::check_internal_topics`] an update needs too (its own
    /// repartition topics exist by then): `spec` shares no topic with another pipeline's
    /// repartition topics, in either direction. Called under the ops lock.
    pub(super) fn check_shared_topics(&self, spec: &PipelineSpec) -> Result<(), PipelineError> {
        let mine = spec.repartitions();
        let others = self.store.list()?;
        for other in others.iter().filter(|o| o.spec.name != spec.name) {
            let theirs = other.spec.repartitions();
            for r in &mine {
                let repartition = theirs.iter().any(|t| t.topic == r.topic);
                if repartition || topics(&other.spec).contains(&r.topic) {
                    return Err(PipelineError::RepartitionTopicTaken {
                        topic: r.topic.clone(),
                        pipeline: other.spec.name.clone(),
                        repartition,
                    });
                }
            }
            if let Some(t) = topics(spec)
                .into_iter()
                .find(|t| theirs.iter().any(|r| &r.topic == t))
            {
                return Err(PipelineError::InternalTopic {
                    topic: t,
                    pipeline: other.spec.name.clone(),
                });
            }
        }
        Ok(())
    }
}
