//! [`Authenticator`]: the one place both faces ask who a request acts for, and
//! whether it may act without credentials.
//!
//! The rule (issue 13, "safe defaults"): once any user exists, every request on both
//! listeners must authenticate; while none exist, requests without credentials are
//! served from loopback peers only, or from anyone with `--allow-anonymous`. It is
//! asked per request, not fixed at start: adding the first user closes anonymous
//! access at once, and deleting the last one reopens it only as far as the rule says.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use parking_lot::Mutex;

use crate::broker::Broker;

use super::acl_authorizer::{Authorizer, bootstrap_bindings};
use super::acl_binding::{Operation, Resource, ResourceType};
use super::acl_store::AclStore;
use super::error::AuthError;
use super::principal::Principal;
use super::scram::Mechanism;
use super::settings::AuthSettings;
use super::tokens::{TokenRecord, TokenStore};
use super::transport::Transport;
use super::users::{UserRecord, UserStore};

/// Authentication for both faces: users, tokens, the anonymous rule.
#[derive(Debug)]
pub struct Authenticator {
    users: UserStore,
    tokens: TokenStore,
    authorizer: Authorizer,
    settings: AuthSettings,
    /// Per-process secret for made-up SCRAM salts of unknown users and for keying
    /// the cache of checked passwords.
    secret: [u8; 32],
    /// Passwords checked already: HMAC(secret, user NUL password) → the StoredKey it
    /// matched. HTTP basic sends the password with every request, and PBKDF2 at 4096
    /// iterations costs milliseconds each time; the cache holds no password, and an
    /// entry counts only while the user's StoredKey is still the one it matched, so a
    /// deleted or re-created user invalidates it by itself.
    checked: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

/// Entries of the checked-password cache before it is emptied (bounded memory: a
/// client cycling passwords cannot grow it).
const CHECKED_CAPACITY: usize = 1024;

/// Whether `ip` is this machine's loopback (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

impl Authenticator {
    /// Opens the users and tokens in `broker`'s metadata store.
    pub fn open(broker: &Broker, settings: AuthSettings) -> Result<Authenticator, AuthError> {
        Ok(Authenticator {
            users: UserStore::open(broker)?,
            tokens: TokenStore::open(broker)?,
            authorizer: Authorizer::new(
                AclStore::open(broker, settings.max_acls)?,
                settings.super_users.clone(),
            ),
            settings,
            secret: rand::random(),
            checked: Mutex::new(HashMap::new()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Whether `principal` from `host` may perform `op` on `resource`. ACLs are
    /// enforced once a user exists; before that, whoever is admitted (an anonymous
    /// client on loopback or under `--allow-anonymous`, or one with a client
    /// certificate the configured CA verified) may do everything, as before
    /// authentication is set up: otherwise a listener requiring client certificates
    /// could never be given its first user.
    pub fn allows(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        resource: &Resource<'_>,
    ) -> bool {
        !self.required() || self.authorizer.allows(principal, host, op, resource)
    }

    /// Whether `principal` may perform `op` on some resource of type `kind`
    /// ([`Authorizer::allows_any`]), under the same rule as [`Self::allows`].
    pub fn allows_any(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        kind: ResourceType,
    ) -> bool {
        !self.required() || self.authorizer.allows_any(principal, host, op, kind)
    }

    /// [`Self::allows`] as a result naming what was refused (the HTTP API's 403).
    pub fn check(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: Operation,
        resource: &Resource<'_>,
    ) -> Result<(), AuthError> {
        if !self.required() {
            return Ok(());
        }
        self.authorizer.check(principal, host, op, resource)
    }

    /// The stored ACLs (adding, removing, listing); checks go through
    /// [`Self::allows`] and [`Self::check`].
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    pub(super) fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub(super) fn users(&self) -> &UserStore {
        &self.users
    }

    /// Refuses to serve `listener` on a non-loopback `addr` while nobody could
    /// authenticate, unless anonymous access was asked for.
    pub fn check_bind(&self, listener: &'static str, addr: SocketAddr) -> Result<(), AuthError> {
        if is_loopback(addr.ip()) || self.settings.allow_anonymous || !self.users.is_empty() {
            return Ok(());
        }
        Err(AuthError::AnonymousOnNetwork { listener, addr })
    }

    /// Whether any user exists (then every request must authenticate).
    pub fn required(&self) -> bool {
        !self.users.is_empty()
    }

    /// The principal of a request from `peer` without credentials, if the rule lets
    /// it in.
    pub fn anonymous(&self, peer: IpAddr) -> Result<Principal, AuthError> {
        if self.required() {
            return Err(AuthError::Unauthenticated {
                reason: "users exist, so every request must authenticate",
            });
        }
        if self.settings.allow_anonymous || is_loopback(peer) {
            return Ok(Principal::Anonymous);
        }
        Err(AuthError::Unauthenticated {
            reason: "with no users, only loopback clients are served without credentials \
                     (weir serve --allow-anonymous serves everyone)",
        })
    }

    /// Whether a password may arrive in clear (SASL PLAIN, HTTP basic) from `peer`:
    /// over TLS, on loopback, or anywhere with `auth.plain_without_tls`.
    pub fn cleartext_allowed(&self, peer: IpAddr, transport: Transport) -> bool {
        transport == Transport::Tls || self.settings.plain_without_tls || is_loopback(peer)
    }

    /// Checks a user's password (SASL PLAIN, HTTP basic). Blocking: runs PBKDF2.
    pub fn password(
        &self,
        user: &str,
        password: &str,
        peer: IpAddr,
        transport: Transport,
    ) -> Result<Principal, AuthError> {
        if !self.cleartext_allowed(peer, transport) {
            return Err(AuthError::Unauthenticated {
                reason: "a password in clear (PLAIN, HTTP basic) is accepted only from \
                         TLS or loopback (auth.plain_without_tls allows it anywhere); \
                         use TLS, SCRAM or a token",
            });
        }
        let Some(credential) = self
            .users
            .get(user)?
            .and_then(|r| r.credentials.into_iter().next())
        else {
            return Err(AuthError::BadCredentials);
        };
        let mut key_input = Vec::with_capacity(user.len() + 1 + password.len());
        key_input.extend_from_slice(user.as_bytes());
        key_input.push(0);
        key_input.extend_from_slice(password.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(&Mechanism::ScramSha256.hmac(&self.secret, &key_input));
        if self
            .checked
            .lock()
            .get(&key)
            .is_some_and(|stored| *stored == credential.stored_key)
        {
            return Ok(Principal::User(user.to_string()));
        }
        if !credential.matches_password(password) {
            return Err(AuthError::BadCredentials);
        }
        let mut checked = self.checked.lock();
        if checked.len() >= CHECKED_CAPACITY {
            checked.clear();
        }
        checked.insert(key, credential.stored_key);
        Ok(Principal::User(user.to_string()))
    }

    /// The user a bearer token authenticates as; a token of a deleted user is dead.
    pub fn token(&self, token: &str) -> Result<Principal, AuthError> {
        match self.tokens.find(token)? {
            Some(record) if self.users.get(&record.user)?.is_some() => {
                Ok(Principal::User(record.user))
            }
            _ => Err(AuthError::BadCredentials),
        }
    }

    /// Adds a user. With no users yet, only a loopback peer may add the first one.
    /// Blocking: derives the SCRAM credentials.
    pub fn add_user(
        &self,
        by: &Principal,
        peer: IpAddr,
        name: &str,
        password: &str,
    ) -> Result<UserRecord, AuthError> {
        if *by == Principal::Anonymous && !is_loopback(peer) {
            return Err(AuthError::Forbidden {
                reason: "while no users exist, the first user can only be added from loopback",
            });
        }
        if self.users.len() >= self.settings.max_users {
            return Err(AuthError::LimitReached {
                what: "user",
                key: "max_users",
                max: self.settings.max_users,
            });
        }
        let first = self.users.is_empty();
        let record = self
            .users
            .add(name, password, self.settings.scram_iterations)?;
        if first {
            // The first user administers: without it nobody could write an ACL.
            self.authorizer.add(&bootstrap_bindings(name))?;
        }
        Ok(record)
    }

    /// Deletes a user and revokes its tokens.
    pub fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        self.users.delete(name)?;
        self.tokens.revoke_user(name)?;
        Ok(())
    }

    /// Every user.
    pub fn list_users(&self) -> Result<Vec<UserRecord>, AuthError> {
        self.users.list()
    }

    /// Creates a token for the existing user `user`; returns the token (shown once).
    pub fn create_token(&self, user: &str) -> Result<(String, TokenRecord), AuthError> {
        if self.users.get(user)?.is_none() {
            return Err(AuthError::UnknownUser {
                name: user.to_string(),
            });
        }
        self.tokens.create(user, self.settings.max_tokens)
    }

    /// Every token's record (never the tokens).
    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>, AuthError> {
        self.tokens.list()
    }

    /// Revokes a token by id.
    pub fn revoke_token(&self, id: &str) -> Result<(), AuthError> {
        self.tokens.revoke(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;

    fn config(dir: &std::path::Path) -> BrokerConfig {
        BrokerConfig {
            data_dir: dir.to_path_buf(),
            flush: crate::log::FlushPolicy::EveryBatch,
            index_interval_bytes: 4096,
            topic_defaults: Default::default(),
            limits: Default::default(),
        }
    }

    fn broker(dir: &std::path::Path) -> Broker {
        Broker::open(config(dir)).unwrap()
    }

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn anonymous_only_on_loopback_and_only_until_a_user_exists() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let auth = Authenticator::open(&b, AuthSettings::default()).unwrap();
        assert_eq!(auth.anonymous(LOOPBACK).unwrap(), Principal::Anonymous);
        assert!(auth.anonymous(REMOTE).is_err());
        let any: SocketAddr = "0.0.0.0:9092".parse().unwrap();
        assert!(matches!(
            auth.check_bind("Kafka", any),
            Err(AuthError::AnonymousOnNetwork { .. })
        ));
        assert!(matches!(
            auth.add_user(&Principal::Anonymous, REMOTE, "alice", "pw"),
            Err(AuthError::Forbidden { .. })
        ));
        auth.add_user(&Principal::Anonymous, LOOPBACK, "alice", "pw")
            .unwrap();
        assert!(auth.anonymous(LOOPBACK).is_err());
        assert!(auth.check_bind("Kafka", any).is_ok());
        assert_eq!(
            auth.password("alice", "pw", LOOPBACK, Transport::Plaintext)
                .unwrap(),
            Principal::User("alice".into())
        );
        assert!(
            auth.password("alice", "pw", REMOTE, Transport::Plaintext)
                .is_err()
        );
        // Over TLS a password may come from anywhere.
        assert!(auth.password("alice", "pw", REMOTE, Transport::Tls).is_ok());
        assert!(matches!(
            auth.password("alice", "nope", LOOPBACK, Transport::Plaintext),
            Err(AuthError::BadCredentials)
        ));
        let (token, record) = auth.create_token("alice").unwrap();
        assert_eq!(auth.token(&token).unwrap(), Principal::User("alice".into()));
        assert_eq!(auth.list_tokens().unwrap(), vec![record]);
        // Checked twice (the second from the cache), then the user is re-created with
        // another password: the old one must fail although it was cached.
        assert!(
            auth.password("alice", "pw", LOOPBACK, Transport::Plaintext)
                .is_ok()
        );
        auth.delete_user("alice").unwrap();
        assert!(
            auth.password("alice", "pw", LOOPBACK, Transport::Plaintext)
                .is_err()
        );
        auth.add_user(&Principal::Anonymous, LOOPBACK, "alice", "new")
            .unwrap();
        assert!(
            auth.password("alice", "pw", LOOPBACK, Transport::Plaintext)
                .is_err()
        );
        assert!(
            auth.password("alice", "new", LOOPBACK, Transport::Plaintext)
                .is_ok()
        );
        auth.delete_user("alice").unwrap();
        assert!(auth.token(&token).is_err());
        assert!(auth.list_tokens().unwrap().is_empty());
        assert_eq!(auth.anonymous(LOOPBACK).unwrap(), Principal::Anonymous);
    }

    #[test]
    fn the_user_and_token_caps_are_named_when_reached() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let settings = AuthSettings {
            max_users: 1,
            max_tokens: 1,
            ..AuthSettings::default()
        };
        let auth = Authenticator::open(&b, settings).unwrap();
        auth.add_user(&Principal::Anonymous, LOOPBACK, "a", "pw")
            .unwrap();
        let err = auth
            .add_user(&Principal::User("a".into()), LOOPBACK, "b", "pw")
            .unwrap_err();
        assert!(err.to_string().contains("auth.max_users"), "{err}");
        auth.create_token("a").unwrap();
        let err = auth.create_token("a").unwrap_err();
        assert!(err.to_string().contains("auth.max_tokens"), "{err}");
        assert!(matches!(
            auth.create_token("nobody"),
            Err(AuthError::UnknownUser { .. })
        ));
    }

    #[test]
    fn users_survive_a_reopen_and_hold_no_password() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = broker(dir.path());
            let auth = Authenticator::open(&b, AuthSettings::default()).unwrap();
            auth.add_user(&Principal::Anonymous, LOOPBACK, "bob", "hunter2-secret")
                .unwrap();
            assert!(matches!(
                auth.add_user(&Principal::Anonymous, LOOPBACK, "bob", "x"),
                Err(AuthError::UserExists { .. })
            ));
            b.close().unwrap();
        }
        let b = crate::test_support::reopen(|| Broker::open(config(dir.path())));
        let auth = Authenticator::open(&b, AuthSettings::default()).unwrap();
        let users = auth.list_users().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].credentials.len(), 2);
        assert!(
            auth.password("bob", "hunter2-secret", LOOPBACK, Transport::Plaintext)
                .is_ok()
        );
        // No stored byte sequence is the password.
        let raw = rmp_serde::to_vec_named(&users[0]).unwrap();
        assert!(!raw.windows(14).any(|w| w == b"hunter2-secret"));
    }
}
