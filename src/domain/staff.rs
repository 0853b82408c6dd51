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
    /// Compose and publish announcements.
    Editor,
    /// Answer residents' reports in the inbox.
    Moderator,
    /// The data-protection officer: reads the reports and the audit log.
    Dpo,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Compose, preview and publish announcements.
    Publish,
    /// Read and answer residents' reports.
    Moderate,
    /// Read the consent, parity and processing reports and the audit log.
    ReadReports,
    /// Manage staff accounts, channels and categories.
    Administer,
    /// See the statistics (reach per channel and category).
    ReadStatistics,
}

impl Role {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Moderator => "moderator",
            Self::Dpo => "dpo",
        }
    }

    /// Whether this role may do `p`: administrators everything, the others
    /// their own part only (the data-protection officer reads, never
    /// changes).
    pub fn may(self, p: Permission) -> bool {
        matches!(
            (self, p),
            (Self::Admin, _)
                | (Self::Editor, Permission::Publish)
                | (Self::Moderator, Permission::Moderate)
                | (Self::Dpo, Permission::ReadReports)
                | (Self::Editor | Self::Dpo, Permission::ReadStatistics)
        )
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "admin" => Ok(Self::Admin),
            "editor" => Ok(Self::Editor),
            "moderator" => Ok(Self::Moderator),
            "dpo" => Ok(Self::Dpo),
            _ => Err(DomainError::Invalid {
                field: "role",
                value: s.to_owned(),
                expected: "admin, editor, moderator or dpo",
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
