//! The SQLite and PostgreSQL migrations must produce the same tables and
//! columns (the one diesel schema in src/storage/schema.rs serves both).

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestDb;
use diesel::{sql_types::Text, QueryableByName, RunQueryDsl};
use herold::storage::Pool;
use std::collections::BTreeSet;

#[derive(QueryableByName, Debug)]
struct Col {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    nullable: String,
}

fn columns(t: &TestDb) -> BTreeSet<(String, String, bool)> {
    let cols: Vec<Col> = match t.app.db().pool() {
        Pool::Sqlite(p) => diesel::sql_query(
            "SELECT m.name AS table_name, c.name AS column_name, \
             CASE WHEN c.\"notnull\" = 1 OR c.pk > 0 THEN 'NO' ELSE 'YES' END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
        )
        .load(&mut *p.get().unwrap())
        .unwrap(),
        Pool::Postgres(p) => diesel::sql_query(
            "SELECT table_name::text, column_name::text, is_nullable::text AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        )
        .load(&mut *p.get().unwrap())
        .unwrap(),
    };
    cols.into_iter()
        .map(|c| (c.table_name, c.column_name, c.nullable == "YES"))
        .collect()
}

#[test]
fn sqlite_and_postgres_schemas_match() {
    let s = columns(&TestDb::sqlite());
    let p = columns(&TestDb::postgres());
    assert!(s.len() > 50, "expected the full schema, got {s:?}");
    let only_sqlite: Vec<_> = s.difference(&p).collect();
    let only_pg: Vec<_> = p.difference(&s).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}\nonly in PostgreSQL: {only_pg:?}"
    );
}
