//! The core model: plain Rust types with no web or database details.
//!
//! Storage maps these types to tables (`crate::storage`), the web and CLI
//! layers read and build them; neither concern leaks in here.

mod announcement;
mod audit;
mod broadcast;
mod category;
mod consent;
mod consent_report;
mod conversation;
mod delivery;
mod digest;
mod draft;
mod email_address;
mod error;
mod event;
mod image;
mod manual;
mod office_hours;
mod parity;
mod photo;
mod processing;
mod staff;
mod subscriber;
mod token;

pub use announcement::{Announcement, AnnouncementStatus, Limits, NewAnnouncement};
pub use audit::{AuditEvent, NewAuditEvent};
pub use broadcast::{priority, Broadcast, BroadcastState, ChannelPlan};
pub use category::{Category, Slug};
pub use consent::{ConsentEvent, ConsentKind, ErasureRecord, NewConsentEvent};
pub use consent_report::{
    evidence_gap, ChannelConsent, ConsentCounts, ConsentReport, IncompleteEvidence,
};
pub use conversation::{Conversation, ConversationStatus, Direction, InboundMessage, NewMessage};
pub use delivery::{Delivery, DeliveryState, NewDelivery};
pub use digest::{next_slot, parse_local_time, parse_timezone, Digest};
pub use draft::{
    local_time_value, parse_event, parse_local_datetime, Draft, DraftFields, DraftImage,
    DraftState, Problem,
};
pub use email_address::{check_email_address, EmailAddressError};
pub use error::DomainError;
pub use event::{Event, EventTime, LOCATION_MAX_CHARS};
pub use image::{check_alt, Image, ImageFile, ImageFormat, NewImage, ALT_MAX_CHARS};
pub use manual::ManualPost;
pub use office_hours::OfficeHours;
pub use parity::{flag_gaps, AnnouncementParity, ParityChannel, ParityKind, ParityReport};
pub use photo::{NewPhoto, Photo, PhotoFile};
pub use processing::{ProcessingActivity, ProcessingRecord, Recipient};
pub use staff::{NewStaffUser, Permission, Role, StaffUser};
pub use subscriber::{normalize_address, Pseudonym, Subscriber, SubscriberStatus, Subscription};
pub use token::{is_token_shaped, new_token, TokenPurpose, TOKEN_BYTES, TOKEN_CHARS};

/// Database identifiers are plain 64-bit integers on both backends.
pub type Id = i64;
