//! Kafka's topic name rules, each with its own error.

/// Why a topic name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// The empty string.
    #[error("topic name is empty")]
    Empty,
    /// `.` or `..`, which would be directory names.
    #[error("topic name cannot be \"{0}\"")]
    Dots(String),
    /// Longer than Kafka's 249-character limit.
    #[error("topic name is {len} characters long; the maximum is 249")]
    TooLong { len: usize },
    /// A character outside `[a-zA-Z0-9._-]`.
    #[error(
        "topic name {name:?} contains {bad:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
    )]
    BadCharacter { name: String, bad: char },
}

/// Kafka's maximum topic name length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks a topic name against Kafka's rules.
pub fn validate(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots(name.to_string()));
    }
    let len = name.chars().count();
    if len > MAX_TOPIC_NAME_LEN {
        return Err(TopicNameError::TooLong { len });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TopicNameError::BadCharacter {
            name: name.to_string(),
            bad,
        });
    }
    Ok(())
}

/// The form under which Kafka considers two names to collide: `.` and `_` are
/// equal because metric names replace one by the other.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

/// Names starting with `__` belong to the broker itself.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["a", "orders", "Orders.v2_x-1", &"x".repeat(249)] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(validate(""), Err(TopicNameError::Empty));
    }

    #[test]
    fn refuses_dot_and_dot_dot() {
        assert_eq!(validate("."), Err(TopicNameError::Dots(".".into())));
        assert_eq!(validate(".."), Err(TopicNameError::Dots("..".into())));
        assert_eq!(validate("..."), Ok(()));
    }

    #[test]
    fn refuses_names_over_249_characters() {
        assert_eq!(
            validate(&"x".repeat(250)),
            Err(TopicNameError::TooLong { len: 250 })
        );
    }

    #[test]
    fn refuses_characters_outside_the_set() {
        for (name, bad) in [
            ("a b", ' '),
            ("a/b", '/'),
            ("é", 'é'),
            ("a:b", ':'),
            ("a\0", '\0'),
        ] {
            assert_eq!(
                validate(name),
                Err(TopicNameError::BadCharacter {
                    name: name.into(),
                    bad
                })
            );
        }
    }

    #[test]
    fn dot_and_underscore_collide() {
        assert_eq!(collision_key("to.pic"), collision_key("to_pic"));
        assert_ne!(collision_key("to.pic"), collision_key("to-pic"));
    }

    #[test]
    fn double_underscore_is_internal() {
        assert!(is_internal("__consumer_offsets"));
        assert!(!is_internal("_one"));
    }
}
