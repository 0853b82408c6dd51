use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use herold_channel_api::ChannelKind;
use std::io::Read;

use super::{
    AnnouncementsCommand, BroadcastTarget, BroadcastsCommand, CategoryCommand, ChannelsCommand,
    Cli, Command, ConfigCommand, DigestCommand, InboxCommand, KeysCommand, ManualCommand,
    PublishArgs, ReportFormat, ReportsCommand, ResidentArgs, RetentionCommand, SubscribersCommand,
    UserCommand,
};
use crate::{
    app::App,
    config::Config,
    domain::{DeliveryState, Event, EventTime, NewImage},
    media,
    service::{Herold, PublishRequest},
    storage::Control,
    telemetry,
};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if !matches!(cli.command, Command::Serve)
        && std::env::var_os("RUST_LOG").is_none()
        && config.log.filter == "info"
    {
        // One-shot commands print results; only warnings belong on stderr.
        config.log.filter = "warn".into();
    }
    telemetry::init(&config.log);
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            // Every channel's adapter is built (nothing connects), so a
            // missing or invalid channel section shows here, not at serve.
            crate::registry::Registry::from_config(&config)?;
            print!("{}", config.to_redacted_toml());
            eprintln!("configuration is valid");
            Ok(())
        }
        Command::Serve => serve(config),
        Command::Demo(args) => demo(config, &args),
        Command::Bench(args) => {
            let report = crate::bench::run(
                config,
                &crate::bench::BenchOptions {
                    subscribers: args.subscribers,
                    channels: args.channels,
                    workers: args.workers,
                    database_url: args.database_url,
                    provider_limit: args.provider_limit,
                    provider_url: args.provider_url,
                    http: args.http,
                    smtp: args.smtp,
                    smtp_connections: args.smtp_connections,
                    json: args.json,
                },
            )?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                report.print();
            }
            Ok(())
        }
        Command::Worker => worker(config),
        Command::Broadcasts(cmd) => broadcasts(&Herold::open(config)?, cmd),
        Command::Digest(cmd) => digest(&Herold::open(config)?, cmd),
        Command::Channels(ChannelsCommand::Resume { channel }) => {
            let kind: ChannelKind = channel.parse()?;
            let app = Herold::open(config)?;
            if app.resume_channel(kind, "cli")?.was_paused {
                println!("channel {kind} resumed");
            } else {
                println!("channel {kind} was not paused");
            }
            Ok(())
        }
        Command::Channels(ChannelsCommand::Setup { channel }) => channel_setup(config, &channel),
        Command::Migrate => {
            let app = Herold::open(config)?;
            let n = app.db().migrate()?;
            println!(
                "database is up to date ({} backend{})",
                app.db().backend(),
                if n > 0 {
                    format!(", {n} migration(s) applied")
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Category(cmd) => category(&Herold::open(config)?, cmd),
        Command::Publish(args) => publish(config, args),
        Command::Announcements(cmd) => announcements(&Herold::open(config)?, cmd),
        Command::Subscribers(cmd) => subscribers(config, cmd),
        Command::Inbox(cmd) => inbox(&Herold::open(config)?, cmd),
        Command::Manual(cmd) => manual(&Herold::open(config)?, cmd),
        Command::Reports(cmd) => reports(&Herold::open(config)?, cmd),
        Command::Keys(cmd) => keys(&Herold::open(config)?, cmd),
        Command::Backup(args) => super::operations::backup(&config, cli.config.as_deref(), &args),
        Command::MigrateTo(args) => super::operations::migrate_to(&config, &args),
        Command::User(cmd) => user(&Herold::open(config)?, cmd),
        Command::Retention(RetentionCommand::Run) => {
            let counts = Herold::open(config)?.run_retention(Utc::now())?;
            println!(
                "deleted: {} unconfirmed sign-ups, {} addresses of residents who left, \
                 {} closed conversations, {} delivery records, {} inbound events, \
                 {} audit log entries",
                counts.unconfirmed_signups,
                counts.left_addresses,
                counts.closed_conversations,
                counts.deliveries,
                counts.inbound_events,
                counts.audit_events
            );
            Ok(())
        }
    }
}

fn category(app: &Herold, cmd: CategoryCommand) -> Result<()> {
    match cmd {
        CategoryCommand::Add { slug, name } => {
            let c = app.add_category(&slug, &name, "cli")?;
            println!("added category {} ({})", c.slug, c.name);
        }
        CategoryCommand::List => {
            let cats = app.db().list_categories()?;
            if cats.is_empty() {
                println!("no categories yet; add one with `herold category add SLUG --name NAME`");
            }
            for c in cats {
                println!("{:<24} {}", c.slug, c.name);
            }
        }
        CategoryCommand::Remove { slug } => {
            let ended = app.remove_category(&slug, "cli")?;
            println!("removed category {slug}; {ended} subscription(s) ended");
        }
        CategoryCommand::Approval { slug, rule } => {
            let required = rule == "required";
            app.set_category_approval(&slug, required, &actor())?;
            println!(
                "category {slug}: {}",
                if required {
                    "a second editor must approve its announcements"
                } else {
                    "editors publish its announcements themselves"
                }
            );
        }
    }
    Ok(())
}

fn parse_at(raw: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| anyhow!("--at {raw:?} is not a valid time: expected RFC 3339 with a time zone, e.g. 2026-12-01T08:00:00+01:00"))
}

/// `--event-start`/`--event-end`: both times (RFC 3339) or both dates.
fn parse_event(args: &PublishArgs) -> Result<Option<Event>> {
    let Some(start) = args.event_start.as_deref().map(str::trim) else {
        return Ok(None);
    };
    let end = args.event_end.as_deref().map(str::trim);
    let time = if let Ok(day) = NaiveDate::parse_from_str(start, "%Y-%m-%d") {
        let last = end
            .map(|e| {
                NaiveDate::parse_from_str(e, "%Y-%m-%d").map_err(|_| {
                    anyhow!("--event-end {e:?} is not a date: an all-day event (--event-start {start}) ends on a day, e.g. 2026-12-06")
                })
            })
            .transpose()?;
        EventTime::AllDay { start: day, last }
    } else {
        let parse = |flag: &str, raw: &str| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| anyhow!("{flag} {raw:?} is not valid: expected an RFC 3339 time with a time zone (2026-12-05T18:00:00+01:00) or a date (2026-12-05)"))
        };
        EventTime::At {
            start: parse("--event-start", start)?,
            end: end.map(|e| parse("--event-end", e)).transpose()?,
        }
    };
    Ok(Some(Event::new(time, args.location.as_deref())?))
}

fn publish(config: Config, args: PublishArgs) -> Result<()> {
    // Check everything that needs no database first, so bad input never
    // touches it.
    let at = args.at.as_deref().map(parse_at).transpose()?;
    let event = parse_event(&args)?;
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => b.clone(),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the body from standard input")?;
            s
        }
        (None, Some(p)) => std::fs::read_to_string(p)
            .map_err(|e| anyhow!("cannot read --body-file {}: {e}", p.display()))?,
        (None, None) => {
            return Err(anyhow!(
                "give the body with --body TEXT or --body-file FILE"
            ))
        }
    };
    let image = read_image(&args, &config)?;
    // Through the composition root: the channels' follow routes decide
    // where the announcement is also posted.
    let built = App::build(config)?;
    let app = built.herold();
    let a = app.publish_with_image(
        &PublishRequest {
            category: args.category,
            title: args.title,
            body,
            urgent: args.urgent,
            at,
            corrects: args.corrects,
            author: "cli".into(),
            event,
        },
        image,
    )?;
    let when = if a.publish_at <= Utc::now() {
        "published".to_owned()
    } else {
        format!("scheduled for {}", a.publish_at.to_rfc3339())
    };
    println!(
        "announcement {} {when}: {}",
        a.id,
        app.announcement_url(a.id)
    );
    if let Some(i) = &a.image {
        println!("image {}: {}", i.id, app.image_url(i));
    }
    Ok(())
}

/// `--image FILE --image-alt TEXT`: read, checked and stripped of metadata
/// before the database is opened.
fn read_image(args: &PublishArgs, config: &Config) -> Result<Option<NewImage>> {
    let (path, alt) = match (args.image.as_deref(), args.image_alt.as_deref()) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(anyhow!(
                "--image-alt describes an image: give the image with --image FILE as well"
            ))
        }
        (Some(p), None) => {
            return Err(anyhow!(
                "--image {} needs --image-alt TEXT: a short description of the picture for residents who cannot see it",
                p.display()
            ))
        }
        (Some(p), Some(alt)) => (p, alt),
    };
    // The alt text first: a mistake there needs no file read.
    let alt = crate::domain::check_alt(alt)?;
    let bytes = media::read_file(path, &config.media)?;
    Ok(Some(media::prepare(
        &path.display().to_string(),
        bytes,
        &alt,
        &config.media,
    )?))
}

fn announcements(app: &Herold, cmd: AnnouncementsCommand) -> Result<()> {
    let now = Utc::now();
    match cmd {
        AnnouncementsCommand::List { limit } => {
            let list = app.db().list_announcements(limit)?;
            if list.is_empty() {
                println!("no announcements yet");
            }
            for (a, c) in list {
                println!(
                    "{:>5}  {}  {:<9}  {:<16} {}{}",
                    a.id,
                    a.publish_at.format("%Y-%m-%d %H:%M"),
                    a.status(now).as_str(),
                    c.slug,
                    if a.urgent { "[urgent] " } else { "" },
                    a.title
                );
            }
        }
        AnnouncementsCommand::Show { id } => {
            let (a, c) = app.db().get_announcement(id)?;
            println!("id:         {}", a.id);
            println!("status:     {}", a.status(now).as_str());
            println!("category:   {} ({})", c.slug, c.name);
            println!("title:      {}", a.title);
            println!("urgent:     {}", if a.urgent { "yes" } else { "no" });
            println!("publish at: {}", a.publish_at.to_rfc3339());
            println!("created:    {} by {}", a.created_at.to_rfc3339(), a.author);
            if let Some(orig) = a.corrects_id {
                println!("corrects:   {orig}");
            }
            if let Some(t) = a.cancelled_at {
                println!("cancelled:  {}", t.to_rfc3339());
            }
            if let Some(i) = &a.image {
                println!(
                    "image:      {} ({}, {} bytes; alt: {})",
                    app.image_url(i),
                    i.format.mime_type(),
                    i.byte_length,
                    i.alt
                );
            }
            println!("url:        {}", app.announcement_url(a.id));
            for p in app.db().manual_posts_of(a.id)? {
                match (p.posted_at, p.posted_by) {
                    (Some(at), by) => println!(
                        "manual:     {} posted {} by {}",
                        p.channel,
                        at.to_rfc3339(),
                        by.unwrap_or_default()
                    ),
                    (None, _) => println!("manual:     {} not yet posted", p.channel),
                }
            }
            println!("\n{}", a.body);
        }
        AnnouncementsCommand::Cancel { id } => {
            app.cancel_announcement(id, "cli")?;
            println!("announcement {id} cancelled");
        }
    }
    Ok(())
}

fn subscribers(config: Config, cmd: SubscribersCommand) -> Result<()> {
    let channel = match cmd {
        SubscribersCommand::List { channel } => channel,
        SubscribersCommand::Export { resident, out } => {
            return export(&Herold::open(config)?, &resident, out)
        }
        SubscribersCommand::Erase { resident, reason } => {
            let app = Herold::open(config)?;
            let s = find_resident(&app, &resident)?;
            if reason.trim().is_empty() {
                return Err(anyhow!(
                    "--reason must say why, e.g. \"letter of 2026-12-01\""
                ));
            }
            app.erase_by_staff(s.id, &actor(), reason.trim())?;
            println!("subscriber {} erased", s.pseudonym);
            return Ok(());
        }
    };
    let channel: Option<ChannelKind> = channel.as_deref().map(str::parse).transpose()?;
    let app = Herold::open(config)?;
    let list = app.db().list_subscribers(channel)?;
    if list.is_empty() {
        println!("no subscribers yet");
    }
    for s in list {
        let cats = app.db().subscriptions_of(s.id)?.len();
        println!(
            "{:<8} {:<9} {:<13} {:>3} categories  since {}",
            s.pseudonym,
            s.channel.as_str(),
            s.status.as_str(),
            cats,
            s.created_at.format("%Y-%m-%d")
        );
    }
    Ok(())
}

/// The process's one tokio runtime: the web server's accept loop, the
/// delivery engine, the WebSub distributor and the channel adapters' tasks
/// (the SMTP pool) all run on it; actix-web adds its own worker threads,
/// each with a single-threaded runtime of its own (docs/architecture.md).
/// `herold channels setup CHANNEL`: tells the provider where to call Herold.
fn channel_setup(config: Config, channel: &str) -> Result<()> {
    let kind: ChannelKind = channel.parse()?;
    // The adapters' connections (Matrix's store pool) are dropped with
    // `app`, which must happen inside the runtime: declared first, the
    // guard outlives it.
    let rt = runtime()?;
    let _inside = rt.enter();
    let app = App::build(config)?;
    let adapter = app.registry().get(kind).cloned().ok_or_else(|| {
        anyhow!("channel {kind} is not configured: add its section (see README, \"Channels\")")
    })?;
    let url = match app.registry().poller(kind) {
        Some(_) => None,
        None => Some(
            app.herold()
                .config()
                .public_url
                .join(&format!("webhooks/{kind}"))
                .context("public_url cannot be joined with webhooks/…")?,
        ),
    };
    let done = rt
        .block_on(adapter.setup(url.as_ref().map(url::Url::as_str)))
        .map_err(|e| anyhow!("{kind} setup failed: {e}"))?;
    match done {
        Some(what) => {
            app.herold()
                .db()
                .record_audit(&crate::domain::NewAuditEvent::new(
                    "cli",
                    "channel.setup",
                    format!("channel:{kind}"),
                    &serde_json::json!({
                        "webhook_url": url.as_ref().map(url::Url::as_str),
                        "done": what,
                    }),
                ))?;
            println!("{what}");
        }
        None => println!("channel {kind} needs no setup"),
    }
    Ok(())
}

fn reports(app: &Herold, cmd: ReportsCommand) -> Result<()> {
    let (from, to, format, locale) = match cmd {
        ReportsCommand::Audit {
            actor,
            action,
            from,
            to,
            limit,
            json,
        } => return audit(app, actor, action, from, to, limit, json),
        ReportsCommand::Consent {
            from,
            to,
            format,
            locale,
        } => (from, to, format, locale),
        ReportsCommand::Parity {
            from,
            to,
            gap_minutes,
            format,
            locale,
        } => return parity(app, &from, &to, gap_minutes, format, &locale),
        ReportsCommand::Processing { format, locale } => return processing(app, format, &locale),
    };
    let (from_t, to_t) = report_period(app, &from, &to, &locale)?;
    let report = app.consent_report(from_t, to_t)?;
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Csv => print!("{}", crate::render::report::consent_csv(&report)?),
        ReportFormat::Html => println!(
            "{}",
            crate::render::report::consent_html(&report, &app.config().site_name, &locale)?
        ),
    }
    Ok(())
}

/// `herold user add | list | disable`.
fn user(app: &Herold, cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            display_name,
            password_file,
        } => {
            let role = crate::domain::Role::parse(&role)?;
            let password = zeroize::Zeroizing::new(match password_file {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("--password-file {}: cannot be read", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    rpassword::prompt_password(format!("Password for {name}: "))?
                }
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\n', '\r']).to_owned()
                }
            });
            let shown = display_name.unwrap_or_else(|| name.clone());
            let u = app.add_staff_user(&name, &shown, role, &password, &actor())?;
            println!(
                "staff user {} ({}) created; sign in at {}",
                u.username,
                u.role.as_str(),
                app.public_url("staff/login")
            );
        }
        UserCommand::List => {
            let users = app.db().list_staff_users()?;
            if users.is_empty() {
                println!("no staff users yet: herold user add NAME --role admin");
            }
            for u in users {
                println!(
                    "{:<20} {:<10} {}{}",
                    u.username,
                    u.role.as_str(),
                    u.display_name,
                    if u.disabled { "  (disabled)" } else { "" }
                );
            }
        }
        UserCommand::Disable { name } => {
            app.disable_staff_user(&name, &actor())?;
            println!("staff user {name} disabled");
        }
    }
    Ok(())
}

/// How many ciphertexts a key version other than `current` sealed.
fn older_ciphertexts(app: &Herold, current: u8) -> Result<u64> {
    Ok(app
        .db()
        .key_versions_in_use()?
        .values()
        .flat_map(|v| v.iter())
        .filter(|(v, _)| **v != Some(current))
        .map(|(_, n)| n)
        .sum())
}

/// `herold keys rotate | status`.
fn keys(app: &Herold, cmd: KeysCommand) -> Result<()> {
    let db = app.db();
    match cmd {
        KeysCommand::Rotate { batch, resume } => {
            if !resume {
                let version = db.add_key_version()?;
                println!("key version {version} added; re-encrypting…");
            }
            let current = db.keyring().current_version();
            let mut total = 0;
            db.reencrypt_all(batch, |table, column, n| {
                total += n;
                println!("{table}.{column}: {n} re-encrypted");
            })?;
            // Rows another process wrote with the old key meanwhile (it
            // had not re-read the key file yet).
            let mut left = older_ciphertexts(app, current)?;
            if left > 0 {
                std::thread::sleep(std::time::Duration::from_secs(5));
                db.reencrypt_all(batch, |_, _, n| total += n)?;
                left = older_ciphertexts(app, current)?;
            }
            app.db().record_audit(&crate::domain::NewAuditEvent::new(
                &actor(),
                "keys.rotate",
                format!("key:{current}"),
                &serde_json::json!({ "reencrypted": total, "left": left }),
            ))?;
            if left > 0 {
                println!(
                    "{total} ciphertexts now use key version {current}; {left} still use an \
                     older one: run `herold keys rotate --continue`"
                );
            } else {
                println!("{total} ciphertexts re-encrypted; all use key version {current}");
            }
        }
        KeysCommand::Status => {
            println!(
                "key file: {}",
                db.key_file()
                    .map_or("(inline secret_key)".into(), |p| p.display().to_string())
            );
            println!("current key version: {}", db.keyring().current_version());
            for ((table, column), counts) in db.key_versions_in_use()? {
                let parts: Vec<String> = counts
                    .iter()
                    .map(|(v, n)| match v {
                        Some(v) => format!("version {v}: {n}"),
                        None => format!("before versions: {n}"),
                    })
                    .collect();
                println!(
                    "{table}.{column}: {}",
                    if parts.is_empty() {
                        "empty".into()
                    } else {
                        parts.join(", ")
                    }
                );
            }
        }
    }
    Ok(())
}

/// `herold reports processing`.
fn processing(app: &Herold, format: ReportFormat, locale: &str) -> Result<()> {
    if !matches!(locale, "de" | "en") {
        return Err(anyhow!("--locale {locale:?}: expected de or en"));
    }
    let record = app.processing_record(locale);
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&record)?),
        ReportFormat::Html => println!("{}", crate::render::report::processing_html(&record)?),
        ReportFormat::Csv => {
            return Err(anyhow!(
                "--format csv: the record of processing activities is html or json"
            ))
        }
    }
    Ok(())
}

/// A report's period and language, checked.
fn report_period(
    app: &Herold,
    from: &str,
    to: &str,
    locale: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (from_t, to_t) =
        crate::service::period::period(("--from", from), ("--to", to), app.config().tz())?;
    if !matches!(locale, "de" | "en") {
        return Err(anyhow!("--locale {locale:?} is invalid: expected de or en"));
    }
    Ok((from_t, to_t))
}

/// `herold reports parity`.
fn parity(
    app: &Herold,
    from: &str,
    to: &str,
    gap_minutes: u32,
    format: ReportFormat,
    locale: &str,
) -> Result<()> {
    let (from_t, to_t) = report_period(app, from, to, locale)?;
    if !(1..=10_080).contains(&gap_minutes) {
        return Err(anyhow!(
            "--gap-minutes {gap_minutes} is invalid: expected 1 to 10080 (a week)"
        ));
    }
    let report = app.parity_report(from_t, to_t, gap_minutes)?;
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Csv => print!("{}", crate::render::report::parity_csv(&report)?),
        ReportFormat::Html => println!(
            "{}",
            crate::render::report::parity_html(&report, &app.config().site_name, locale)?
        ),
    }
    Ok(())
}

/// `herold reports audit`: the filtered audit log, newest first.
fn audit(
    app: &Herold,
    actor: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: i64,
    json: bool,
) -> Result<()> {
    if !(1..=100_000).contains(&limit) {
        return Err(anyhow!("--limit {limit} is invalid: expected 1 to 100000"));
    }
    let tz = app.config().tz();
    let filter = crate::storage::AuditFilter {
        actor,
        action,
        from: from
            .as_deref()
            .map(|f| report_bound("--from", f, tz, false))
            .transpose()?,
        to: to
            .as_deref()
            .map(|t| report_bound("--to", t, tz, true))
            .transpose()?,
        limit,
    };
    let events = app.db().search_audit(&filter)?;
    for e in &events {
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "id": e.id,
                    "at": e.occurred_at,
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": serde_json::from_str::<serde_json::Value>(&e.details)
                        .unwrap_or(serde_json::Value::String(e.details.clone())),
                })
            );
        } else {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                e.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                e.actor,
                e.action,
                e.subject,
                e.details
            );
        }
    }
    if events.is_empty() && !json {
        println!("no audit events match");
    }
    Ok(())
}

/// A report's `--from`/`--to`: a day in the configured time zone (its
/// start; for `--to` the end, so the day is included) or an RFC 3339 time.
fn report_bound(flag: &str, raw: &str, tz: chrono_tz::Tz, end: bool) -> Result<DateTime<Utc>> {
    Ok(crate::service::period::bound(flag, raw, tz, end)?)
}

/// The staff member at the command line: the login name, else `cli`.
fn actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "cli".to_owned())
}

/// The subscriber `--pseudonym`, or `--channel` with `--address`, names.
fn find_resident(app: &Herold, r: &ResidentArgs) -> Result<crate::domain::Subscriber> {
    Ok(match (&r.pseudonym, &r.channel, &r.address) {
        (Some(p), _, _) => app
            .db()
            .find_subscriber_by_pseudonym(p.trim())?
            .ok_or_else(|| anyhow!("no subscriber has the pseudonym {p:?}"))?,
        (None, Some(c), Some(a)) => {
            let kind: ChannelKind = c.parse()?;
            app.db()
                .find_subscriber_by_address(kind, a)?
                .ok_or_else(|| anyhow!("no subscriber has this address on {kind}"))?
        }
        _ => {
            return Err(anyhow!(
                "name the resident: expected --pseudonym P, or --channel C with --address A"
            ))
        }
    })
}

fn export(app: &Herold, resident: &ResidentArgs, out: Option<std::path::PathBuf>) -> Result<()> {
    let subscriber = find_resident(app, resident)?;
    let json = serde_json::to_string_pretty(&app.export_subscriber(subscriber.id, &actor())?)?;
    match out {
        None => println!("{json}"),
        Some(path) => {
            use std::io::Write as _;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&path)
                .with_context(|| format!("--out {}: cannot create a new file", path.display()))?;
            file.write_all(json.as_bytes())?;
            println!("export written to {}", path.display());
        }
    }
    Ok(())
}

fn manual(app: &Herold, cmd: ManualCommand) -> Result<()> {
    match cmd {
        ManualCommand::List { channel, all } => {
            if let Some(c) = &channel {
                app.manual_channel(c)?;
            }
            let posts = app
                .db()
                .manual_posts(channel.as_deref(), !all, chrono::Utc::now())?;
            if posts.is_empty() {
                println!("nothing to post");
            }
            for p in posts {
                let (a, _) = app.db().get_announcement(p.announcement_id)?;
                let state = match (&p.posted_at, &p.posted_by) {
                    (Some(at), by) => format!(
                        "posted {} by {}",
                        at.to_rfc3339(),
                        by.as_deref().unwrap_or("?")
                    ),
                    (None, _) => "not yet posted".to_owned(),
                };
                println!("{}\t{}\t{}\t{}", a.id, p.channel, state, a.title);
            }
        }
        ManualCommand::Show { id, channel } => {
            println!("{}", app.manual_copy(id, &channel)?);
        }
        ManualCommand::Posted { id, channel, by } => {
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| "cli".to_owned());
            let post = app.confirm_manual_post(id, &channel, &by)?;
            println!(
                "announcement {id} posted on {channel} at {} by {}",
                post.posted_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                post.posted_by.unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn inbox(app: &Herold, cmd: InboxCommand) -> Result<()> {
    let tz = app.config().tz();
    match cmd {
        InboxCommand::List { closed } => {
            let list = app.inbox(closed, 200)?;
            if list.is_empty() {
                println!(
                    "no {} conversations",
                    if closed { "closed" } else { "open" }
                );
            }
            for e in list {
                println!(
                    "{:>6}  {:<9} {:<9} {}",
                    e.conversation.id,
                    e.pseudonym.map_or("(erased)".to_owned(), |p| p.to_string()),
                    e.channel.map_or("-", |c| c.as_str()),
                    e.conversation
                        .updated_at
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M"),
                );
            }
        }
        InboxCommand::Show { id } => {
            let v = app.conversation(id)?;
            println!(
                "conversation {} ({}) with {} on {}",
                v.entry.conversation.id,
                v.entry.conversation.status.as_str(),
                v.entry
                    .pseudonym
                    .map_or("(erased)".to_owned(), |p| p.to_string()),
                v.entry.channel.map_or("-", |c| c.as_str()),
            );
            for m in v.messages {
                let who = match m.direction {
                    crate::domain::Direction::Inbound => "resident",
                    crate::domain::Direction::Outbound => "staff",
                };
                let photos: Vec<_> = v.photos.iter().filter(|p| p.message_id == m.id).collect();
                let text = match (m.text.as_deref(), photos.is_empty()) {
                    (Some(text), _) => text,
                    (None, false) => "(photo without caption)",
                    (None, true) => "(no text)",
                };
                println!(
                    "\n#{} [{}] {who}:\n{text}",
                    m.id,
                    m.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                );
                for p in photos {
                    println!(
                        "  photo {}: {}, {} bytes, {}×{} (herold inbox photo {} --out FILE)",
                        p.id,
                        p.format.mime_type(),
                        p.byte_length,
                        p.width,
                        p.height,
                        p.id
                    );
                }
            }
        }
        InboxCommand::Reply { id, text } => {
            app.reply_to_resident(id, &text, "cli")?;
            println!("reply to conversation {id} queued");
        }
        InboxCommand::Close { id } => {
            app.close_conversation(id, "cli")?;
            println!("conversation {id} closed");
        }
        InboxCommand::DeleteMessage { message } => {
            let conversation = app.delete_message(message, "cli")?;
            println!("message {message} of conversation {conversation} deleted");
        }
        InboxCommand::Photo { id, out } => {
            // Refuse to overwrite before anything is read (or audited).
            // Personal data: readable by its owner only.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&out)
                .with_context(|| format!("cannot create --out {}", out.display()))?;
            let photo = match app.export_photo(id, "cli") {
                Ok(photo) => photo,
                Err(e) => {
                    let _ = std::fs::remove_file(&out);
                    return Err(e.into());
                }
            };
            std::io::Write::write_all(&mut file, &photo.bytes)
                .with_context(|| format!("cannot write --out {}", out.display()))?;
            println!(
                "photo {id} ({}, {} bytes, {}×{}) written to {}",
                photo.photo.format.mime_type(),
                photo.bytes.len(),
                photo.photo.width,
                photo.photo.height,
                out.display()
            );
        }
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("herold")
        .build()
        .context("cannot start the async runtime")
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Warnings about a configuration that works but probably not as meant.
fn warn_about(app: &App) {
    let config = app.herold().config();
    let Some(link) = app.registry().link_signup() else {
        return;
    };
    if config.public_url.scheme() != "https" {
        tracing::warn!(
            public_url = %config.public_url,
            "public_url is not https: mail programs will not offer one-click unsubscribe (RFC 8058); serve Herold behind a TLS reverse proxy and set public_url to its https address"
        );
    }
    if !config.delivery.channels.contains(&link.kind()) {
        tracing::warn!(channel = %link.kind(), "residents can sign up on the web form for this channel, but delivery.channels does not list it: no announcement will reach them");
    }
}

fn serve(config: Config) -> Result<()> {
    let app = App::build(config)?;
    warn_about(&app);
    run_serving(app)
}

/// `herold demo`: the demo's own database (seeded when new, refused when it
/// holds real residents), sandbox channels, and `serve`.
fn demo(mut config: Config, args: &crate::cli::DemoArgs) -> Result<()> {
    let db = &args.database;
    config.database_url = db.display().to_string();
    config.secret_key = None;
    let key = db.with_extension("key");
    if !key.exists() {
        crate::storage::write_key_file(&key, &crate::crypto::Keyring::generate_encoded())?;
    }
    config.secret_key_file = Some(key);
    config.delivery.channels = crate::demo::CHANNELS.to_vec();
    if config.site_name == Config::default().site_name {
        config.site_name = "Gemeinde Musterstadt".into();
    }
    let herold = Herold::open(config)?;
    let seeded = crate::demo::prepare(&herold)?;
    let sandbox = std::sync::Arc::new(crate::demo::Sandbox::default());
    let registry = crate::registry::Registry::from_channels(crate::demo::channels(&sandbox));
    let app = App::assemble(herold, registry)?.with_sandbox(sandbox);
    let base = app.herold().config().public_url.clone();
    println!(
        "Demo {} at {base}\n  what residents received: {base}demo\n  staff application: {base}staff — accounts admin, redaktion, redaktion2, moderation, datenschutz; password {}",
        if seeded { "seeded and running" } else { "running" },
        crate::demo::PASSWORD
    );
    run_serving(app)
}

/// Serves `app` with its engine, inbound processor, pollers and WebSub
/// distributor until SIGINT/SIGTERM.
fn run_serving(app: App) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let websub = crate::websub::spawn(app.herold(), stopped.clone())?;
        let delivery = &app.herold().config().delivery;
        let inbound = app
            .herold()
            .config()
            .inbound
            .process_in_serve
            .then(|| crate::inbound::spawn(app.inbound(), stopped.clone()));
        let pollers = crate::inbound::poll::spawn(app.pollers(), &stopped);
        let engine = (delivery.workers_in_serve && !delivery.channels.is_empty())
            .then(|| tokio::spawn(app.engine().run(stopped)));
        // Returns after SIGINT/SIGTERM, once requests in flight are answered.
        let served = crate::web::serve(&app).await;
        let _ = stop.send(true);
        if let Some(task) = websub {
            if task.await.is_err() {
                tracing::error!("the WebSub distributor crashed");
            }
        }
        if let Some(task) = inbound {
            if task.await.is_err() {
                tracing::error!("the inbound processor crashed");
            }
        }
        for task in pollers {
            if task.await.is_err() {
                tracing::error!("an inbound polling loop crashed");
            }
        }
        if let Some(task) = engine {
            match task.await {
                Ok(r) => r?,
                Err(_) => return Err(anyhow!("the delivery engine crashed")),
            }
        }
        Ok(served?)
    })
}

/// The delivery engine and the inbound processor, without the web server.
fn worker(config: Config) -> Result<()> {
    if config.delivery.channels.is_empty() {
        return Err(anyhow!("delivery.channels is empty, so a worker has nothing to deliver: list push channels, e.g. HEROLD_DELIVERY__CHANNELS='[\"email\"]'"));
    }
    let app = App::build(config)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            termination().await;
            let _ = stop.send(true);
        });
        let inbound = crate::inbound::spawn(app.inbound(), stopped.clone());
        let pollers = crate::inbound::poll::spawn(app.pollers(), &stopped);
        let delivered = app.engine().run(stopped).await;
        if delivered.is_err() {
            // The engine failed before a stop signal: end the processor
            // and the pollers too (their leases expire).
            inbound.abort();
            pollers.iter().for_each(tokio::task::JoinHandle::abort);
        } else {
            if inbound.await.is_err() {
                tracing::error!("the inbound processor crashed");
            }
            for task in pollers {
                if task.await.is_err() {
                    tracing::error!("an inbound polling loop crashed");
                }
            }
        }
        delivered
    })?;
    Ok(())
}

fn broadcasts(app: &Herold, cmd: BroadcastsCommand) -> Result<()> {
    let control = |t: &BroadcastTarget, action: Control, verb: &str| -> Result<()> {
        let channel: Option<ChannelKind> = t.channel.as_deref().map(str::parse).transpose()?;
        let n = app.control_broadcasts(t.id, channel, action, "cli")?;
        println!("{verb} {n} broadcast(s) of announcement {}", t.id);
        Ok(())
    };
    match cmd {
        BroadcastsCommand::Show { id } => {
            app.db().get_announcement(id)?;
            let list = app.db().broadcast_counts(id)?;
            if list.is_empty() {
                println!("announcement {id} has no push broadcasts (delivery.channels was empty when it was published)");
            }
            for b in list {
                let n = |s: DeliveryState| b.counts.get(&s).copied().unwrap_or(0);
                println!(
                    "{:<9} {:<10} fan-out {:<8} queued {:>7}  sending {:>6}  sent {:>7}  delivered {:>7}  read {:>7}  failed {:>6}  skipped {:>6}",
                    b.broadcast.channel.as_str(),
                    b.broadcast.state.as_str(),
                    if b.broadcast.fanout_done { "done" } else { "running" },
                    n(DeliveryState::Queued),
                    n(DeliveryState::Sending),
                    n(DeliveryState::Sent),
                    n(DeliveryState::Delivered),
                    n(DeliveryState::Read),
                    n(DeliveryState::Failed),
                    n(DeliveryState::Skipped),
                );
            }
            Ok(())
        }
        BroadcastsCommand::Pause(t) => control(&t, Control::Pause, "paused"),
        BroadcastsCommand::Resume(t) => control(&t, Control::Resume, "resumed"),
        BroadcastsCommand::Cancel(t) => control(&t, Control::Cancel, "cancelled"),
    }
}

fn digest(app: &Herold, cmd: DigestCommand) -> Result<()> {
    match cmd {
        DigestCommand::Add {
            slug,
            at,
            title,
            timezone,
        } => {
            let d = app.add_digest(&slug, &at, timezone.as_deref(), &title, "cli")?;
            println!(
                "category {slug} now goes out daily at {} ({}); next run {}",
                d.local_time.format("%H:%M"),
                d.timezone.name(),
                d.next_run_at
                    .with_timezone(&d.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
            );
        }
        DigestCommand::List => {
            let cats: std::collections::HashMap<i64, String> = app
                .db()
                .list_categories()?
                .into_iter()
                .map(|c| (c.id, c.slug.to_string()))
                .collect();
            let list = app.db().list_digests()?;
            if list.is_empty() {
                println!("no digests");
            }
            for d in list {
                println!(
                    "{:<20} {} {:<16} next {}  \"{}\"",
                    cats.get(&d.category_id).map(String::as_str).unwrap_or("?"),
                    d.local_time.format("%H:%M"),
                    d.timezone.name(),
                    d.next_run_at
                        .with_timezone(&d.timezone)
                        .format("%Y-%m-%d %H:%M %Z"),
                    d.title
                );
            }
        }
        DigestCommand::Remove { slug } => {
            app.remove_digest(&slug, "cli")?;
            println!("category {slug} goes out announcement by announcement again");
        }
    }
    Ok(())
}
