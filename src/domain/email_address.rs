//! E-mail addresses residents give on the sign-up form: the rules an address
//! must meet for mail to reach it.

use herold_channel_api::ChannelKind;
use thiserror::Error;

use super::{normalize_address, DomainError};

const EXPECTED_EMAIL: &str = "an e-mail address like name@example.org";

/// A small built-in list of well-known disposable (throw-away) mail
/// services, matched with their subdomains. Not exhaustive: it keeps out
/// the obvious cases; the double opt-in itself is the real protection.
const DISPOSABLE_DOMAINS: &[&str] = &[
    "10minutemail.com",
    "10minutemail.net",
    "discard.email",
    "dispostable.com",
    "einrot.com",
    "emailondeck.com",
    "fakeinbox.com",
    "getairmail.com",
    "getnada.com",
    "guerrillamail.biz",
    "guerrillamail.com",
    "guerrillamail.de",
    "guerrillamail.net",
    "guerrillamail.org",
    "guerrillamailblock.com",
    "jetable.org",
    "mailcatch.com",
    "maildrop.cc",
    "mailinator.com",
    "mailinator.net",
    "mailnesia.com",
    "mintemail.com",
    "mohmal.com",
    "mytemp.email",
    "sharklasers.com",
    "spam4.me",
    "spambog.com",
    "spamgourmet.com",
    "temp-mail.org",
    "tempail.com",
    "tempmail.com",
    "tempmailo.com",
    "tempr.email",
    "throwawaymail.com",
    "trashmail.com",
    "trashmail.de",
    "trashmail.net",
    "wegwerfemail.de",
    "wegwerfmail.de",
    "wegwerfmail.net",
    "yopmail.com",
    "yopmail.fr",
    "yopmail.net",
];

/// Why an address is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailAddressError {
    /// The address is malformed.
    #[error("expected {expected}")]
    Invalid { expected: &'static str },
    /// The part before the `@` has characters beyond ASCII: mail servers
    /// without SMTPUTF8 (RFC 6531), most of them, cannot deliver to it.
    #[error("the part before the @ may only use ASCII letters, digits and . _ - +")]
    NonAsciiLocalPart,
    /// The address belongs to a disposable mail service.
    #[error("the address belongs to a disposable (throw-away) mail service")]
    Disposable,
}

/// Normalises an e-mail address and checks it more strictly than lookups
/// do: lengths (RFC 5321), characters, domain labels (internationalised
/// domains become punycode), and the disposable list.
pub fn check_email_address(raw: &str) -> Result<String, EmailAddressError> {
    let invalid = |expected| EmailAddressError::Invalid { expected };
    let address = normalize_address(ChannelKind::Email, raw).map_err(|e| match e {
        DomainError::Invalid { expected, .. } => invalid(expected),
        _ => invalid(EXPECTED_EMAIL),
    })?;
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| invalid(EXPECTED_EMAIL))?;
    if !local.is_ascii() {
        return Err(EmailAddressError::NonAsciiLocalPart);
    }
    // Internationalised domains (müllheim.de) are stored in their ASCII
    // (punycode) form, the form SMTP servers understand.
    let ascii_domain = url::quirks::domain_to_ascii(domain);
    if ascii_domain.is_empty() {
        return Err(invalid(EXPECTED_EMAIL));
    }
    let address = format!("{local}@{ascii_domain}");
    let domain = ascii_domain.as_str();
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels_ok = domain.split('.').all(|l| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let tld_ok = domain
        .rsplit('.')
        .next()
        .is_some_and(|t| t.chars().count() >= 2 && !t.chars().all(|c| c.is_ascii_digit()));
    if address.len() > 254 || !local_ok || !labels_ok || !tld_ok {
        return Err(invalid(EXPECTED_EMAIL));
    }
    if DISPOSABLE_DOMAINS
        .iter()
        .any(|d| domain == *d || domain.strip_suffix(d).is_some_and(|p| p.ends_with('.')))
    {
        return Err(EmailAddressError::Disposable);
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_checks() {
        assert_eq!(
            check_email_address(" Anna.Muster@Example.ORG ")
                .ok()
                .as_deref(),
            Some("anna.muster@example.org")
        );
        assert!(check_email_address("anna+news@mail.example.de").is_ok());
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.org",
            "anna@example",
            "an na@example.org",
            "anna@exa_mple.org",
            "anna@-example.org",
            "anna@example..org",
            "anna..x@example.org",
            ".anna@example.org",
            "anna@example.1",
            "\"anna\"@example.org",
            "anna<x>@example.org",
        ] {
            assert!(
                matches!(
                    check_email_address(bad),
                    Err(EmailAddressError::Invalid { .. })
                ),
                "{bad:?}"
            );
        }
        for throwaway in ["x@mailinator.com", "x@eu.mailinator.com", "x@YOPMAIL.com"] {
            assert!(
                matches!(
                    check_email_address(throwaway),
                    Err(EmailAddressError::Disposable)
                ),
                "{throwaway:?}"
            );
        }
        assert!(check_email_address("x@notmailinator.com").is_ok());
        assert!(matches!(
            check_email_address("jürgen@example.org"),
            Err(EmailAddressError::NonAsciiLocalPart)
        ));
        assert_eq!(
            check_email_address("Juergen@Müllheim.DE").ok().as_deref(),
            Some("juergen@xn--mllheim-n2a.de")
        );
        for injection in ["a@example.org\r\nBcc: x@example.org", "a@example.org\nX: y"] {
            assert!(check_email_address(injection).is_err(), "{injection:?}");
        }
    }
}
