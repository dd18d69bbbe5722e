//! A PostgreSQL server of a test's own: weir's [`LocalPostgres`] (the one `weir bench
//! postgres` starts too), tuned for speed, with the tests' panicking helpers over it.

use std::ops::Deref;
use std::path::Path;

// Not every test binary that builds `common` uses them.
#[allow(unused_imports)]
pub use weir::bench::postgres_server::{Auth, PASSWORD};
use weir::bench::postgres_server::{LocalPostgres, Tuning};

/// A running server under the test's temp dir, stopped on drop.
pub struct Postgres(LocalPostgres);

impl Deref for Postgres {
    type Target = LocalPostgres;

    fn deref(&self) -> &LocalPostgres {
        &self.0
    }
}

impl Postgres {
    /// Initialises a cluster under `parent/pg` and starts it (see [`LocalPostgres::start`]).
    pub fn start(parent: &Path, auth: Auth) -> Postgres {
        Postgres(
            LocalPostgres::start(parent, auth, Tuning::Fast)
                .unwrap_or_else(|e| panic!("starting PostgreSQL: {e:#}")),
        )
    }

    /// [`LocalPostgres::try_sql`], panicking on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("psql {sql:?} failed: {e}"))
    }

    /// The rows of `select` as `|`-joined lines, sorted.
    pub fn rows(&self, select: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .sql(select)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        rows.sort();
        rows
    }
}
