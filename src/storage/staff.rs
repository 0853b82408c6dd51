//! Staff accounts.

use diesel::prelude::*;

use super::{error::OrNotFound, schema::staff_users, time, with_conn, Database, StorageError};
use crate::domain::{Id, NewStaffUser, Role, StaffUser};

#[derive(Queryable, Selectable)]
#[diesel(table_name = staff_users)]
struct Row {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<Row> for StaffUser {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(StaffUser {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            role: Role::parse(&r.role)?,
            password_hash: r.password_hash,
            disabled: r.disabled,
            created_at: time::from_db(r.created_at),
        })
    }
}

impl Database {
    /// Creates a staff user; a taken user name is a conflict.
    pub fn create_staff_user(&self, new: &NewStaffUser) -> Result<StaffUser, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_conn!(self, |c| diesel::insert_into(staff_users::table)
            .values((
                staff_users::username.eq(&new.username),
                staff_users::display_name.eq(&new.display_name),
                staff_users::role.eq(new.role.as_str()),
                staff_users::password_hash.eq(&new.password_hash),
                staff_users::disabled.eq(false),
                staff_users::created_at.eq(now),
            ))
            .returning(Row::as_returning())
            .get_result(c)
            .map_err(|e| match StorageError::from(e) {
                StorageError::Conflict { .. } => StorageError::Conflict {
                    what: format!("staff user \"{}\"", new.username),
                },
                other => other,
            })?);
        row.try_into()
    }

    /// The staff user with this name.
    pub fn find_staff_user(&self, username: &str) -> Result<Option<StaffUser>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| staff_users::table
            .filter(staff_users::username.eq(username))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// The staff user with `id`.
    pub fn get_staff_user(&self, id: Id) -> Result<StaffUser, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| staff_users::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("staff user {id}"))?.try_into()
    }

    /// All staff users by name.
    pub fn list_staff_users(&self) -> Result<Vec<StaffUser>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| staff_users::table
            .order(staff_users::username.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Disables or re-enables a staff user.
    pub fn set_staff_disabled(&self, id: Id, disabled: bool) -> Result<StaffUser, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| diesel::update(staff_users::table.find(id))
            .set(staff_users::disabled.eq(disabled))
            .returning(Row::as_returning())
            .get_result(c)
            .optional()?);
        row.or_not_found(|| format!("staff user {id}"))?.try_into()
    }
}
