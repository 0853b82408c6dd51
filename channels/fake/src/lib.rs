//! Fake push providers, for Herold's tests and `herold bench` only.
//!
//! * [`MemoryProvider`]: accepts every message in-process, at once.
//! * [`HttpProvider`] + [`FakeServer`]: a small provider protocol over HTTP
//!   on loopback, with rate limiting (429 + `Retry-After`) and recording.
//! * [`FakeWebhook`]: the fake provider's signed delivery-status webhook.
//!
//! `herold bench` builds these directly. `herold serve` and `herold worker`
//! can be pointed at them only in builds with herold's `fake-providers`
//! feature (which turns on this crate's `testing`), enabled by the test
//! script alone ([`from_env`]); other builds refuse the variables, so no
//! installation can mark a delivery sent without sending it.

#![forbid(unsafe_code)]

mod provider;
mod select;
mod server;
mod webhook;

pub use provider::{adapter, HttpProvider, MemoryProvider};
pub use select::{from_env, FakeSelection, Provider, SelectError, PROVIDER_VAR, SECRET_VAR};
pub use server::{FakeServer, Received};
pub use webhook::{FakeWebhook, SIGNATURE_HEADER};
