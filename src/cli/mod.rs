//! The command line (clap). Each subcommand is a thin call into
//! [`crate::service`]; output goes to stdout, logs and errors to stderr.

mod commands;
mod operations;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub use commands::run;

/// Herold publishes a municipality's announcements once and delivers them on
/// every channel: WhatsApp, e-mail, Telegram, Matrix and RSS/Atom.
#[derive(Debug, Parser)]
#[command(name = "herold", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: herold.toml in the working directory, if present).
    #[arg(long, short, global = true, env = "HEROLD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (feeds, health probes); migrates the database first.
    Serve,
    /// Run delivery workers only (no web server); several may share a PostgreSQL database.
    Worker,
    /// Run a demo municipality: its own database, sandbox channels whose
    /// messages appear on /demo, staff accounts for every role.
    Demo(DemoArgs),
    /// Measure the delivery engine against a built-in fake provider.
    Bench(BenchArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage categories residents can subscribe to.
    #[command(subcommand)]
    Category(CategoryCommand),
    /// Publish an announcement now or at a given time.
    Publish(PublishArgs),
    /// Inspect announcements.
    #[command(subcommand)]
    Announcements(AnnouncementsCommand),
    /// Daily digests: a category whose announcements go out bundled at a fixed time.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// Watch and control the broadcasts of an announcement.
    #[command(subcommand)]
    Broadcasts(BroadcastsCommand),
    /// Control delivery channels.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Inspect subscribers (shown by pseudonym only).
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Residents' messages: read, answer and close conversations.
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Manual channels (`[[manual]]`, e.g. the WhatsApp Channel): what is
    /// still to be posted by hand, its copy, and confirming the post.
    #[command(subcommand)]
    Manual(ManualCommand),
    /// Reports for the data-protection officer.
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Deleting personal data whose retention period (`[retention]`) is
    /// over; `serve` does it daily on its own.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The keys for personal data: which versions are in use, and rotating
    /// them.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Staff accounts for the web application.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the SQLite database to FILE, also while
    /// Herold runs (PostgreSQL: pg_dump, see docs/operations.md). Back up
    /// the key file as well: the command says where it is.
    Backup(BackupArgs),
    /// Copy every table of the configured SQLite database into a new,
    /// empty PostgreSQL database (ids kept); stop Herold first.
    MigrateTo(MigrateToArgs),
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to create, e.g. /var/backups/herold/herold-2026-12-05.db.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `migrate-to`.
#[derive(Debug, Args)]
pub struct MigrateToArgs {
    /// The new PostgreSQL database, e.g. postgres://herold@db.internal:5432/herold
    /// (created if missing; must be empty).
    #[arg(value_name = "URL")]
    pub url: String,
}

/// Category subcommands.
#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    /// Add a category.
    Add {
        /// Stable short name used in feed URLs, e.g. "abfall" (a-z, 0-9, '-').
        slug: String,
        /// Display name, e.g. "Abfall und Wertstoffe".
        #[arg(long)]
        name: String,
    },
    /// List categories.
    List,
    /// Remove a category that has no announcements; ends its subscriptions.
    Remove {
        /// The category's slug.
        slug: String,
    },
    /// Four-eyes approval: whether a second editor must release the
    /// category's announcements in the staff application.
    Approval {
        /// The category's slug.
        slug: String,
        /// `required` or `none`.
        #[arg(value_parser = ["required", "none"])]
        rule: String,
    },
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The demo's SQLite database (created and seeded when missing); never
    /// one with real residents.
    #[arg(long, value_name = "FILE", default_value = "herold-demo.db")]
    pub database: std::path::PathBuf,
}

/// Arguments of `publish`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("text").required(true).args(["body", "body_file"])))]
pub struct PublishArgs {
    /// Category slug (see `herold category list`).
    #[arg(long)]
    pub category: String,
    /// Title, one line.
    #[arg(long)]
    pub title: String,
    /// Body text (Markdown: **bold**, _italic_, [links](https://…), lists).
    #[arg(long)]
    pub body: Option<String>,
    /// Read the body from a file ("-" for standard input).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Mark as urgent (delivered first, flagged in feeds).
    #[arg(long)]
    pub urgent: bool,
    /// Publish later, at this RFC 3339 time, e.g. 2026-12-01T08:00:00+01:00.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// This announcement corrects the announcement with this id.
    #[arg(long, value_name = "ID")]
    pub corrects: Option<i64>,
    /// It announces an event starting then: an RFC 3339 time, or a date
    /// (2026-12-05) for an all-day event. Listed in the calendar feed.
    #[arg(long, value_name = "TIME|DATE")]
    pub event_start: Option<String>,
    /// When the event ends: a time after the start, or for all-day events
    /// the last day.
    #[arg(long, value_name = "TIME|DATE", requires = "event_start")]
    pub event_end: Option<String>,
    /// Where the event takes place.
    #[arg(long, value_name = "PLACE", requires = "event_start")]
    pub location: Option<String>,
    /// Attach a picture: a JPEG, PNG or WebP file (recognised by content).
    /// Camera, location and author data are removed before it is stored.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// What the picture shows, for residents who cannot see it (required
    /// with --image; one line).
    #[arg(long, value_name = "TEXT")]
    pub image_alt: Option<String>,
}

/// Announcement subcommands.
#[derive(Debug, Subcommand)]
pub enum AnnouncementsCommand {
    /// List announcements, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one announcement in full.
    Show {
        /// The announcement's id.
        id: i64,
    },
    /// Withdraw a scheduled announcement before it is published.
    Cancel {
        /// The announcement's id.
        id: i64,
    },
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Subscribers per channel (1000 … 1000000).
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Channels to deliver on (1-4).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Worker engines (each with its own connection pool).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Database to use (default: a fresh SQLite file in a temporary directory).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Messages per second the fake provider accepts; it answers 429 above.
    #[arg(long, value_name = "MSG_PER_S")]
    pub provider_limit: Option<f64>,
    /// Use an external fake provider at this URL (POST /messages).
    #[arg(long, value_name = "URL")]
    pub provider_url: Option<String>,
    /// Use the built-in fake provider over HTTP on loopback instead of in-process.
    #[arg(long)]
    pub http: bool,
    /// Send e-mail through the real adapter to this SMTP server (e.g. the sink
    /// `scripts/bench-smtp-sink.py`) and measure the server's ceiling in the same run.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// SMTP connections per worker with `--smtp` (default: `[email] pool_max_size`, else 8).
    #[arg(long, value_name = "N", requires = "smtp")]
    pub smtp_connections: Option<u32>,
    /// Print one JSON object instead of text and a progress bar.
    #[arg(long)]
    pub json: bool,
}

/// Digest subcommands.
#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Send a category's announcements as one daily message, e.g.
    /// `herold digest add veranstaltungen --at 07:00 --title Veranstaltungstipps`.
    Add {
        /// The category's slug.
        slug: String,
        /// Local time of day, HH:MM.
        #[arg(long)]
        at: String,
        /// Title of each digest message.
        #[arg(long)]
        title: String,
        /// IANA time zone (default: the configured `timezone`).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// List digests with their next run.
    List,
    /// Stop bundling a category.
    Remove {
        /// The category's slug.
        slug: String,
    },
}

/// Broadcast subcommands.
#[derive(Debug, Subcommand)]
pub enum BroadcastsCommand {
    /// Delivery progress of an announcement, per channel.
    Show {
        /// The announcement's id.
        id: i64,
    },
    /// Pause sending (resumes where it stopped).
    Pause(BroadcastTarget),
    /// Resume a paused broadcast.
    Resume(BroadcastTarget),
    /// Stop for good; queued deliveries are skipped.
    Cancel(BroadcastTarget),
}

/// Which broadcasts a control command affects.
#[derive(Debug, Args)]
pub struct BroadcastTarget {
    /// The announcement's id.
    pub id: i64,
    /// Only this channel (default: all).
    #[arg(long)]
    pub channel: Option<String>,
}

/// Channel subcommands.
#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Resume a channel held after a configuration error or paused by throttling.
    Resume {
        /// whatsapp, email, telegram or matrix.
        channel: String,
    },
    /// Tell the provider where to call Herold (Telegram: setWebhook with
    /// `{public_url}webhooks/telegram` and the webhook secret).
    Setup {
        /// The channel, e.g. telegram.
        channel: String,
    },
}

/// Subscriber subcommands.
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// List subscribers by pseudonym, channel and status.
    List {
        /// Only this channel (whatsapp, email, telegram, matrix).
        #[arg(long)]
        channel: Option<String>,
    },
    /// Everything Herold holds about one resident, as JSON (Art. 15/20
    /// GDPR), found by pseudonym or by channel and address. Audited.
    Export {
        #[command(flatten)]
        resident: ResidentArgs,
        /// Write to this new file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erases one resident on a request made to staff (letter, phone,
    /// counter): as if they had sent "Löschen". Audited with the reason.
    Erase {
        #[command(flatten)]
        resident: ResidentArgs,
        /// Why, for the audit log, e.g. "letter of 2026-12-01".
        #[arg(long)]
        reason: String,
    },
}

/// One resident, by pseudonym or by channel and address.
#[derive(Debug, clap::Args)]
pub struct ResidentArgs {
    /// The resident's pseudonym, e.g. K7Q2-M4.
    #[arg(long, conflicts_with_all = ["channel", "address"])]
    pub pseudonym: Option<String>,
    /// The channel of `--address`.
    #[arg(long, requires = "address")]
    pub channel: Option<String>,
    /// The resident's address on `--channel`.
    #[arg(long, requires = "channel")]
    pub address: Option<String>,
}

/// Inbox subcommands.
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Conversations by pseudonym, most recently active first.
    List {
        /// Closed conversations instead of open ones.
        #[arg(long)]
        closed: bool,
    },
    /// One conversation with its messages.
    Show {
        /// The conversation's number.
        id: i64,
    },
    /// Answer the resident on the channel they wrote from.
    Reply {
        /// The conversation's number.
        id: i64,
        /// The answer (plain text).
        #[arg(long)]
        text: String,
    },
    /// Close a conversation (the case is done).
    Close {
        /// The conversation's number.
        id: i64,
    },
    /// Delete one message (an abusive one) with its photo; `show` lists the numbers.
    DeleteMessage {
        /// The message's number.
        message: i64,
    },
    /// Write a photo a resident sent (metadata already removed) to a file;
    /// `show` lists the photos' numbers. Audited.
    Photo {
        /// The photo's number.
        id: i64,
        /// The file to write (not overwritten if it exists).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// Manual channel subcommands.
#[derive(Debug, Subcommand)]
pub enum ManualCommand {
    /// Announcements not yet posted (with `--all`, posted ones too, with
    /// when and by whom).
    List {
        /// Only this manual channel (its id).
        #[arg(long)]
        channel: Option<String>,
        /// Posted announcements too.
        #[arg(long)]
        all: bool,
    },
    /// The text to paste into the manual channel for one announcement.
    Show {
        /// The announcement's id.
        id: i64,
        /// The manual channel's id.
        #[arg(long)]
        channel: String,
    },
    /// Confirm that the announcement was posted on the manual channel (audited).
    Posted {
        /// The announcement's id.
        id: i64,
        /// The manual channel's id.
        #[arg(long)]
        channel: String,
        /// Who posted it (default: the login name, else `cli`).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Report subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// The audit log, newest first: every staff action with who, what and
    /// when (read-only).
    Audit {
        /// Only this staff member (or `cli`, `system`).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (`manual.posted`) or group (`manual`).
        #[arg(long)]
        action: Option<String>,
        /// From this day (YYYY-MM-DD, configured time zone) or RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// To this day, included, or RFC 3339 time (excluded).
        #[arg(long)]
        to: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Consent per channel and category for a period: opt-ins,
    /// confirmations, withdrawals, erasures, subscribers at its start and
    /// end, consent wordings, and who lacks complete evidence (by pseudonym).
    Consent {
        /// First day (YYYY-MM-DD, in the configured time zone) or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// Last day, included (YYYY-MM-DD), or an RFC 3339 time (excluded).
        #[arg(long)]
        to: String,
        /// `html`, `csv` or `json`.
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// The language of the HTML report (`de` or `en`).
        #[arg(long, default_value = "de")]
        locale: String,
    },
    /// Every announcement of a period on every channel — push, follow and
    /// manual: how many were handed over, failed or pending, when the first
    /// and last went out; channels that did not carry one, or much later
    /// than the fastest, are flagged.
    Parity {
        /// First day (YYYY-MM-DD, in the configured time zone) or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// Last day, included (YYYY-MM-DD), or an RFC 3339 time (excluded).
        #[arg(long)]
        to: String,
        /// Flag a channel whose first message went out this many minutes
        /// or more after the fastest channel's.
        #[arg(long, default_value_t = 10)]
        gap_minutes: u32,
        /// `html`, `csv` or `json`.
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// The language of the HTML report (`de` or `en`).
        #[arg(long, default_value = "de")]
        locale: String,
    },
    /// The record of processing activities (Art. 30 GDPR) generated from
    /// the configuration: purposes, data, recipients and processors per
    /// channel, transfers, retention periods and the measures in force.
    Processing {
        /// `html` or `json`.
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// The language (`de` or `en`).
        #[arg(long, default_value = "de")]
        locale: String,
    },
}

/// Staff account subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a staff account; the password is asked for (not shown), or
    /// read from `--password-file` or, when standard input is no terminal,
    /// from its first line.
    Add {
        /// The user name to sign in with (a-z, 0-9, '.', '-', '_').
        name: String,
        /// admin, editor, moderator or dpo.
        #[arg(long)]
        role: String,
        /// The name shown in the application and the audit log; default:
        /// the user name.
        #[arg(long)]
        display_name: Option<String>,
        /// A file holding the password (its first line).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Lists staff accounts with their roles.
    List,
    /// Disables an account: it can no longer sign in, its sessions end.
    Disable {
        /// The user name.
        name: String,
    },
}

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Adds a new key version to the key file and re-encrypts every stored
    /// ciphertext with it, online, in batches; lookups and pseudonyms stay.
    /// Processes using the same key file switch to the new key within
    /// seconds; on other machines, copy the key file there first.
    Rotate {
        /// Rows re-encrypted per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
        /// Only re-encrypt with the current version (after an interrupted
        /// rotation), without adding a key.
        #[arg(long = "continue")]
        resume: bool,
    },
    /// The key versions in the key file and how many ciphertexts each one
    /// sealed, per column.
    Status,
}

/// Retention subcommands.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Deletes now what is due and prints the counts (recorded in the
    /// audit log like the daily run).
    Run,
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
}

/// Configuration subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate and print the effective configuration, secrets redacted.
    Check,
}
