//! The marker of a demo database (`herold demo`): set when the demo seeds
//! an empty database, so a demo never runs against real residents.

use diesel::prelude::*;

use super::{
    schema::{meta, subscribers},
    with_conn, with_write_tx, Database, StorageError,
};

const DEMO_KEY: &str = "demo";

impl Database {
    /// Whether this database was made by `herold demo`.
    pub fn is_demo(&self) -> Result<bool, StorageError> {
        let v: Option<String> = with_conn!(self, |c| meta::table
            .filter(meta::key.eq(DEMO_KEY))
            .select(meta::value)
            .first(c)
            .optional()?);
        Ok(v.is_some())
    }

    /// Marks an empty database as a demo; refused when it holds any
    /// subscriber (a real installation).
    pub fn mark_demo(&self) -> Result<(), StorageError> {
        with_write_tx!(self, |c| {
            let n: i64 = subscribers::table.count().get_result(c)?;
            if n > 0 {
                return Err(StorageError::Refused(
                    "this database holds subscribers and is no demo database: herold demo runs only on its own database".into(),
                ));
            }
            diesel::insert_into(meta::table)
                .values((meta::key.eq(DEMO_KEY), meta::value.eq("1")))
                .execute(c)?;
            Ok(())
        })
    }
}
