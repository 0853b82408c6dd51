//! Residents' commands on every messenger, once: Start/Anmelden, Stop/
//! Abmelden (each optionally with categories), Löschen/Delete, Hilfe/Help,
//! Kategorien/Categories and choosing categories by number or name.
//!
//! Channels only recognise the words ([`Command::parse_detailed`]); what a
//! command does — the subscriber, their categories, the consent ledger with
//! the inbound message as evidence, the reply in the resident's language —
//! happens here, the same for Telegram, Matrix and WhatsApp.
//!
//! Opt-in only: a subscriber is created only because the resident wrote
//! first, and every reply answers a message of theirs. Replies are returned,
//! not sent: the caller sends them through the channel (and, for Stop and
//! Löschen, only once the resident's in-flight deliveries have settled, so
//! nothing arrives after the confirmation).

use herold_channel_api::{fold, ChannelKind, Choice, Command, Language};

use super::{Herold, ServiceError, CONSENT_WORDING_VERSION};
use crate::{
    domain::{Category, Id, Subscriber, SubscriberStatus},
    i18n::t,
    storage::{NewOutboxMessage, NewSubscriber, OutboxRecipient, Redacted},
};

/// A command as a channel received it.
#[derive(Debug, Clone)]
pub struct ResidentCommand<'a> {
    /// The channel it came on.
    pub channel: ChannelKind,
    /// Who sent it (phone number, chat id, Matrix user); never logged.
    pub address: &'a str,
    /// What they asked for.
    pub command: &'a Command,
    /// The language of the keyword, if it tells (kept for later replies).
    pub language: Option<Language>,
    /// The provider's id of the inbound message: the evidence of consent.
    pub message_id: &'a str,
}

/// What a command did, and the answer to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The subscriber the command concerned, if there is one.
    pub subscriber_id: Option<Id>,
    /// The reply, in the resident's language.
    pub reply: String,
    /// That language (`de` or `en`).
    pub locale: String,
    /// Whether the reply confirms an end of delivery (Stop, Löschen): send
    /// it only after the subscriber's in-flight deliveries have settled.
    pub ends_delivery: bool,
    /// Löschen answers first: erase this subscriber with
    /// [`Herold::erase_after_reply`] once the reply went out (or failed for
    /// good).
    pub erase_after_reply: Option<Id>,
}

/// The categories a command named, resolved against the list residents see.
enum Resolved {
    Ids(Vec<Id>),
    Unknown(String),
}

impl Herold {
    /// Carries out a resident's command and returns the reply. Every
    /// consent change goes into the ledger with `message:{id}` as evidence
    /// and the wording version in force.
    pub fn resident_command(
        &self,
        cmd: &ResidentCommand<'_>,
    ) -> Result<CommandOutcome, ServiceError> {
        let existing = self
            .db()
            .find_subscriber_by_address(cmd.channel, cmd.address)?;
        let locale = match (cmd.language, &existing) {
            (Some(l), _) => l.tag().to_owned(),
            (None, Some(s)) => s.locale.clone(),
            (None, None) => self.config().default_locale.clone(),
        };
        if let (Some(s), Some(l)) = (&existing, cmd.language) {
            if s.locale != l.tag() {
                self.db().set_subscriber_locale(s.id, l.tag())?;
            }
        }
        let evidence = format!("message:{}", cmd.message_id);
        let categories = self.db().list_categories()?;
        let reply = Reply {
            app: self,
            locale: &locale,
            categories: &categories,
        };
        let active = existing
            .as_ref()
            .filter(|s| s.status == SubscriberStatus::Active);
        let outcome = |subscriber_id: Option<Id>, reply: String| CommandOutcome {
            subscriber_id,
            reply,
            locale: locale.clone(),
            ends_delivery: false,
            erase_after_reply: None,
        };
        match cmd.command {
            Command::Help => Ok(outcome(existing.map(|s| s.id), reply.help())),
            Command::Data => match existing {
                None => Ok(outcome(None, reply.text("resident.nothing_stored", &[]))),
                Some(s) => {
                    let link = self.data_link(s.id)?;
                    let minutes = super::export::DATA_LINK_TTL_MINUTES.to_string();
                    Ok(outcome(
                        Some(s.id),
                        reply.text(
                            "resident.data_link",
                            &[("link", &link), ("minutes", &minutes)],
                        ),
                    ))
                }
            },
            Command::Categories => {
                let mine = match active {
                    Some(s) => self.category_ids_of(s.id)?,
                    None => Vec::new(),
                };
                Ok(outcome(existing.map(|s| s.id), reply.categories(&mine)))
            }
            Command::Start(choices) | Command::Choose(choices) => {
                if categories.is_empty() {
                    return Ok(outcome(
                        existing.map(|s| s.id),
                        reply.text("resident.no_categories", &[]),
                    ));
                }
                let wanted = match resolve(&categories, choices) {
                    Resolved::Unknown(given) => {
                        return Ok(outcome(existing.map(|s| s.id), reply.unknown(&given)))
                    }
                    Resolved::Ids(ids) if ids.is_empty() => {
                        categories.iter().map(|c| c.id).collect()
                    }
                    Resolved::Ids(ids) => ids,
                };
                let choosing = matches!(cmd.command, Command::Choose(_));
                self.start(
                    cmd,
                    existing.as_ref(),
                    &wanted,
                    choosing,
                    &evidence,
                    &locale,
                    &reply,
                )
            }
            Command::Stop(choices) => {
                let Some(s) = active else {
                    return Ok(outcome(
                        existing.map(|s| s.id),
                        reply.text("resident.not_subscribed", &[]),
                    ));
                };
                let removed = match resolve(&categories, choices) {
                    Resolved::Unknown(given) => {
                        return Ok(outcome(Some(s.id), reply.unknown(&given)))
                    }
                    Resolved::Ids(ids) => ids,
                };
                let current = self.category_ids_of(s.id)?;
                let remaining: Vec<Id> = current
                    .iter()
                    .copied()
                    .filter(|c| !removed.contains(c))
                    .collect();
                let text = if removed.is_empty() || remaining.is_empty() {
                    self.db()
                        .unsubscribe(s.id, CONSENT_WORDING_VERSION, Some(&evidence))?;
                    tracing::info!(subscriber = s.id, channel = %cmd.channel, "resident unsubscribed");
                    reply.text("resident.stopped", &[])
                } else {
                    self.db().set_subscriptions(
                        s.id,
                        &remaining,
                        CONSENT_WORDING_VERSION,
                        &evidence,
                    )?;
                    reply.text(
                        "resident.stopped_some",
                        &[
                            ("removed", &reply.names(&removed)),
                            ("categories", &reply.names(&remaining)),
                        ],
                    )
                };
                Ok(CommandOutcome {
                    ends_delivery: true,
                    ..outcome(Some(s.id), text)
                })
            }
            Command::Delete => match existing {
                None => Ok(outcome(None, reply.text("resident.nothing_stored", &[]))),
                Some(s) => {
                    // Nothing more goes out while the reply is on its way.
                    if s.status == SubscriberStatus::Active {
                        self.db()
                            .unsubscribe(s.id, CONSENT_WORDING_VERSION, Some(&evidence))?;
                    }
                    Ok(CommandOutcome {
                        ends_delivery: true,
                        erase_after_reply: Some(s.id),
                        ..outcome(Some(s.id), reply.text("resident.erased", &[]))
                    })
                }
            },
        }
    }

    /// Carries out a resident's command ([`Herold::resident_command`]) and
    /// queues the reply in the outbox, which the channel's reply loop sends
    /// (engine/replies.rs): to the subscriber, or — for someone who is none —
    /// to the address, kept encrypted only until it went out. The
    /// confirmation of Stop and Löschen waits for in-flight deliveries;
    /// Löschen erases once its answer is out.
    pub fn answer_command(
        &self,
        cmd: &ResidentCommand<'_>,
    ) -> Result<CommandOutcome, ServiceError> {
        let outcome = self.resident_command(cmd)?;
        // A reply carries its own copy of the address it answers: the
        // stored one of a resident who left is forgotten once their goodbye
        // went out (service/retention.rs), and they may still write.
        let to = match outcome.subscriber_id {
            Some(id) => OutboxRecipient::SubscriberAt(id, cmd.address.to_owned()),
            None => OutboxRecipient::Address(cmd.address.to_owned()),
        };
        self.db().enqueue_outbox(
            &NewOutboxMessage {
                channel: cmd.channel,
                to,
                text: Redacted(outcome.reply.clone()),
                locale: outcome.locale.clone(),
                wait_settled: outcome.ends_delivery,
                erase_after: outcome.erase_after_reply.is_some(),
                source: Some(format!("message:{}", cmd.message_id)),
            },
            chrono::Utc::now(),
        )?;
        Ok(outcome)
    }

    /// Erases a subscriber after the reply to their Löschen went out: the
    /// address, subscriptions, conversations and queued deliveries go; the
    /// consent ledger keeps an anonymous entry.
    pub fn erase_after_reply(&self, subscriber_id: Id) -> Result<(), ServiceError> {
        self.erase(subscriber_id)?;
        tracing::info!(subscriber = subscriber_id, "resident erased on request");
        Ok(())
    }

    /// Whether `text` names categories by name alone ("Kultur", "Abfall,
    /// Kultur"): then it is a choice, not a message for staff. Only names
    /// or slugs that exist count, so ordinary text stays a message.
    pub fn category_choice(&self, text: &str) -> Result<Option<Command>, ServiceError> {
        let categories = self.db().list_categories()?;
        let names: Vec<Choice> = text
            .split([',', ';'])
            .map(fold)
            .filter(|n| !n.is_empty())
            .map(Choice::Name)
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        Ok(match resolve(&categories, &names) {
            Resolved::Ids(_) => Some(Command::Choose(names)),
            Resolved::Unknown(_) => None,
        })
    }

    fn category_ids_of(&self, subscriber_id: Id) -> Result<Vec<Id>, ServiceError> {
        Ok(self
            .db()
            .subscriptions_of(subscriber_id)?
            .into_iter()
            .map(|s| s.category_id)
            .collect())
    }

    /// Start, or a choice of categories: a new subscriber, one coming
    /// back, or new categories for an active one.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        cmd: &ResidentCommand<'_>,
        existing: Option<&Subscriber>,
        wanted: &[Id],
        choosing: bool,
        evidence: &str,
        locale: &str,
        reply: &Reply<'_>,
    ) -> Result<CommandOutcome, ServiceError> {
        let done = |id: Id, text: String| CommandOutcome {
            subscriber_id: Some(id),
            reply: text,
            locale: locale.to_owned(),
            ends_delivery: false,
            erase_after_reply: None,
        };
        match existing {
            None => {
                let s = self.db().insert_subscriber(&NewSubscriber {
                    channel: cmd.channel,
                    address: cmd.address.to_owned(),
                    locale: locale.to_owned(),
                    // The resident wrote to us: the channel proves the address.
                    status: SubscriberStatus::Active,
                    category_ids: wanted.to_vec(),
                    wording_version: CONSENT_WORDING_VERSION.to_owned(),
                    evidence: Some(evidence.to_owned()),
                })?;
                tracing::info!(subscriber = s.id, channel = %cmd.channel, "resident subscribed");
                Ok(done(s.id, reply.welcome(wanted)))
            }
            Some(s) if s.status == SubscriberStatus::Active => {
                let current = self.category_ids_of(s.id)?;
                if current.is_empty() {
                    // A contact from a report subscribes: welcome them.
                    self.db()
                        .set_subscriptions(s.id, wanted, CONSENT_WORDING_VERSION, evidence)?;
                    return Ok(done(s.id, reply.welcome(wanted)));
                }
                let next: Vec<Id> = if choosing {
                    wanted.to_vec()
                } else {
                    let mut all = current.clone();
                    all.extend(wanted.iter().filter(|c| !current.contains(c)));
                    all
                };
                let changed =
                    self.db()
                        .set_subscriptions(s.id, &next, CONSENT_WORDING_VERSION, evidence)?;
                let text = match (changed, choosing) {
                    (_, true) => {
                        reply.text("resident.chosen", &[("categories", &reply.names(&next))])
                    }
                    (true, false) => {
                        reply.text("resident.added", &[("categories", &reply.names(wanted))])
                    }
                    (false, false) => reply.text(
                        "resident.already",
                        &[("categories", &reply.names(&current))],
                    ),
                };
                Ok(done(s.id, text))
            }
            Some(s) => {
                self.db().reactivate_subscriber(
                    s.id,
                    cmd.address,
                    CONSENT_WORDING_VERSION,
                    Some(evidence),
                )?;
                self.db()
                    .set_subscriptions(s.id, wanted, CONSENT_WORDING_VERSION, evidence)?;
                tracing::info!(subscriber = s.id, channel = %cmd.channel, "resident subscribed again");
                Ok(done(s.id, reply.welcome(wanted)))
            }
        }
    }
}

/// The categories named by number (1-based, in the order residents are
/// shown: by slug) or by name or slug (folded); the first unknown one as
/// the resident wrote it.
fn resolve(categories: &[Category], choices: &[Choice]) -> Resolved {
    let mut ids = Vec::new();
    for choice in choices {
        let found = match choice {
            Choice::Number(n) => usize::try_from(*n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| categories.get(i)),
            Choice::Name(name) => categories
                .iter()
                .find(|c| fold(&c.name) == *name || c.slug.as_str() == name.as_str()),
        };
        match found {
            Some(c) if !ids.contains(&c.id) => ids.push(c.id),
            Some(_) => {}
            None => {
                return Resolved::Unknown(match choice {
                    Choice::Number(n) => n.to_string(),
                    Choice::Name(name) => name.clone(),
                })
            }
        }
    }
    Resolved::Ids(ids)
}

/// Reply texts from the catalogues, in one resident's language.
struct Reply<'a> {
    app: &'a Herold,
    locale: &'a str,
    categories: &'a [Category],
}

impl Reply<'_> {
    fn text(&self, key: &str, args: &[(&str, &str)]) -> String {
        t(self.locale, key, args)
    }

    /// "Abfall, Kultur" for category ids.
    fn names(&self, ids: &[Id]) -> String {
        self.categories
            .iter()
            .filter(|c| ids.contains(&c.id))
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The numbered list, subscribed ones marked.
    fn list(&self, mine: &[Id]) -> String {
        self.categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mark = if mine.contains(&c.id) { " ✓" } else { "" };
                format!("{}. {}{mark}", i + 1, c.name)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn footer(&self) -> String {
        t(self.locale, "message.footer", &[])
    }

    fn welcome(&self, ids: &[Id]) -> String {
        self.text(
            "resident.welcome",
            &[
                ("site", &self.app.config().site_name),
                ("categories", &self.names(ids)),
                ("list", &self.list(ids)),
                ("footer", &self.footer()),
            ],
        )
    }

    fn help(&self) -> String {
        self.text(
            "resident.help",
            &[
                ("site", &self.app.config().site_name),
                ("footer", &self.footer()),
            ],
        )
    }

    fn categories(&self, mine: &[Id]) -> String {
        if self.categories.is_empty() {
            return self.text("resident.no_categories", &[]);
        }
        self.text(
            "resident.categories",
            &[("marked", "✓"), ("list", &self.list(mine))],
        )
    }

    fn unknown(&self, given: &str) -> String {
        self.text(
            "resident.unknown_category",
            &[("given", given), ("list", &self.list(&[]))],
        )
    }
}
