//! [`AclIndex`]: the ACLs in memory, indexed so a check looks only at the bindings
//! that cover its resource: the literal ones of its exact name and of `*`, and the
//! prefixed ones of each prefix of its name (a lookup per prefix length, so the cost
//! follows the name's length, not the number of ACLs). Rebuilt whole after each
//! change: changes are rare, checks happen on every request.

use std::collections::HashMap;

use super::acl_binding::{AclBinding, PatternType, Resource, ResourceType};

/// Positions in [`AclIndex::all`] by resource name.
type ByName = HashMap<String, Vec<usize>>;

/// The bindings, with their positions by type and name.
#[derive(Debug, Default)]
pub struct AclIndex {
    all: Vec<AclBinding>,
    /// type → literal name (or `*`) → positions.
    literal: HashMap<ResourceType, ByName>,
    /// type → prefix → positions.
    prefixed: HashMap<ResourceType, ByName>,
}

impl AclIndex {
    /// Indexes `all`.
    pub fn new(all: Vec<AclBinding>) -> AclIndex {
        let mut literal: HashMap<ResourceType, ByName> = HashMap::new();
        let mut prefixed: HashMap<ResourceType, ByName> = HashMap::new();
        for (i, b) in all.iter().enumerate() {
            let by_type = match b.pattern_type {
                PatternType::Prefixed => &mut prefixed,
                _ => &mut literal,
            };
            by_type
                .entry(b.resource_type)
                .or_default()
                .entry(b.resource_name.clone())
                .or_default()
                .push(i);
        }
        AclIndex {
            all,
            literal,
            prefixed,
        }
    }

    /// Every binding.
    pub fn all(&self) -> &[AclBinding] {
        &self.all
    }

    /// The bindings whose pattern covers `resource`.
    pub fn covering<'a>(
        &'a self,
        resource: &'a Resource<'_>,
    ) -> impl Iterator<Item = &'a AclBinding> + 'a {
        let name = resource.name;
        let literal = self.literal.get(&resource.kind);
        let exact = literal.and_then(|m| m.get(name));
        let wildcard = literal.and_then(|m| m.get("*"));
        let prefixes = self
            .prefixed
            .get(&resource.kind)
            .into_iter()
            .flat_map(move |m| {
                (1..=name.len())
                    .filter(move |&end| name.is_char_boundary(end))
                    .filter_map(move |end| m.get(&name[..end]))
            });
        exact
            .into_iter()
            .chain(wildcard)
            .chain(prefixes)
            .flatten()
            .map(|&i| &self.all[i])
            .filter(move |b| b.covers(resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Operation, Permission};

    fn b(kind: ResourceType, name: &str, pattern: PatternType) -> AclBinding {
        AclBinding {
            resource_type: kind,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:a".into(),
            host: "*".into(),
            operation: Operation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn only_covering_bindings_are_visited_prefixes_on_char_boundaries() {
        let t = ResourceType::Topic;
        let index = AclIndex::new(vec![
            b(t, "café-", PatternType::Prefixed),
            b(t, "caf", PatternType::Prefixed),
            b(t, "café-eu", PatternType::Literal),
            b(t, "*", PatternType::Literal),
            b(t, "café-eux", PatternType::Prefixed),
            b(ResourceType::Group, "café-eu", PatternType::Literal),
        ]);
        let resource = Resource::topic("café-eu");
        let mut found: Vec<&str> = index
            .covering(&resource)
            .map(|b| b.resource_name.as_str())
            .collect();
        found.sort();
        assert_eq!(found, vec!["*", "caf", "café-", "café-eu"]);
        assert_eq!(index.covering(&Resource::topic("x")).count(), 1);
        assert_eq!(index.covering(&Resource::cluster()).count(), 0);
    }
}
