//! A checker of the markup the renderers write: only the format's tags and
//! attributes, balanced, every `&` an entity, only safe link targets. Used
//! by the unit tests and, through `herold::fuzzing`, by the fuzz targets;
//! not compiled into the product.

/// What markup a format may contain.
pub struct Markup {
    /// Allowed element names.
    pub tags: &'static [&'static str],
    /// Elements without a closing tag.
    pub void: &'static [&'static str],
    /// Allowed entities; any other `&` is an error.
    pub entities: &'static [&'static str],
}

/// Telegram's HTML subset.
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
            return Err(format!("bare & at {i}: {}", &s[i..]));
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
            return Err(format!("stray > in {s}"));
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
