//! `herold migrate-to postgres://…`: copies every table of an SQLite
//! database into an empty, freshly migrated PostgreSQL database.
//!
//! The copy is generic, table by table, not written per table: the tables
//! and their column types come from the migrated target's catalogue
//! (`information_schema`), which `tests/schema_parity.rs` keeps identical
//! to SQLite's tables and to `schema.rs`. Tables are copied parents first
//! (from the foreign keys of both: PostgreSQL checks the references of
//! `deliveries` with triggers instead), rows in `rowid` order (so a
//! row referring to an older row of its own table, such as a correction,
//! comes after it), in batches: SQLite turns each batch into one JSON array
//! (`json_object`, binary columns as `\x…` hex, booleans as 0/1) and
//! PostgreSQL inserts it with `json_populate_recordset`, which converts
//! every value with the target column's own input function. Ids are kept;
//! afterwards every identity sequence is set past the highest id. All of
//! it is one PostgreSQL transaction reading one SQLite snapshot: a failure
//! leaves the target as empty as it was.

use diesel::{
    sql_types::{BigInt, Bool, Nullable, Text},
    Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection,
};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

use super::{Database, DatabaseUrl, Pool, StorageError};

/// Rows per batch; tables with binary columns (images, photos) go in small
/// batches so one batch stays a few megabytes.
const BATCH_ROWS: i64 = 500;
const BATCH_ROWS_BINARY: i64 = 8;

/// Why the database was not copied.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// The configured database is not SQLite.
    #[error("herold migrate-to copies an SQLite database; the configured database_url is {0}")]
    SourceNotSqlite(String),
    /// The target URL is not PostgreSQL.
    #[error(
        "the target {0:?} is not a PostgreSQL URL: expected postgres://USER@HOST:PORT/DATABASE"
    )]
    TargetNotPostgres(String),
    /// The target already holds data.
    #[error(
        "the target database is not empty (table {0} has rows): migrate into a new, empty \
         database (e.g. `createdb herold`)"
    )]
    TargetNotEmpty(String),
    /// The two databases' tables differ (different Herold versions?).
    #[error("the SQLite and PostgreSQL tables differ: {0}")]
    SchemaMismatch(String),
    /// The foreign keys form a cycle, so there is no order to copy in.
    #[error("cannot order the tables for copying: the foreign keys of {0} form a cycle")]
    Cycle(String),
    /// A database failed; nothing was committed to the target.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for MigrateError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<diesel::r2d2::PoolError> for MigrateError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

/// Rows copied per table, in the order they were copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// `(table, rows)`.
    pub tables: Vec<(String, u64)>,
}

impl MigrateReport {
    /// Rows copied in all tables.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    found: bool,
}

#[derive(QueryableByName)]
struct Chunk {
    #[diesel(sql_type = Nullable<Text>)]
    rows: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last: Option<i64>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    seq: String,
}

/// One table to copy: its columns and which of them are binary.
struct Table {
    name: String,
    columns: Vec<(String, bool)>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Database {
    /// Copies every table of this (SQLite) database into the empty
    /// PostgreSQL database at `target`, which is created if missing and
    /// migrated first. Ids are kept and sequences set past them; one
    /// transaction, so on failure the target stays empty.
    pub fn copy_to_postgres(&self, target: &str) -> Result<MigrateReport, MigrateError> {
        let Pool::Sqlite(source) = self.pool() else {
            return Err(MigrateError::SourceNotSqlite(self.backend().into()));
        };
        let url = match DatabaseUrl::parse(target) {
            Ok(u @ DatabaseUrl::Postgres(_)) => u,
            _ => return Err(MigrateError::TargetNotPostgres(DatabaseUrl::redact(target))),
        };
        let target_pool = Database::connect(&url, 1)?;
        Database::migrate_pool(&target_pool)?;
        let Pool::Postgres(target_pool) = target_pool else {
            return Err(MigrateError::TargetNotPostgres(DatabaseUrl::redact(target)));
        };
        let mut pg_guard = target_pool.get()?;
        let pg: &mut PgConnection = &mut pg_guard;
        let mut sqlite_guard = source.get()?;
        let sqlite: &mut SqliteConnection = &mut sqlite_guard;
        let tables = tables_in_order(pg, sqlite)?;
        check_columns(sqlite, &tables)?;
        pg.transaction::<_, MigrateError, _>(|pg| {
            for t in &tables {
                let found: Exists = diesel::sql_query(format!(
                    "SELECT EXISTS (SELECT 1 FROM {}) AS found",
                    quote(&t.name)
                ))
                .get_result(pg)?;
                if found.found {
                    return Err(MigrateError::TargetNotEmpty(t.name.clone()));
                }
            }
            // One snapshot of the source for the whole copy.
            let report = sqlite.transaction::<_, MigrateError, _>(|sqlite| {
                let mut report = MigrateReport::default();
                for t in &tables {
                    let n = copy_table(sqlite, pg, t)?;
                    report.tables.push((t.name.clone(), n));
                }
                Ok(report)
            })?;
            fix_sequences(pg)?;
            Ok(report)
        })
    }
}

/// Tables whose rows the migrations write and each database keeps its
/// own (the change counter of the public documents): neither copied nor
/// required empty.
const SEEDED: &[&str] = &["public_version"];

/// The target's tables with their columns, parents before children (by
/// the foreign keys of both databases).
fn tables_in_order(
    pg: &mut PgConnection,
    sqlite: &mut SqliteConnection,
) -> Result<Vec<Table>, MigrateError> {
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
         ORDER BY table_name, ordinal_position",
    )
    .load(pg)?;
    let mut by_table: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for c in columns
        .into_iter()
        .filter(|c| !SEEDED.contains(&c.table_name.as_str()))
    {
        by_table
            .entry(c.table_name)
            .or_default()
            .push((c.column_name, c.data_type == "bytea"));
    }
    let mut keys: Vec<ForeignKey> = diesel::sql_query(
        "SELECT DISTINCT child.relname::text AS child, parent.relname::text AS parent \
         FROM pg_constraint c \
         JOIN pg_class child ON child.oid = c.conrelid \
         JOIN pg_class parent ON parent.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .load(pg)?;
    // PostgreSQL checks some references with triggers, not foreign keys
    // (migration `000028_delivery_reference_checks`); SQLite has them all.
    keys.extend(
        diesel::sql_query(
            "SELECT DISTINCT m.name AS child, f.\"table\" AS parent \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table'",
        )
        .load::<ForeignKey>(sqlite)?,
    );
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = by_table
        .keys()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for k in &keys {
        // A table referring to itself is ordered by rowid instead.
        if k.child != k.parent && parents.contains_key(k.parent.as_str()) {
            if let Some(p) = parents.get_mut(k.child.as_str()) {
                p.insert(k.parent.as_str());
            }
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<String> = Vec::new();
    while done.len() < parents.len() {
        let ready: Vec<&str> = parents
            .iter()
            .filter(|(t, ps)| !done.contains(*t) && ps.iter().all(|p| done.contains(p)))
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            let left: Vec<&str> = parents
                .keys()
                .filter(|t| !done.contains(*t))
                .copied()
                .collect();
            return Err(MigrateError::Cycle(left.join(", ")));
        }
        for t in ready {
            done.insert(t);
            order.push(t.to_owned());
        }
    }
    Ok(order
        .into_iter()
        .map(|name| Table {
            columns: by_table.remove(&name).unwrap_or_default(),
            name,
        })
        .collect())
}

/// Every target table exists in SQLite with exactly the same columns.
fn check_columns(sqlite: &mut SqliteConnection, tables: &[Table]) -> Result<(), MigrateError> {
    let source_tables: BTreeSet<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
    )
    .load::<Name>(sqlite)?
    .into_iter()
    .map(|n| n.name)
    .filter(|n| !SEEDED.contains(&n.as_str()))
    .collect();
    let target_tables: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    if source_tables != target_tables {
        let only_source: Vec<_> = source_tables.difference(&target_tables).collect();
        let only_target: Vec<_> = target_tables.difference(&source_tables).collect();
        return Err(MigrateError::SchemaMismatch(format!(
            "tables only in SQLite: {only_source:?}, only in PostgreSQL: {only_target:?}"
        )));
    }
    for t in tables {
        let source: BTreeSet<String> = diesel::sql_query("SELECT name FROM pragma_table_info(?)")
            .bind::<Text, _>(&t.name)
            .load::<Name>(sqlite)?
            .into_iter()
            .map(|n| n.name)
            .collect();
        let target: BTreeSet<String> = t.columns.iter().map(|(c, _)| c.clone()).collect();
        if source != target {
            return Err(MigrateError::SchemaMismatch(format!(
                "table {}: columns {source:?} in SQLite, {target:?} in PostgreSQL",
                t.name
            )));
        }
    }
    Ok(())
}

/// Copies one table in batches; returns the rows copied.
fn copy_table(
    sqlite: &mut SqliteConnection,
    pg: &mut PgConnection,
    t: &Table,
) -> Result<u64, MigrateError> {
    let fields: Vec<String> = t
        .columns
        .iter()
        .map(|(c, binary)| {
            let q = quote(c);
            let value = if *binary {
                format!("CASE WHEN {q} IS NULL THEN NULL ELSE '\\x' || hex({q}) END")
            } else {
                q
            };
            format!("'{}', {value}", c.replace('\'', "''"))
        })
        .collect();
    let batch = if t.columns.iter().any(|(_, b)| *b) {
        BATCH_ROWS_BINARY
    } else {
        BATCH_ROWS
    };
    let read = format!(
        "SELECT json_group_array(json_object({})) AS rows, max(herold_rowid) AS last, \
         count(*) AS n \
         FROM (SELECT rowid AS herold_rowid, * FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?)",
        fields.join(", "),
        quote(&t.name)
    );
    let columns = t
        .columns
        .iter()
        .map(|(c, _)| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let write = format!(
        "INSERT INTO {table} ({columns}) SELECT {columns} \
         FROM json_populate_recordset(NULL::{table}, $1::json)",
        table = quote(&t.name)
    );
    let mut after = i64::MIN;
    let mut copied = 0u64;
    loop {
        let chunk: Chunk = diesel::sql_query(&read)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(batch)
            .get_result(sqlite)?;
        let (Some(rows), Some(last)) = (chunk.rows, chunk.last) else {
            break;
        };
        if chunk.n == 0 {
            break;
        }
        let inserted = diesel::sql_query(&write)
            .bind::<Text, _>(rows)
            .execute(pg)?;
        if i64::try_from(inserted).ok() != Some(chunk.n) {
            return Err(MigrateError::SchemaMismatch(format!(
                "table {}: {} rows read but {inserted} written",
                t.name, chunk.n
            )));
        }
        copied += inserted as u64;
        after = last;
    }
    Ok(copied)
}

/// Sets every identity or serial sequence so the next id is past the
/// highest one copied.
fn fix_sequences(pg: &mut PgConnection) -> Result<(), MigrateError> {
    let sequences: Vec<Sequence> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, \
         pg_get_serial_sequence(quote_ident(table_name), column_name)::text AS seq \
         FROM information_schema.columns \
         WHERE table_schema = 'public' \
         AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
    )
    .load(pg)?;
    for s in sequences {
        diesel::sql_query(format!(
            "SELECT setval($1::regclass, COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
            quote(&s.column_name),
            quote(&s.table_name)
        ))
        .bind::<Text, _>(&s.seq)
        .execute(pg)?;
    }
    Ok(())
}
