//! What the group handlers pass to the coordinator and get back, decoupled
//! from the wire versions of JoinGroup, SyncGroup and DescribeGroups.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;

/// A JoinGroup call, decoupled from the wire version.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Group id.
    pub group: String,
    /// "" for a new member.
    pub member_id: String,
    /// Static membership id (KIP-345).
    pub instance_id: Option<String>,
    /// The client's id, the prefix of a new member id.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// Requested session timeout.
    pub session_timeout: Duration,
    /// Requested rebalance timeout.
    pub rebalance_timeout: Duration,
    /// "consumer" for consumers.
    pub protocol_type: String,
    /// Assignors with their metadata, preferred first.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets an id with MEMBER_ID_REQUIRED.
    pub require_known_member: bool,
    /// JoinGroup v9+: a returning static leader can be told to skip assigning.
    pub can_skip_assignment: bool,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    /// `None` on success.
    pub error: Option<ResponseError>,
    /// The new generation.
    pub generation: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The chosen assignor.
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// This member's id.
    pub member_id: String,
    /// For the leader only: every member with its metadata.
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// The leader must not assign: a static leader returned to a stable group.
    pub skip_assignment: bool,
}

impl JoinOutcome {
    /// A failed join (the member id is echoed).
    pub fn error(error: ResponseError, member_id: &str) -> JoinOutcome {
        JoinOutcome {
            error: Some(error),
            generation: -1,
            member_id: member_id.to_string(),
            ..JoinOutcome::default()
        }
    }
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    /// `None` on success.
    pub error: Option<ResponseError>,
    /// This member's assignment.
    pub assignment: Bytes,
    /// The group's protocol type (SyncGroup v5).
    pub protocol_type: Option<String>,
    /// The chosen assignor (SyncGroup v5).
    pub protocol: Option<String>,
}

impl SyncOutcome {
    /// A failed sync.
    pub fn error(error: ResponseError) -> SyncOutcome {
        SyncOutcome {
            error: Some(error),
            ..SyncOutcome::default()
        }
    }
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    /// Kafka's state name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen assignor.
    pub protocol: String,
    /// (member id, instance id, client id, client host, metadata, assignment).
    pub members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
}
