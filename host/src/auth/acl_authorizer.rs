//! [`Authorizer`]: whether a principal may perform an operation on a resource, as
//! Kafka's `StandardAuthorizer` decides it:
//!
//! 1. `User:ANONYMOUS` may do everything: it is only ever admitted while no user
//!    exists (see [`super::Authenticator::anonymous`]), which is weir's behaviour
//!    before authentication is set up, kept as it was.
//! 2. A super user (`auth.super_users`) may do everything.
//! 3. A DENY binding that covers the resource, names the principal (or `User:*`)
//!    and the host (or `*`), and is for the operation or ALL, denies: DENY wins.
//! 4. An ALLOW binding likewise allows, where READ, WRITE, DELETE and ALTER also
//!    allow DESCRIBE, and ALTER_CONFIGS allows DESCRIBE_CONFIGS.
//! 5. Nothing matched: denied (Kafka's `allow.everyone.if.no.acl.found=false`),
//!    the safe default once users exist.
//!
//! So the first setup is workable, the first user added while none exist is given
//! ALLOW ALL on every resource (`*`) of every type, as ordinary ACLs that
//! `weir acl list` shows and an administrator may remove ([`bootstrap_bindings`]).

use std::net::IpAddr;
use std::sync::Arc;

use super::acl_binding::{
    AclBinding, AclFilter, Operation, PatternType, Permission, Resource, ResourceType,
};
use super::acl_index::AclIndex;
use super::acl_store::AclStore;
use super::error::AuthError;
use super::principal::Principal;

/// The ACL check for both faces.
#[derive(Debug)]
pub struct Authorizer {
    store: AclStore,
    /// Principals allowed everything, as `User:NAME`.
    super_users: Vec<String>,
}

/// The ACLs the first user gets: ALLOW ALL on `*` of every concrete resource type.
pub fn bootstrap_bindings(user: &str) -> Vec<AclBinding> {
    ResourceType::ALL_VALUES
        .iter()
        .filter(|t| **t != ResourceType::Any)
        .map(|&resource_type| AclBinding {
            resource_type,
            resource_name: "*".into(),
            pattern_type: PatternType::Literal,
            principal: format!("User:{user}"),
            host: "*".into(),
            operation: Operation::All,
            permission: Permission::Allow,
        })
        .collect()
}

impl Authorizer {
    /// The authorizer over `store`, with `super_users` (`User:NAME` each).
    pub fn new(store: AclStore, super_users: Vec<String>) -> Authorizer {
        Authorizer { store, super_users }
    }

    /// The stored ACLs.
    pub fn store(&self) -> &AclStore {
        &self.store
    }

    /// Whether `principal` is a super user.
    pub fn is_super(&self, principal: &Principal) -> bool {
        let name = principal.to_string();
        self.super_users.contains(&name)
    }

    /// Whether `principal` from `host` may perform `op` on `resource`.
    pub fn allows(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        resource: &Resource<'_>,
    ) -> bool {
        let Principal::User(_) = principal else {
            return true;
        };
        if self.is_super(principal) {
            return true;
        }
        let name = principal.to_string();
        let host = host.to_canonical().to_string();
        let index: Arc<AclIndex> = self.store.index();
        let mut allowed = false;
        for b in index.covering(resource).filter(|b| {
            (b.principal == name || b.principal == "User:*") && (b.host == "*" || b.host == host)
        }) {
            match b.permission {
                Permission::Deny if b.operation.denies(op) => return false,
                Permission::Allow if b.operation.allows(op) => allowed = true,
                _ => {}
            }
        }
        allowed
    }

    /// Whether `principal` from `host` may perform `op` on at least one resource of
    /// type `kind`, as Kafka's `authorizeByResourceType` decides it (KIP-679: an
    /// idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on any
    /// topic): a DENY of `*` denies; otherwise some ALLOW pattern for the operation
    /// (or ALL; no implied operations here, as in Kafka) must be left that no DENY
    /// covers whole: a literal name not denied literally nor by a denied prefix of
    /// it, or a prefix no denied prefix of it covers.
    pub fn allows_any(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        kind: ResourceType,
    ) -> bool {
        let Principal::User(_) = principal else {
            return true;
        };
        if self.is_super(principal) {
            return true;
        }
        let name = principal.to_string();
        let host = host.to_canonical().to_string();
        let index: Arc<AclIndex> = self.store.index();
        let mine = index.all().iter().filter(|b| {
            b.resource_type == kind
                && (b.principal == name || b.principal == "User:*")
                && (b.host == "*" || b.host == host)
                && (b.operation == op || b.operation == Operation::All)
        });
        let (mut allowed, mut denied_literal, mut denied_prefix) = (vec![], vec![], vec![]);
        for b in mine {
            let literal = b.pattern_type == PatternType::Literal;
            match b.permission {
                Permission::Deny if literal && b.resource_name == "*" => return false,
                Permission::Deny if literal => denied_literal.push(b.resource_name.as_str()),
                Permission::Deny => denied_prefix.push(b.resource_name.as_str()),
                Permission::Allow if literal && b.resource_name == "*" => return true,
                Permission::Allow => allowed.push((literal, b.resource_name.as_str())),
                Permission::Any => {}
            }
        }
        allowed.iter().any(|(literal, name)| {
            let denied_whole = *literal && denied_literal.contains(name);
            let under_denied_prefix = denied_prefix.iter().any(|p| name.starts_with(p));
            !denied_whole && !under_denied_prefix
        })
    }

    /// [`Self::allows`] as a result naming what was refused (the HTTP API's 403).
    pub fn check(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        resource: &Resource<'_>,
    ) -> Result<(), AuthError> {
        if self.allows(principal, host, op, resource) {
            return Ok(());
        }
        Err(AuthError::Denied {
            principal: principal.to_string(),
            operation: op,
            resource_type: resource.kind,
            resource: resource.name.to_string(),
        })
    }

    /// Stores bindings (see [`AclStore::add`]).
    pub fn add(&self, bindings: &[AclBinding]) -> Result<(), AuthError> {
        self.store.add(bindings)
    }

    /// Stores what it can of `bindings`, each with its own outcome (see
    /// [`AclStore::create_each`]).
    pub fn create_each(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), AuthError>>, AuthError> {
        self.store.create_each(bindings)
    }

    /// Removes what `filter` selects; returns it.
    pub fn remove(&self, filter: &AclFilter) -> Result<Vec<AclBinding>, AuthError> {
        self.store.remove(filter)
    }

    /// The bindings `filter` selects.
    pub fn list(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.store.list(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Broker, BrokerConfig};

    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn broker(dir: &std::path::Path) -> Broker {
        Broker::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            flush: crate::log::FlushPolicy::EveryBatch,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: Default::default(),
        })
        .unwrap()
    }

    fn acl(
        kind: ResourceType,
        name: &str,
        pattern: PatternType,
        who: &str,
        op: Operation,
        permission: Permission,
    ) -> AclBinding {
        AclBinding {
            resource_type: kind,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: who.into(),
            host: "*".into(),
            operation: op,
            permission,
        }
    }

    fn alice() -> Principal {
        Principal::User("alice".into())
    }

    #[test]
    fn literal_prefixed_and_wildcard_patterns_match_as_in_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let authz = Authorizer::new(AclStore::open(&b, 100).unwrap(), vec![]);
        let t = ResourceType::Topic;
        let (lit, pre) = (PatternType::Literal, PatternType::Prefixed);
        let (read, allow) = (Operation::Read, Permission::Allow);
        assert!(!authz.allows(&alice(), HOST, read, &Resource::topic("orders")));
        authz
            .add(&[acl(t, "orders", lit, "User:alice", read, allow)])
            .unwrap();
        assert!(authz.allows(&alice(), HOST, read, &Resource::topic("orders")));
        assert!(!authz.allows(&alice(), HOST, read, &Resource::topic("orders-eu")));
        assert!(!authz.allows(&alice(), HOST, Operation::Write, &Resource::topic("orders")));
        assert!(!authz.allows(&alice(), HOST, read, &Resource::group("orders")));
        authz
            .add(&[acl(t, "logs-", pre, "User:alice", read, allow)])
            .unwrap();
        assert!(authz.allows(&alice(), HOST, read, &Resource::topic("logs-web")));
        assert!(!authz.allows(&alice(), HOST, read, &Resource::topic("log")));
        authz
            .add(&[acl(t, "*", lit, "User:*", Operation::Write, allow)])
            .unwrap();
        assert!(authz.allows(&alice(), HOST, Operation::Write, &Resource::topic("any")));
        let bob = Principal::User("bob".into());
        assert!(authz.allows(&bob, HOST, Operation::Write, &Resource::topic("x")));
        assert!(!authz.allows(&bob, HOST, read, &Resource::topic("orders")));
        // A host-bound ACL applies to that host only.
        let mut on_host = acl(t, "h", lit, "User:bob", read, allow);
        on_host.host = "192.0.2.8".into();
        authz.add(&[on_host]).unwrap();
        assert!(!authz.allows(&bob, HOST, read, &Resource::topic("h")));
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(authz.allows(&bob, other, read, &Resource::topic("h")));
    }

    #[test]
    fn deny_wins_all_covers_everything_and_describe_is_implied() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let authz = Authorizer::new(AclStore::open(&b, 100).unwrap(), vec![]);
        let t = ResourceType::Topic;
        let lit = PatternType::Literal;
        authz
            .add(&[
                acl(t, "*", lit, "User:alice", Operation::All, Permission::Allow),
                acl(
                    t,
                    "secret",
                    lit,
                    "User:alice",
                    Operation::Read,
                    Permission::Deny,
                ),
                acl(
                    ResourceType::Group,
                    "g",
                    lit,
                    "User:alice",
                    Operation::Write,
                    Permission::Allow,
                ),
                acl(
                    ResourceType::Cluster,
                    "kafka-cluster",
                    lit,
                    "User:alice",
                    Operation::AlterConfigs,
                    Permission::Allow,
                ),
            ])
            .unwrap();
        let topic = Resource::topic("secret");
        assert!(authz.allows(&alice(), HOST, Operation::Delete, &topic));
        assert!(!authz.allows(&alice(), HOST, Operation::Read, &topic));
        // DENY READ does not deny DESCRIBE (no implication for denials).
        assert!(authz.allows(&alice(), HOST, Operation::Describe, &topic));
        assert!(authz.allows(&alice(), HOST, Operation::Describe, &Resource::group("g")));
        assert!(!authz.allows(&alice(), HOST, Operation::Read, &Resource::group("g")));
        let cluster = Resource::cluster();
        assert!(authz.allows(&alice(), HOST, Operation::DescribeConfigs, &cluster));
        assert!(!authz.allows(&alice(), HOST, Operation::Describe, &cluster));
        // DENY ALL for everyone beats the ALLOW ALL.
        authz
            .add(&[acl(
                t,
                "secret",
                lit,
                "User:*",
                Operation::All,
                Permission::Deny,
            )])
            .unwrap();
        assert!(!authz.allows(&alice(), HOST, Operation::Delete, &topic));
        let err = authz
            .check(&alice(), HOST, Operation::Write, &topic)
            .unwrap_err()
            .to_string();
        assert!(err.contains("User:alice") && err.contains("WRITE"), "{err}");
        assert!(err.contains("TOPIC") && err.contains("secret"), "{err}");
    }

    #[test]
    fn super_users_and_anonymous_pass_and_acls_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = broker(dir.path());
            let authz = Authorizer::new(AclStore::open(&b, 100).unwrap(), vec!["User:root".into()]);
            let root = Principal::User("root".into());
            let deny_all = acl(
                ResourceType::Topic,
                "*",
                PatternType::Literal,
                "User:*",
                Operation::All,
                Permission::Deny,
            );
            authz.add(&[deny_all.clone(), deny_all]).unwrap();
            assert!(authz.allows(&root, HOST, Operation::Write, &Resource::topic("t")));
            assert!(authz.allows(
                &Principal::Anonymous,
                HOST,
                Operation::Write,
                &Resource::cluster()
            ));
            assert!(!authz.allows(&alice(), HOST, Operation::Write, &Resource::topic("t")));
            authz.add(&bootstrap_bindings("alice")).unwrap();
            b.close().unwrap();
        }
        let b = crate::test_support::reopen(|| {
            Broker::open(BrokerConfig {
                data_dir: dir.path().to_path_buf(),
                flush: crate::log::FlushPolicy::EveryBatch,
                index_interval_bytes: 4096,
                topic_defaults: Default::default(),
                limits: Default::default(),
            })
        });
        let authz = Authorizer::new(AclStore::open(&b, 100).unwrap(), vec![]);
        assert_eq!(authz.list(&AclFilter::default()).len(), 1 + 7);
        let alice = alice();
        assert!(authz.allows(&alice, HOST, Operation::Alter, &Resource::cluster()));
        assert!(!authz.allows(&alice, HOST, Operation::Write, &Resource::topic("t")));
        let gone = authz
            .remove(&AclFilter {
                principal: Some("User:alice".into()),
                ..AclFilter::default()
            })
            .unwrap();
        assert_eq!(gone.len(), 7);
        assert!(!authz.allows(&alice, HOST, Operation::Alter, &Resource::cluster()));
    }

    #[test]
    fn the_acl_cap_is_named_and_a_refused_batch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let authz = Authorizer::new(AclStore::open(&b, 2).unwrap(), vec![]);
        let one = |name: &str| {
            acl(
                ResourceType::Topic,
                name,
                PatternType::Literal,
                "User:a",
                Operation::Read,
                Permission::Allow,
            )
        };
        authz.add(&[one("a"), one("b")]).unwrap();
        // The same ACL again is no new one.
        authz.add(&[one("a")]).unwrap();
        let err = authz.add(&[one("c")]).unwrap_err().to_string();
        assert!(err.contains("auth.max_acls"), "{err}");
        let mut bad = one("d");
        bad.host = "not-an-ip".into();
        authz
            .remove(&AclFilter {
                resource_name: Some("b".into()),
                ..AclFilter::default()
            })
            .unwrap();
        assert!(authz.add(&[one("c"), bad]).is_err());
        assert_eq!(
            authz.list(&AclFilter::default()).len(),
            1,
            "nothing of a refused batch"
        );
    }

    #[test]
    fn write_on_any_topic_is_decided_as_kafkas_authorize_by_resource_type() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let authz = Authorizer::new(AclStore::open(&b, 100).unwrap(), vec![]);
        let t = ResourceType::Topic;
        let (lit, pre) = (PatternType::Literal, PatternType::Prefixed);
        let (write, allow, deny) = (Operation::Write, Permission::Allow, Permission::Deny);
        let any = |authz: &Authorizer| authz.allows_any(&alice(), HOST, write, t);
        assert!(!any(&authz), "no ACL");
        // READ does not count (no implication), nor WRITE on a group.
        authz
            .add(&[
                acl(t, "a", lit, "User:alice", Operation::Read, allow),
                acl(ResourceType::Group, "g", lit, "User:alice", write, allow),
            ])
            .unwrap();
        assert!(!any(&authz));
        authz
            .add(&[acl(t, "orders-eu", lit, "User:alice", write, allow)])
            .unwrap();
        assert!(any(&authz));
        // A denied prefix covering the only allowed name takes it away.
        authz
            .add(&[acl(t, "orders-", pre, "User:*", write, deny)])
            .unwrap();
        assert!(!any(&authz));
        // An allowed prefix the denied one does not cover gives it back.
        authz
            .add(&[acl(t, "logs-", pre, "User:alice", Operation::All, allow)])
            .unwrap();
        assert!(any(&authz));
        assert!(!authz.allows_any(&Principal::User("bob".into()), HOST, write, t));
        // A DENY of `*` ends it.
        authz
            .add(&[acl(t, "*", lit, "User:alice", write, deny)])
            .unwrap();
        assert!(!any(&authz));
        assert!(authz.allows_any(&Principal::Anonymous, HOST, write, t));
    }

    #[test]
    fn each_creation_has_its_own_outcome_and_the_accepted_are_stored_together() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let authz = Authorizer::new(AclStore::open(&b, 3).unwrap(), vec![]);
        let one = |name: &str| {
            acl(
                ResourceType::Topic,
                name,
                PatternType::Literal,
                "User:a",
                Operation::Read,
                Permission::Allow,
            )
        };
        let mut bad = one("bad");
        bad.host = "not-an-ip".into();
        let outcomes = authz
            .create_each(&[one("a"), bad, one("a"), one("b"), one("c"), one("d")])
            .unwrap();
        let codes: Vec<String> = outcomes
            .iter()
            .map(|o| match o {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(codes[0], "ok");
        assert!(codes[1].contains("host"), "{codes:?}");
        assert_eq!(
            &codes[2..5],
            ["ok", "ok", "ok"],
            "a duplicate is no new ACL"
        );
        assert!(codes[5].contains("auth.max_acls"), "{codes:?}");
        let mut names: Vec<String> = authz
            .list(&AclFilter::default())
            .into_iter()
            .map(|b| b.resource_name)
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn filters_match_as_describe_acls_does_and_bad_bindings_are_named() {
        let lit = acl(
            ResourceType::Topic,
            "orders",
            PatternType::Literal,
            "User:a",
            Operation::Read,
            Permission::Allow,
        );
        let mut pre = lit.clone();
        pre.pattern_type = PatternType::Prefixed;
        pre.resource_name = "ord".into();
        let m = AclFilter {
            resource_name: Some("orders".into()),
            pattern_type: Some(PatternType::Match),
            ..AclFilter::default()
        };
        assert!(m.matches(&lit) && m.matches(&pre));
        let exact = AclFilter {
            resource_name: Some("orders".into()),
            pattern_type: Some(PatternType::Literal),
            ..AclFilter::default()
        };
        assert!(exact.matches(&lit) && !exact.matches(&pre));
        let any_op = AclFilter {
            operation: Some(Operation::Any),
            resource_type: Some(ResourceType::Any),
            ..AclFilter::default()
        };
        assert!(any_op.matches(&lit));
        let mut bad = lit.clone();
        bad.principal = "alice".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("User:NAME")
        );
        let mut bad = lit;
        bad.operation = Operation::Any;
        assert!(bad.validate().is_err());
        assert!("describe-configs".parse::<Operation>().unwrap() == Operation::DescribeConfigs);
        assert!("bogus".parse::<Operation>().is_err());
    }
}
