use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How long each kind of personal data is kept (`[retention]`). A daily
/// job deletes what is due and records the counts in the audit log; the
/// addresses of residents who left are also forgotten within seconds by
/// the engine's maintenance when `left_address_days` is 0.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days an unconfirmed e-mail sign-up is kept after its confirmation
    /// link expired; then the sign-up is deleted and its consent events
    /// anonymised.
    pub unconfirmed_days: u32,
    /// Days the address of a resident who left (Stop, unsubscribe, dead
    /// address) is kept; 0: as soon as the goodbye went out and no report
    /// of theirs is open. The keyed hash stays, so an import cannot add
    /// them again and a Start again is recognised.
    pub left_address_days: u32,
    /// Days a closed conversation, with its messages and photos, is kept.
    pub closed_conversation_days: u32,
    /// Days a finished delivery record (sent, failed, skipped) is kept.
    pub delivery_days: u32,
    /// Days a processed inbound event (webhook or poll) is kept.
    pub inbound_event_days: u32,
    /// Days an audit log entry is kept.
    pub audit_days: u32,
    /// Local time (in `timezone`) of the daily run, `HH:MM`.
    pub daily_at: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            unconfirmed_days: 7,
            left_address_days: 0,
            closed_conversation_days: 30,
            delivery_days: 180,
            inbound_event_days: 14,
            audit_days: 730,
            daily_at: "03:30".into(),
        }
    }
}

impl RetentionConfig {
    /// Checks the ranges and the time of day.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v, min) in [
            ("retention.unconfirmed_days", self.unconfirmed_days, 0),
            ("retention.left_address_days", self.left_address_days, 0),
            (
                "retention.closed_conversation_days",
                self.closed_conversation_days,
                1,
            ),
            ("retention.delivery_days", self.delivery_days, 1),
            ("retention.inbound_event_days", self.inbound_event_days, 1),
            ("retention.audit_days", self.audit_days, 30),
        ] {
            if v < min || v > MAX_DAYS {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: format!("a number of days from {min} to {MAX_DAYS}"),
                });
            }
        }
        if self.daily_time().is_none() {
            return Err(ConfigError::Invalid {
                key: "retention.daily_at",
                value: self.daily_at.chars().take(20).collect(),
                expected: "a local time as HH:MM, e.g. 03:30".into(),
            });
        }
        Ok(())
    }

    /// `daily_at` as a time of day.
    pub fn daily_time(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(&self.daily_at, "%H:%M").ok()
    }

    /// `days` as a duration.
    pub fn days(days: u32) -> chrono::Duration {
        chrono::Duration::days(i64::from(days))
    }
}

/// Ten years: longer than any retention a municipality would set.
const MAX_DAYS: u32 = 3650;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_name_the_key() {
        assert!(RetentionConfig::default().validate().is_ok());
        let err = RetentionConfig {
            audit_days: 3,
            ..RetentionConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("retention.audit_days"), "{err}");
        let err = RetentionConfig {
            daily_at: "25:00".into(),
            ..RetentionConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("retention.daily_at"), "{err}");
    }
}
