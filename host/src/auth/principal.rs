//! [`Principal`]: who a request acts for, as Kafka names it (`User:alice`).

use std::fmt;

/// Who a connection or request acts for. ACLs (to come) are written against these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A user that authenticated (SASL, HTTP basic or a token).
    User(String),
    /// No credentials, admitted because no users exist (loopback or `--allow-anonymous`).
    Anonymous,
}

impl Principal {
    /// The user's name, if one authenticated.
    pub fn user(&self) -> Option<&str> {
        match self {
            Principal::User(name) => Some(name),
            Principal::Anonymous => None,
        }
    }
}

impl fmt::Display for Principal {
    /// Kafka's spelling: `User:alice`, and `User:ANONYMOUS` for no one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(name) => write!(f, "User:{name}"),
            Principal::Anonymous => f.write_str("User:ANONYMOUS"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_as_kafka_names_them() {
        assert_eq!(Principal::User("alice".into()).to_string(), "User:alice");
        assert_eq!(Principal::Anonymous.to_string(), "User:ANONYMOUS");
        assert_eq!(Principal::Anonymous.user(), None);
    }
}
