//! Herold: publish an announcement once, deliver it on every channel.
//!
//! Layers, from the inside out: [`domain`] (plain types and rules),
//! [`storage`] (diesel on SQLite or PostgreSQL), [`service`] (use cases
//! shared by CLI and web), [`web`] (actix-web) and [`cli`] (clap). Channel
//! adapters live in their own crates under `channels/`; [`registry`] holds
//! one instance of each, and [`app`] (the composition root) builds the
//! database, the registry, the metrics and the WebSub hub once per process.
//! [`inbound`] processes what webhooks stored; [`engine`] delivers.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod engine;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod i18n;
pub mod inbound;
pub mod media;
pub mod metrics;
pub mod registry;
pub mod render;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod websub;
