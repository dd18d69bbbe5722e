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
    pub(super) fn check_internal_topics(&self, spec: &PipelineSpec) -> Result<(), PipelineError> {
        self.check_shared_topics(spec)?;
        if let Some(r) = spec
            .repartitions()
            .iter()
            .find(|r| self.broker.topic(&r.topic).is_ok())
        {
            return Err(PipelineError::RepartitionTopicExists {
                topic: r.topic.clone(),
            });
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
