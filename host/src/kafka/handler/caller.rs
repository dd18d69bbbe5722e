//! [`Caller`]: who a request acts for and from where, and the one ACL question every
//! handler asks of it: `caller.may(ctx, operation, &resource)`, once per resource, at
//! the top of the handler's per-resource loop (so an audit greps for `may(`).
//!
//! Which operation each API needs follows Kafka's `AclAuthorizer` rules: Produce
//! WRITE topic (and WRITE on its transactional id), Fetch READ topic, Metadata and
//! ListOffsets DESCRIBE topic (auto-creation also CREATE on the cluster or the
//! topic), CreateTopics CREATE on the cluster or the topic, DeleteTopics DELETE
//! topic, group membership and OffsetCommit READ group (OffsetCommit also READ
//! topic), OffsetFetch DESCRIBE group, CreateAcls/DeleteAcls ALTER cluster,
//! DescribeAcls DESCRIBE cluster, and the cluster-wide APIs of [`cluster_operation`].

use std::net::IpAddr;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use crate::auth::{Operation, Principal, Resource};
use crate::kafka::KafkaContext;

/// Kafka's value of an authorized-operations field the request did not ask for.
pub const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

/// Every operation Kafka defines on a topic (its `AclEntry.supportedOperations`).
pub const TOPIC_OPERATIONS: [Operation; 8] = [
    Operation::Read,
    Operation::Write,
    Operation::Create,
    Operation::Describe,
    Operation::Delete,
    Operation::Alter,
    Operation::DescribeConfigs,
    Operation::AlterConfigs,
];

/// Every operation Kafka defines on a consumer group.
pub const GROUP_OPERATIONS: [Operation; 3] =
    [Operation::Read, Operation::Describe, Operation::Delete];

/// Every operation Kafka defines on the cluster.
pub const CLUSTER_OPERATIONS: [Operation; 7] = [
    Operation::Create,
    Operation::Alter,
    Operation::Describe,
    Operation::ClusterAction,
    Operation::DescribeConfigs,
    Operation::AlterConfigs,
    Operation::IdempotentWrite,
];

/// A request's principal and peer host.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who the request acts for.
    pub principal: Principal,
    /// The peer's address (ACLs may name a host).
    pub host: IpAddr,
}

impl Caller {
    /// Whether the caller may perform `op` on `resource`.
    pub fn may(&self, ctx: &KafkaContext, op: Operation, resource: &Resource<'_>) -> bool {
        let allowed = ctx.auth.allows(&self.principal, self.host, op, resource);
        if !allowed {
            tracing::debug!(principal = %self.principal, host = %self.host, %op, %resource, "ACL denied");
        }
        allowed
    }

    /// The authorized-operations bitfield Kafka answers when a request asks for it
    /// (Metadata v8+ for topics, DescribeGroups v3+, DescribeCluster): a bit at each
    /// operation's code for those of `ops` the caller may perform on `resource`, or
    /// [`OPERATIONS_NOT_REQUESTED`] when `requested` is false.
    pub fn authorized_operations(
        &self,
        ctx: &KafkaContext,
        requested: bool,
        ops: &[Operation],
        resource: &Resource<'_>,
    ) -> i32 {
        if !requested {
            return OPERATIONS_NOT_REQUESTED;
        }
        ops.iter()
            .filter(|op| ctx.auth.allows(&self.principal, self.host, **op, resource))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    /// The refusal of `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on a config resource
    /// (Kafka's codes: 2 a topic, else the broker, i.e. the cluster), as a result's
    /// (error code, message); `None` if allowed.
    pub fn config_denied(
        &self,
        ctx: &KafkaContext,
        resource_type: i8,
        name: &str,
        op: Operation,
    ) -> Option<(i16, Option<String>)> {
        let (resource, kind) = if resource_type == 2 {
            (
                Resource::topic(name),
                ResponseError::TopicAuthorizationFailed,
            )
        } else {
            (
                Resource::cluster(),
                ResponseError::ClusterAuthorizationFailed,
            )
        };
        (!self.may(ctx, op, &resource)).then(|| {
            (
                kind.code(),
                Some(format!("not authorized: {op} on {resource}")),
            )
        })
    }

    /// Whether the caller may create the topic `name`: CREATE on the cluster or on it.
    pub fn may_create_topic(&self, ctx: &KafkaContext, name: &str) -> bool {
        self.may(ctx, Operation::Create, &Resource::cluster())
            || self.may(ctx, Operation::Create, &Resource::topic(name))
    }
}

/// The operation on the cluster an API needs as a whole, for APIs whose only
/// resource is the cluster and whose response has no per-item error; checked before
/// dispatch, answered CLUSTER_AUTHORIZATION_FAILED. (The ACL APIs check in their
/// handlers: Kafka answers them per creation or filter.) DescribeCluster is not one:
/// Kafka answers it to every principal (the Java AdminClient sends it for any
/// describeTopics) and only its authorized-operations field depends on the ACLs.
pub fn cluster_operation(key: ApiKey) -> Option<Operation> {
    match key {
        ApiKey::DescribeLogDirs => Some(Operation::Describe),
        _ => None,
    }
}
