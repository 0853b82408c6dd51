//! The protocol logic of a [WebSub](https://www.w3.org/TR/websub/) hub for Herold.
//!
//! Herold's feeds (Atom, RSS, iCal) advertise Herold's own hub, so feed readers get
//! new announcements pushed within seconds. This crate knows the protocol and nothing
//! about storage or the web framework; the main crate wires it to its database and
//! HTTP server:
//!
//! 1. `POST /websub` (form body): [`parse_hub_request`] checks `hub.mode`, `hub.topic`,
//!    `hub.callback`, `hub.lease_seconds` and `hub.secret`. On error answer `400` with
//!    the error's `Display` text as `text/plain`; on success answer `202 Accepted`
//!    at once and verify in the background (the response must not depend on the
//!    verification).
//! 2. [`verify_intent`] GETs the callback with a fresh challenge. Only on success is
//!    the stored state changed: subscribe inserts or replaces the subscription for
//!    (topic, callback) with the new secret and [`Lease`]; unsubscribe deletes it.
//!    On failure the stored state stays as it was.
//! 3. When a topic changes, [`signed_delivery`] builds one request per subscription
//!    (signed with its secret, if any) and [`distribute`] POSTs it. [`DistributeError`]
//!    says whether to retry (after [`DistributeError::suggested_delay`]), give up,
//!    or delete the subscription ([`DistributeError::Gone`]).
//! 4. Expired leases ([`Lease::is_expired`]) get no deliveries and are purged.
//!
//! [`build_client`] creates an HTTP client suited to talking to untrusted
//! subscriber URLs: no redirects and, unless allowed, no private network addresses.
//! [`verify_signature`] is the subscriber's side of authenticated distribution.

mod client;
mod distribute;
mod lease;
mod net;
mod request;
mod signature;
mod verify;

pub use bytes::Bytes;
pub use client::{build_client, ClientConfig, USER_AGENT};
pub use distribute::{
    check_callback, distribute, signed_delivery, DeliveryRequest, DistributeError, MAX_ATTEMPTS,
    MAX_RETRY_DELAY, RETRY_BASE_DELAY,
};
pub use lease::{Lease, LeaseLimits, LeaseLimitsError};
pub use request::{
    form_pairs, parse_hub_request, HubPolicy, HubRequest, HubRequestError, Mode, Subscription,
    TopicPolicy, Transport, MAX_SECRET_LEN, MAX_URL_LEN,
};
pub use signature::{sign, verify_signature, Secret};
pub use verify::{generate_challenge, verify_intent, Verified, VerifyError, CHALLENGE_BYTES};
