//! Reply templates for staff answers: qualified interim replies ("passed
//! to the building yard, expect an answer within a week") that moderators
//! pick and adapt, kept by administrators. `{case}` in a template stands
//! for the case number.

use super::{Herold, ServiceError};
use crate::domain::{DomainError, Id, NewAuditEvent};

/// Longest template name.
const NAME_MAX: usize = 80;
/// Longest template text: as long as a staff answer may be.
const BODY_MAX: usize = 4000;

impl Herold {
    /// Adds (`id` `None`) or changes a reply template (audited).
    pub fn save_reply_template(
        &self,
        id: Option<Id>,
        name: &str,
        body: &str,
        actor: &str,
    ) -> Result<Id, ServiceError> {
        let name = name.trim();
        let body = body.trim().replace("\r\n", "\n");
        for (field, value, max) in [("name", name, NAME_MAX), ("text", body.as_str(), BODY_MAX)] {
            let n = value.chars().count();
            if n == 0 {
                return Err(DomainError::Empty { field }.into());
            }
            if n > max {
                return Err(DomainError::TooLong {
                    field,
                    max,
                    actual: n,
                }
                .into());
            }
        }
        let audit = |id: &Id| {
            NewAuditEvent::new(
                actor,
                "template.save",
                format!("template:{id}"),
                &serde_json::json!({ "name": name, "chars": body.chars().count() }),
            )
        };
        Ok(self
            .db
            .save_reply_template(id, name, &body, actor, &audit)?)
    }

    /// Deletes a reply template (audited).
    pub fn delete_reply_template(&self, id: Id, actor: &str) -> Result<(), ServiceError> {
        let t = self.db.reply_template(id)?;
        let audit = |id: &Id| {
            NewAuditEvent::new(
                actor,
                "template.delete",
                format!("template:{id}"),
                &serde_json::json!({ "name": t.name }),
            )
        };
        Ok(self.db.delete_reply_template(id, &audit)?)
    }

    /// Template `id` filled in for case `conversation`.
    pub fn reply_from_template(&self, id: Id, conversation: Id) -> Result<String, ServiceError> {
        let t = self.db.reply_template(id)?;
        Ok(t.body.replace("{case}", &conversation.to_string()))
    }
}
