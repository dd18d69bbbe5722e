//! Server config.
