use chrono::{DateTime, Utc};

use super::{DomainError, Id};

/// A member of the town hall staff who may publish and answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StaffUser {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Argon2 PHC string; never the password itself.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// What a staff user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including staff management.
    Admin,
    /// Publish announcements and answer reports.
    Editor,
    /// The data-protection officer: reads consent and parity reports.
    Dpo,
}

impl Role {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Dpo => "dpo",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "admin" => Ok(Self::Admin),
            "editor" => Ok(Self::Editor),
            "dpo" => Ok(Self::Dpo),
            _ => Err(DomainError::Invalid {
                field: "role",
                value: s.to_owned(),
                expected: "admin, editor or dpo",
            }),
        }
    }
}

/// A staff user to create.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewStaffUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}
