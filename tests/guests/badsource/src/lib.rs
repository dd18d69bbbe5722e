//! A broken version of a source connector: its config checks pass and its task starts, but
//! its first poll traps. The hot-swap tests swap it in and expect the old version back.

use weir_guest::connect::{
    CommittedOffset, ConfigDef, ConfigIssue, ConfigMap, Connector, ConnectorError, SourceRecord,
    SourceTask,
};

struct Broken;

impl Connector for Broken {
    fn config_defs() -> Vec<ConfigDef> {
        Vec::new()
    }

    fn validate(_config: &ConfigMap) -> Vec<ConfigIssue> {
        Vec::new()
    }

    fn task_configs(config: &ConfigMap, _max_tasks: u32) -> Result<Vec<ConfigMap>, ConnectorError> {
        Ok(vec![config.clone()])
    }
}

struct BrokenTask;

impl SourceTask for BrokenTask {
    fn start(_config: &ConfigMap, _offsets: Vec<CommittedOffset>) -> Result<Self, ConnectorError> {
        Ok(BrokenTask)
    }

    fn poll(&mut self, _max_records: u32) -> Result<Vec<SourceRecord>, ConnectorError> {
        panic!("this version is broken")
    }
}

weir_guest::source_connector!(Broken, BrokenTask);
