//! The shared catalog (attached mode): module versions and pipeline records are kept in
//! the cluster's catalog for every node, and this node's registry and store are its cache.
//!
//! A change asked of this node is decided against the catalog read up to now, written
//! there (where a race with another node is settled), and then applied here. A change
//! made on another node reaches this one through [`Pipelines::follow_catalog`], which the
//! server calls whenever the catalog moves: it makes the registry, the store and the
//! running pipelines match the catalog, starting, hot-swapping, pausing or stopping each
//! pipeline's runner as its record says. So a pipeline created once runs on every node,
//! and an update on one swaps it on all.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::super::catalog::Catalog;
use super::super::chain::StepPlan;
use super::super::error::PipelineError;
use super::super::handle::PipelineHandle;
use super::super::store::PipelineRecord;
use super::Pipelines;

/// How long a change asked of this node waits for it to read what other nodes wrote.
const CATCH_UP: Duration = Duration::from_secs(10);

impl Pipelines {
    /// Attached mode's shared catalog, if the service has one.
    pub(super) fn shared(&self) -> Option<&Arc<dyn Catalog>> {
        self.config.catalog.as_ref()
    }

    /// Makes this node's modules and pipelines match the shared catalog (nothing without
    /// one, or after shutdown): call it whenever the catalog's change counter moves. Each
    /// pipeline is applied on its own; the first failure is returned after the rest.
    pub fn follow_catalog(&self) -> Result<(), PipelineError> {
        let Some(catalog) = self.shared() else {
            return Ok(());
        };
        let _op = self.ops.lock();
        self.apply_catalog(catalog.as_ref())
    }

    /// Before a change asked of this node (holding `ops`): reads the catalog up to now and
    /// applies it, so the change is checked against what every node sees.
    pub(super) fn catch_up(&self) -> Result<(), PipelineError> {
        let Some(catalog) = self.shared() else {
            return Ok(());
        };
        catalog.catch_up(CATCH_UP)?;
        // What did not apply here (logged per pipeline) does not stop a change that the
        // catalog itself decides on.
        if let Err(e) = self.apply_catalog(catalog.as_ref()) {
            tracing::warn!("applying the catalog before a change: {e}");
        }
        Ok(())
    }

    /// Applies the catalog; the caller holds `ops`.
    pub(super) fn apply_catalog(&self, catalog: &dyn Catalog) -> Result<(), PipelineError> {
        if self.closed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut first = None;
        // Modules first: a new deployment may name a version uploaded with it.
        note(self.apply_modules(catalog), &mut first);
        let records = catalog.pipelines()?;
        let names: BTreeSet<String> = records.iter().map(|r| r.spec.name.clone()).collect();
        for record in records {
            let name = record.spec.name.clone();
            let applied = self.apply_record(record);
            if let Err(e) = &applied {
                tracing::error!(pipeline = %name, "applying the catalog's record: {e}");
            }
            note(applied, &mut first);
        }
        // Gone from the catalog: deleted on another node.
        let mut local: BTreeSet<String> = self.handles.lock().keys().cloned().collect();
        local.extend(self.store.list()?.into_iter().map(|r| r.spec.name));
        for name in local.difference(&names) {
            note(self.drop_local(name), &mut first);
        }
        first.map_or(Ok(()), Err)
    }

    /// Copies the catalog's module versions into the registry and removes those it no
    /// longer has.
    fn apply_modules(&self, catalog: &dyn Catalog) -> Result<(), PipelineError> {
        let shared = catalog.modules()?;
        let local = self.modules.list()?;
        for m in shared.iter().filter(|m| !local.contains(m)) {
            let bytes = catalog.module_bytes(m)?;
            self.modules.insert(m, &bytes)?;
        }
        for m in local.iter().filter(|m| !shared.contains(m)) {
            self.modules.delete(&m.name, m.version)?;
        }
        Ok(())
    }

    /// Makes one pipeline here what `record` says: started if new, its deployment
    /// swapped if it changed, paused or resumed.
    pub(super) fn apply_record(&self, record: PipelineRecord) -> Result<(), PipelineError> {
        let name = record.spec.name.clone();
        let running = self.handles.lock().get(&name).cloned();
        let Some(handle) = running else {
            // New here (or this node just started): stored, then run like a resumed one.
            self.store.put(&record)?;
            let (plans, broken) = self.loaded(&record);
            self.start(&record, plans, broken)?;
            return Ok(());
        };
        let local = self.store.get(&name)?;
        if local
            .as_ref()
            .is_some_and(|l| l.created_ms != record.created_ms)
        {
            // Deleted and created again elsewhere since this node last looked: another
            // pipeline of the same name, started afresh.
            self.drop_local(&name)?;
            return self.apply_record(record);
        }
        // By number, time and modules, not by spec: a spec read back from the catalog's
        // JSON need not compare equal to the one written, and each deployment of a
        // pipeline has its own number.
        let same_deployment = local.as_ref().is_some_and(|l| {
            l.current_number() == record.current_number() && l.current() == record.current()
        });
        let same_pause = local.as_ref().is_some_and(|l| l.paused == record.paused);
        // Resuming a deployment that did not load here tries to load it again, as a
        // resume does on the node it is asked of.
        let retry = !same_pause && !record.paused && handle.desired.borrow().broken.is_some();
        if same_deployment && same_pause && !retry {
            return Ok(());
        }
        self.store.put(&record)?;
        if !same_deployment || retry {
            match self.loaded(&record) {
                (plans, None) => {
                    let mut previous = handle.previous.lock();
                    self.publish(&handle, &mut previous, &record, plans);
                }
                (_, Some(e)) => handle.desired.send_modify(|d| {
                    d.deployment = record.current_number();
                    d.spec = Arc::new(record.spec.clone());
                    d.broken = Some(e);
                }),
            }
        }
        if !same_pause {
            handle.desired.send_modify(|d| d.paused = record.paused);
            handle
                .logs
                .note(if record.paused { "paused" } else { "resumed" });
        }
        Ok(())
    }

    /// The steps of `record`'s current deployment, or why they do not load.
    fn loaded(&self, record: &PipelineRecord) -> (Arc<Vec<StepPlan>>, Option<Arc<PipelineError>>) {
        match self.plans_of(&record.spec, &record.current().modules) {
            Ok(plans) => (plans, None),
            Err(e) => {
                tracing::error!(pipeline = %record.spec.name, "cannot load its deployment: {e}");
                (Arc::new(Vec::new()), Some(Arc::new(e)))
            }
        }
    }

    /// Stops and forgets a pipeline the catalog no longer has.
    fn drop_local(&self, name: &str) -> Result<(), PipelineError> {
        let handle = self.handles.lock().remove(name);
        if let Some(handle) = &handle {
            self.stop(handle);
        }
        if let Some(record) = self.store.get(name)? {
            self.store.remove(&record)?;
        }
        if let Some(external) = &self.config.external {
            external.deleted(name, handle.as_ref());
        }
        Ok(())
    }

    /// Hands `record`'s current deployment to the running tasks (the hot-swap), keeping
    /// the one they ran as the rollback target. The caller holds the handle's `previous`.
    pub(super) fn publish(
        &self,
        handle: &PipelineHandle,
        previous: &mut Option<super::super::handle::Deployed>,
        record: &PipelineRecord,
        plans: Arc<Vec<StepPlan>>,
    ) {
        let current = handle.desired.borrow().clone();
        // A deployment that never loaded is no state to roll back to.
        *previous = current
            .broken
            .is_none()
            .then_some((current.spec, current.plans));
        handle.desired.send_modify(|d| {
            d.generation += 1;
            d.deployment = record.current_number();
            d.spec = Arc::new(record.spec.clone());
            d.plans = plans;
            d.broken = None;
        });
        handle.swaps.fetch_add(1, Ordering::Relaxed);
        handle.logs.note("updated");
    }
}

/// Keeps the first error.
fn note(result: Result<(), PipelineError>, first: &mut Option<PipelineError>) {
    if let Err(e) = result
        && first.is_none()
    {
        *first = Some(e);
    }
}
