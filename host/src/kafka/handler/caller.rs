//! [`Caller`]: who a request acts for and from where, and the one ACL question every
//! handler asks of it: `caller.may(ctx, operation, &resource)`, once per resource, at
//! the top of the handler's per-resource loop (so an audit greps for `may(`).
//!
//! Which operation each API needs follows Kafka's `AclAuthorizer` rules: Produce
//! WRITE topic (and WRITE on its transactional id), Fetch READ topic, Metadata and
//! ListOffsets DESCRIBE topic (auto-creation also CREATE on the cluster or the
//! topic), CreateTopics CREATE on the cluster or the topic, DeleteTopics DELETE
//! topic, group membership and OffsetCommit READ group (OffsetCommit also READ
//! topic), OffsetFetch DESCRIBE group, an idempotent InitProducerId IDEMPOTENT_WRITE
//! on the cluster or WRITE on any topic (KIP-679), CreateAcls/DeleteAcls ALTER cluster,
//! DescribeAcls DESCRIBE cluster, and the cluster-wide APIs of [`cluster_operation`].

use std::net::IpAddr;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use crate::auth::{Operation, Principal, Resource, ResourceType};
use crate::kafka::KafkaContext;

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

    /// Whether the caller may perform `op` on some resource of type `kind` (Kafka's
    /// `authorizeByResourceType`).
    pub fn may_any(&self, ctx: &KafkaContext, op: Operation, kind: ResourceType) -> bool {
        ctx.auth.allows_any(&self.principal, self.host, op, kind)
    }

    /// The authorized-operations field Kafka answers for `resource` when asked
    /// (Metadata, DescribeGroups, DescribeCluster): a bit `1 << code` for each
    /// operation of the resource's type the caller's ACLs allow (implied ones
    /// included, as Kafka asks its authorizer one operation at a time).
    pub fn authorized_operations(&self, ctx: &KafkaContext, resource: &Resource<'_>) -> i32 {
        resource
            .kind
            .operations()
            .iter()
            .filter(|op| ctx.auth.allows(&self.principal, self.host, **op, resource))
            .fold(0, |bits, op| bits | (1 << op.code()))
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
