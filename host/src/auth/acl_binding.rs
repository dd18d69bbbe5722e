//! [`AclBinding`]: one ACL as Kafka models it (KIP-11, KIP-290): a resource pattern
//! (type, name, LITERAL or PREFIXED), a principal, a host, an operation and ALLOW or
//! DENY; and [`AclFilter`], the query form CreateAcls' siblings DescribeAcls and
//! DeleteAcls (and `/v1/acls`) use.
//!
//! The enums carry Kafka's wire codes, so the Kafka ACL APIs map one to one; weir's
//! own resource types (module, pipeline, connector) take codes Kafka does not use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::AuthError;

/// Declares a Kafka ACL enum: variants with wire codes and names, parsed
/// case-insensitively (`-` for `_`), serialised as the name.
macro_rules! kafka_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $text:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant,)+];

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)+ }
            }

            /// The variant of a wire code.
            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = AuthError;
            fn from_str(s: &str) -> Result<$name, AuthError> {
                let wanted = s.trim().replace('-', "_").to_ascii_uppercase();
                $name::ALL_VALUES
                    .iter()
                    .copied()
                    .find(|v| v.name() == wanted)
                    .ok_or_else(|| AuthError::InvalidAcl {
                        reason: format!(
                            "{s:?} is not a {} (one of: {})",
                            stringify!($name),
                            $name::ALL_VALUES.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
                        ),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

kafka_enum!(
    /// What an ACL is about.
    ResourceType {
        /// Filters only: any type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (the one resource named `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A producer's transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A Wasm module (weir).
        Module = 64, "MODULE";
        /// A pipeline (weir).
        Pipeline = 65, "PIPELINE";
        /// A connector (weir).
        Connector = 66, "CONNECTOR";
    }
);

kafka_enum!(
    /// How an ACL's resource name matches.
    PatternType {
        /// Filters only: any pattern type.
        Any = 1, "ANY";
        /// Filters only: every pattern that would match the name given.
        Match = 2, "MATCH";
        /// The exact name, or every name if it is `*`.
        Literal = 3, "LITERAL";
        /// Every name starting with it.
        Prefixed = 4, "PREFIXED";
    }
);

kafka_enum!(
    /// What an ACL allows or denies.
    Operation {
        /// Filters only: any operation.
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe (implied by READ, WRITE, DELETE and ALTER).
        Describe = 8, "DESCRIBE";
        /// Broker-to-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs (implied by ALTER_CONFIGS).
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce (on the cluster).
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
    }
);

kafka_enum!(
    /// Whether an ACL allows or denies.
    Permission {
        /// Filters only: either.
        Any = 1, "ANY";
        /// Denies (and wins over any ALLOW).
        Deny = 2, "DENY";
        /// Allows.
        Allow = 3, "ALLOW";
    }
);

impl ResourceType {
    /// Whether Kafka knows the type: weir's own (module, pipeline, connector) are
    /// left out of the Kafka ACL APIs, whose clients cannot represent them
    /// (confluent-kafka's enum raises on an unknown code).
    pub fn is_kafka(self) -> bool {
        !matches!(
            self,
            ResourceType::Module | ResourceType::Pipeline | ResourceType::Connector
        )
    }
}

impl ResourceType {
    /// The operations an ACL on this type can be about, as Kafka's
    /// `AclEntry.supportedOperations` lists them: the authorized-operations fields of
    /// Metadata, DescribeGroups and DescribeCluster carry a bit for each one allowed.
    /// A group leaves out Kafka 4's DESCRIBE_/ALTER_CONFIGS: weir has no group configs.
    /// weir's own types list what their HTTP routes ask for.
    pub fn operations(self) -> &'static [Operation] {
        use Operation as O;
        match self {
            ResourceType::Topic => &[
                O::Read,
                O::Write,
                O::Create,
                O::Describe,
                O::Delete,
                O::Alter,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            ResourceType::Group => &[O::Read, O::Describe, O::Delete],
            ResourceType::Cluster => &[
                O::Create,
                O::ClusterAction,
                O::DescribeConfigs,
                O::AlterConfigs,
                O::IdempotentWrite,
                O::Alter,
                O::Describe,
            ],
            ResourceType::TransactionalId => &[O::Describe, O::Write],
            ResourceType::Module => &[O::Create, O::Describe, O::Delete],
            ResourceType::Pipeline | ResourceType::Connector => {
                &[O::Create, O::Describe, O::Alter, O::Delete, O::Read]
            }
            ResourceType::Any => &[],
        }
    }
}

impl Operation {
    /// Whether an ALLOW for `self` allows `wanted`: the same, ALL, or one that
    /// implies it (Kafka: READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS
    /// implies DESCRIBE_CONFIGS).
    pub fn allows(self, wanted: Operation) -> bool {
        self == wanted
            || self == Operation::All
            || (wanted == Operation::Describe
                && matches!(
                    self,
                    Operation::Read | Operation::Write | Operation::Delete | Operation::Alter
                ))
            || (wanted == Operation::DescribeConfigs && self == Operation::AlterConfigs)
    }

    /// Whether a DENY for `self` denies `wanted` (no implication: a DENY of
    /// DESCRIBE does not deny READ).
    pub fn denies(self, wanted: Operation) -> bool {
        self == wanted || self == Operation::All
    }
}

/// The cluster resource's one name, as Kafka spells it.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// Longest resource name or principal in an ACL, bytes.
pub const MAX_FIELD_BYTES: usize = 512;

/// A resource a request acts on: what ACLs are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    /// Its type (never `Any`).
    pub kind: ResourceType,
    /// Its name.
    pub name: &'a str,
}

impl<'a> Resource<'a> {
    /// A topic.
    pub fn topic(name: &'a str) -> Self {
        Resource {
            kind: ResourceType::Topic,
            name,
        }
    }
    /// A consumer group.
    pub fn group(name: &'a str) -> Self {
        Resource {
            kind: ResourceType::Group,
            name,
        }
    }
    /// A transactional id.
    pub fn transactional_id(name: &'a str) -> Self {
        Resource {
            kind: ResourceType::TransactionalId,
            name,
        }
    }
    /// The cluster.
    pub fn cluster() -> Resource<'static> {
        Resource {
            kind: ResourceType::Cluster,
            name: CLUSTER_NAME,
        }
    }
}

impl fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

/// One ACL, as stored and as listed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    /// The resource type (never `ANY`).
    pub resource_type: ResourceType,
    /// The resource name, or prefix; `*` with LITERAL is every name.
    pub resource_name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
    /// `User:NAME`, or `User:*` for everyone.
    pub principal: String,
    /// The client host it applies to: an IP address, or `*`.
    pub host: String,
    /// The operation (never `ANY`).
    pub operation: Operation,
    /// ALLOW or DENY.
    pub permission: Permission,
}

impl AclBinding {
    /// Checks the binding can be stored: concrete types, a `User:` principal, names
    /// within bounds.
    pub fn validate(&self) -> Result<(), AuthError> {
        let bad = |reason: String| Err(AuthError::InvalidAcl { reason });
        if self.resource_type == ResourceType::Any {
            return bad("resource type ANY is only for filters".into());
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return bad(format!(
                "pattern type {} is only for filters: use LITERAL or PREFIXED",
                self.pattern_type
            ));
        }
        if self.operation == Operation::Any {
            return bad("operation ANY is only for filters".into());
        }
        if self.permission == Permission::Any {
            return bad("permission ANY is only for filters: use ALLOW or DENY".into());
        }
        if self.resource_name.is_empty() {
            return bad("empty resource name".into());
        }
        if self.resource_type == ResourceType::Cluster
            && !(self.resource_name == CLUSTER_NAME
                || (self.resource_name == "*" && self.pattern_type == PatternType::Literal))
        {
            return bad(format!("the cluster resource is named {CLUSTER_NAME:?}"));
        }
        match self.principal.strip_prefix("User:") {
            Some(name) if !name.is_empty() => {}
            _ => return bad(format!("principal {:?} is not User:NAME", self.principal)),
        }
        if self.host.is_empty() {
            return bad("empty host: use * for every host".into());
        }
        if self.host != "*" && self.host.parse::<std::net::IpAddr>().is_err() {
            return bad(format!("host {:?} is not an IP address or *", self.host));
        }
        for (what, text) in [
            ("resource name", &self.resource_name),
            ("principal", &self.principal),
        ] {
            if text.len() > MAX_FIELD_BYTES || text.chars().any(char::is_control) {
                return bad(format!(
                    "{what} longer than {MAX_FIELD_BYTES} bytes or with control characters"
                ));
            }
        }
        Ok(())
    }

    /// Whether this binding's pattern covers `resource`.
    pub fn covers(&self, resource: &Resource<'_>) -> bool {
        self.resource_type == resource.kind
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == "*" || self.resource_name == resource.name
                }
                PatternType::Prefixed => resource.name.starts_with(&self.resource_name),
                PatternType::Any | PatternType::Match => false,
            }
    }

    /// The storage key: every field, so the same ACL twice is stored once.
    pub fn key(&self) -> Vec<u8> {
        let mut key = vec![
            self.resource_type.code() as u8,
            self.pattern_type.code() as u8,
            self.operation.code() as u8,
            self.permission.code() as u8,
        ];
        for part in [&self.resource_name, &self.principal, &self.host] {
            key.extend_from_slice(&(part.len() as u32).to_be_bytes());
            key.extend_from_slice(part.as_bytes());
        }
        key
    }
}

/// A query over bindings (DescribeAcls, DeleteAcls, `/v1/acls`): `None` fields and
/// `ANY` match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AclFilter {
    /// Resource type, or `ANY`.
    pub resource_type: Option<ResourceType>,
    /// Resource name.
    pub resource_name: Option<String>,
    /// Pattern type: a concrete one, `ANY`, or `MATCH` (bindings that would apply to
    /// the named resource: literal, `*` and prefixes of it).
    pub pattern_type: Option<PatternType>,
    /// Principal.
    pub principal: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Operation, or `ANY`.
    pub operation: Option<Operation>,
    /// Permission, or `ANY`.
    pub permission: Option<Permission>,
    /// Only Kafka's resource types (the Kafka ACL APIs' view, see
    /// [`ResourceType::is_kafka`]).
    #[serde(skip)]
    pub kafka_only: bool,
}

impl AclFilter {
    /// Whether `b` is selected.
    pub fn matches(&self, b: &AclBinding) -> bool {
        fn eq<T: PartialEq>(want: &Option<T>, any: Option<T>, have: &T) -> bool {
            match want {
                None => true,
                Some(w) => Some(w) == any.as_ref() || w == have,
            }
        }
        let name_ok = match (&self.resource_name, self.pattern_type) {
            (None, _) => true,
            (Some(name), Some(PatternType::Match)) => {
                b.resource_name == *name
                    || (b.pattern_type == PatternType::Literal && b.resource_name == "*")
                    || (b.pattern_type == PatternType::Prefixed
                        && name.starts_with(&b.resource_name))
            }
            (Some(name), _) => b.resource_name == *name,
        };
        let pattern_ok = match self.pattern_type {
            None | Some(PatternType::Any) | Some(PatternType::Match) => true,
            Some(p) => p == b.pattern_type,
        };
        (!self.kafka_only || b.resource_type.is_kafka())
            && eq(
                &self.resource_type,
                Some(ResourceType::Any),
                &b.resource_type,
            )
            && name_ok
            && pattern_ok
            && eq(&self.principal, None, &b.principal)
            && eq(&self.host, None, &b.host)
            && eq(&self.operation, Some(Operation::Any), &b.operation)
            && eq(&self.permission, Some(Permission::Any), &b.permission)
    }
}
