//! Checks shared by Herold's fuzz targets: what must hold for every event
//! an inbound parser returns and for every piece of markup a renderer
//! writes. A violated rule panics, which libFuzzer reports as a crash.

use herold_channel_api::{InboundContent, InboundEvent, SendError, MAX_RETRY_AFTER};

/// Rules for every event a webhook or poller hands to the core: it is
/// stored as JSON and read back by the inbound processor, so it must
/// survive that unchanged; its dedupe key must exist; and `Debug` (logged)
/// must not panic.
pub fn check_events(events: &[InboundEvent]) {
    for event in events {
        let json = serde_json::to_vec(event).expect("an event serialises");
        let back: InboundEvent = serde_json::from_slice(&json).unwrap_or_else(|e| {
            panic!(
                "a stored event cannot be read back: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(&back, event, "an event changes when stored");
        assert!(!event.dedupe_key().is_empty(), "empty dedupe key");
        let _ = format!("{event:?}");
        if let InboundEvent::Message {
            content: InboundContent::Photo { media_id, .. },
            ..
        } = event
        {
            assert!(!media_id.is_empty(), "a photo without media id");
        }
    }
}

/// Rules for a provider's refusal mapped to a [`SendError`]: a retry hint
/// never exceeds [`MAX_RETRY_AFTER`], and it displays.
pub fn check_send_error(error: &SendError) {
    let hint = match error {
        SendError::Transient { retry_after, .. } | SendError::RateLimited { retry_after } => {
            *retry_after
        }
        _ => None,
    };
    if let Some(hint) = hint {
        assert!(hint <= MAX_RETRY_AFTER, "retry hint {hint:?} above the cap");
    }
    let _ = error.to_string();
    let _ = error.disposition();
}

/// What markup one rendered format may contain.
pub struct Markup {
    /// Allowed element names.
    pub tags: &'static [&'static str],
    /// Elements without a closing tag.
    pub void: &'static [&'static str],
    /// Allowed entities (everything else must not follow a `&`).
    pub entities: &'static [&'static str],
}

/// Telegram's `parse_mode=HTML` subset as Herold writes it.
pub const TELEGRAM: Markup = Markup {
    tags: &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "a",
        "code",
        "pre",
        "blockquote",
    ],
    void: &[],
    entities: &["&lt;", "&gt;", "&amp;", "&quot;"],
};

/// Matrix `formatted_body` and the e-mail fragment as Herold writes them.
pub const MATRIX: Markup = Markup {
    tags: &[
        "b",
        "strong",
        "i",
        "em",
        "del",
        "a",
        "p",
        "br",
        "ul",
        "ol",
        "li",
        "blockquote",
        "code",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    ],
    void: &["br"],
    entities: &["&lt;", "&gt;", "&amp;", "&quot;", "&#39;"],
};

fn check_entities(s: &str, m: &Markup) -> Result<(), String> {
    for (i, _) in s.match_indices('&') {
        if !m.entities.iter().any(|e| s[i..].starts_with(e)) {
            return Err(format!("bare & at {i}"));
        }
    }
    Ok(())
}

fn check_attrs(name: &str, attrs: &str, m: &Markup) -> Result<(), String> {
    if attrs.is_empty() {
        return Ok(());
    }
    let (key, value) = attrs
        .split_once('=')
        .ok_or_else(|| format!("bad attribute {attrs}"))?;
    match (name, key) {
        ("a", "href") | ("ol", "start") => {}
        _ => return Err(format!("attribute {key} on {name}")),
    }
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("unquoted {value}"))?;
    if inner.contains(['"', '<', '>']) {
        return Err(format!("raw quote or bracket in {inner}"));
    }
    check_entities(inner, m)?;
    if name == "a" {
        let lower = inner.to_ascii_lowercase();
        if !["https://", "http://", "mailto:", "tel:"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Err(format!("unsafe href {inner}"));
        }
    }
    Ok(())
}

/// Only allowed tags and attributes, balanced, no bare `&`, `<` or `>`,
/// only safe link targets.
pub fn check_markup(s: &str, m: &Markup) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['<', '>']) {
        check_entities(&rest[..i], m)?;
        if rest[i..].starts_with('>') {
            return Err("stray >".into());
        }
        let tail = &rest[i + 1..];
        let end = tail.find('>').ok_or("unclosed <")?;
        let inner = &tail[..end];
        if inner.contains('<') {
            return Err(format!("< inside tag {inner}"));
        }
        if let Some(name) = inner.strip_prefix('/') {
            let open = stack.pop().ok_or_else(|| format!("</{name}> not open"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
        } else {
            let (name, attrs) = inner.split_once(' ').unwrap_or((inner, ""));
            if !m.tags.contains(&name) {
                return Err(format!("tag <{name}> not allowed"));
            }
            check_attrs(name, attrs, m)?;
            if !m.void.contains(&name) {
                stack.push(name);
            }
        }
        rest = &tail[end + 1..];
    }
    check_entities(rest, m)?;
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

/// Splits fuzz input into `n` strings at NUL bytes (missing ones empty),
/// lossily decoded, so one input drives several text fields.
pub fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}
