use thiserror::Error;

/// A value that breaks a rule of the model. Every variant names the field and
/// what was expected, so the message can be shown to the person who typed it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DomainError {
    /// A field was empty or only whitespace.
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    /// A field was longer than allowed.
    #[error("{field} is {actual} characters long; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    /// A field had the wrong shape.
    #[error("{field} {value:?} is invalid: expected {expected}")]
    Invalid {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A state change that the state machine does not allow.
    #[error("a {what} cannot go from {from} to {to}")]
    Transition {
        what: &'static str,
        from: &'static str,
        to: &'static str,
    },
}
