//! Module versions: uploads validated by compiling them, listing, deletion unless a
//! pipeline deploys (or would roll back to) the version.

use super::super::catalog::ModuleUpload;
use super::super::error::PipelineError;
use super::super::registry::ModuleVersion;
use super::Pipelines;

impl Pipelines {
    /// Validates and stores a module; the same bytes again return the existing version.
    /// The bool says whether a version was created.
    pub fn upload_module(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<(ModuleVersion, bool), PipelineError> {
        super::super::spec::check_name("module", name)
            .map_err(|reason| PipelineError::InvalidModuleName { reason })?;
        if bytes.len() > self.config.max_module_bytes {
            return Err(PipelineError::ModuleTooLarge {
                size: bytes.len(),
                max: self.config.max_module_bytes,
            });
        }
        // Compiling validates the component against the weir worlds and leaves the
        // precompiled artefact in the cache, so deploying it later costs no compile.
        let plugin = self.runtime.load(name, bytes).map_err(|e| {
            if e.is_host_fault() {
                PipelineError::Runtime(e)
            } else {
                PipelineError::InvalidModule {
                    name: name.to_string(),
                    reason: e.to_string(),
                }
            }
        })?;
        let Some(catalog) = self.shared() else {
            return self.modules.upload(
                name,
                bytes,
                plugin.digest(),
                plugin.world().name(),
                crate::broker::now_ms(),
            );
        };
        // Shared: the catalog numbers the version (against every node's uploads); this
        // node keeps its copy at once, so its next request can use it. Under `ops`, so
        // applying the catalog never sees the copy before the catalog has it.
        let _op = self.ops.lock();
        let (module, created) = catalog.put_module(ModuleUpload {
            name,
            bytes,
            digest: plugin.digest(),
            world: plugin.world().name(),
            now_ms: crate::broker::now_ms(),
        })?;
        self.modules.insert(&module, bytes)?;
        Ok((module, created))
    }

    /// Every module version.
    pub fn modules(&self) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.modules.list()
    }

    /// Every version of one module.
    pub fn module_versions(&self, name: &str) -> Result<Vec<ModuleVersion>, PipelineError> {
        self.modules.versions(name)
    }

    /// One module version.
    pub fn module(&self, name: &str, version: u32) -> Result<ModuleVersion, PipelineError> {
        self.modules.get(name, Some(version))
    }

    /// One module version and its bytes (for connect, whose connectors may be uploaded
    /// modules: `connector.class=module:NAME@VERSION`).
    pub fn module_bytes(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<(ModuleVersion, Vec<u8>), PipelineError> {
        let module = self.modules.get(name, version)?;
        let bytes = self.modules.bytes(&module)?;
        Ok((module, bytes))
    }

    /// Deletes a module version unless a pipeline's current deployment uses it (or a
    /// join's `key_module` names it).
    pub fn delete_module(&self, name: &str, version: u32) -> Result<(), PipelineError> {
        let _op = self.ops.lock();
        self.catch_up()?;
        let in_use = |pipeline: String| PipelineError::ModuleInUse {
            name: name.to_string(),
            version,
            pipeline,
        };
        // The deployment an update would roll back to counts as in use too. The locks are
        // held while the store is read, so a rollback cannot make it current in between.
        let handles: Vec<_> = self.handles.lock().values().cloned().collect();
        let previous: Vec<_> = handles.iter().map(|h| (h, h.previous.lock())).collect();
        for (handle, prev) in &previous {
            if let Some((_, plans)) = &**prev
                && plans
                    .iter()
                    .any(|p| p.module == name && p.version == version)
            {
                return Err(in_use(handle.name.clone()));
            }
        }
        // A join's key module is loaded as its spec names it (the newest version when it
        // names none), not recorded in the deployment: that version is in use too.
        let newest = self.modules.get(name, None).ok().map(|m| m.version);
        let names_it = |m: &super::super::spec::ModuleRef| {
            m.name == name && m.version.or(newest) == Some(version)
        };
        for record in self.store.list()? {
            let mut keys = record
                .spec
                .steps
                .iter()
                .filter_map(|s| s.key_module.as_ref());
            if record
                .current()
                .modules
                .iter()
                .any(|(m, v)| m == name && *v == version)
                || keys.any(names_it)
            {
                return Err(in_use(record.spec.name));
            }
        }
        // Shared: the catalog deletes it for every node; a pipeline created meanwhile on
        // another node could still name it (the catalog checks no use).
        if let Some(catalog) = self.shared() {
            catalog.delete_module(name, version)?;
        }
        self.modules.delete(name, version)
    }
}
