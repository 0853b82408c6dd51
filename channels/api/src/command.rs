//! Commands residents send to manage their subscription.
//!
//! Matching is case- and accent-insensitive (`LÖSCHEN`, `Loschen`, `loeschen`,
//! `Löschen` are one word) and knows German and English keywords; the
//! keyword also tells which language the resident writes in.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// A subscription command recognised in an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Subscribe (`START`, `ANMELDEN`, `JA`), optionally to the categories
    /// named after the keyword (`Start Kultur`, `anmelden 1 3`); none means
    /// every category.
    Start(Vec<Choice>),
    /// Unsubscribe (`STOP`, `STOPP`, `ABMELDEN`), optionally only from the
    /// categories named after the keyword; none means from everything.
    Stop(Vec<Choice>),
    /// Unsubscribe and erase all personal data (`LÖSCHEN`, `LOESCHEN`, `DELETE`).
    Delete,
    /// Show help (`HILFE`, `HELP`, `INFO`).
    Help,
    /// List the available categories (`KATEGORIEN`, `CATEGORIES`, `THEMEN`).
    Categories,
    /// A link to download everything stored about oneself (`DATEN`,
    /// `AUSKUNFT`, `DATA`; Art. 15 and 20 GDPR).
    Data,
    /// Choose categories by their list numbers, e.g. `1 3` or `1,3`, kept in
    /// the order given, without duplicates. (A message that is just a
    /// category's name is a choice too, but only the core knows the names:
    /// see [`fold`].)
    Choose(Vec<Choice>),
}

/// One category named in a command: by its number in the list residents
/// are shown, or by name (folded with [`fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The category's number in the list (1-based).
    Number(u32),
    /// A category's name or slug, folded.
    Name(String),
}

/// The language a keyword belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// German.
    De,
    /// English.
    En,
}

impl Language {
    /// The BCP 47 tag: `de` or `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::De => "de",
            Language::En => "en",
        }
    }
}

/// A command with the language its keyword is in (`None` for words both
/// languages use: `start`, `stop`, `info`, numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub command: Command,
    /// The resident's language, if the keyword tells.
    pub language: Option<Language>,
}

impl Command {
    /// Recognises a whole message as a command.
    ///
    /// Surrounding whitespace, a trailing `.` or `!`, letter case, accents and
    /// a leading `/` are ignored, as is Telegram's `@BotName` suffix
    /// (`/start@HeroldBot`). German and English keywords are accepted;
    /// `start` and `stop` (and their German words) may be followed by
    /// categories, by number or name. A message consisting only of numbers
    /// separated by spaces, commas or semicolons is [`Command::Choose`].
    /// Anything else, including a keyword inside a longer sentence, is `None`.
    ///
    /// ```
    /// use herold_channel_api::{Choice, Command};
    ///
    /// assert_eq!(Command::parse(" Stopp "), Some(Command::Stop(vec![])));
    /// assert_eq!(Command::parse("/start@HeroldBot"), Some(Command::Start(vec![])));
    /// assert_eq!(
    ///     Command::parse("Anmelden Kultur"),
    ///     Some(Command::Start(vec![Choice::Name("kultur".into())]))
    /// );
    /// assert_eq!(
    ///     Command::parse("1, 3"),
    ///     Some(Command::Choose(vec![Choice::Number(1), Choice::Number(3)]))
    /// );
    /// assert_eq!(Command::parse("stop the noise please"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Command> {
        Self::parse_detailed(text).map(|p| p.command)
    }

    /// Like [`Command::parse`], with the language the keyword is in.
    pub fn parse_detailed(text: &str) -> Option<Parsed> {
        let text = text.trim().trim_end_matches(['.', '!']).trim_end();
        let (text, slash) = match text.strip_prefix('/') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let unsuffixed;
        let text = if slash {
            unsuffixed = strip_bot_suffix(text);
            unsuffixed.as_str()
        } else {
            text
        };
        if text.is_empty() {
            return None;
        }
        let (keyword, rest) = match text.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r.trim()),
            None => (text, ""),
        };
        use Language::{De, En};
        let (command, language) = match fold(keyword).as_str() {
            "start" => (Command::Start(choices(rest)?), None),
            "anmelden" => (Command::Start(choices(rest)?), Some(De)),
            "ja" if rest.is_empty() => (Command::Start(Vec::new()), Some(De)),
            "subscribe" => (Command::Start(choices(rest)?), Some(En)),
            "yes" if rest.is_empty() => (Command::Start(Vec::new()), Some(En)),
            "stop" => (Command::Stop(choices(rest)?), None),
            "stopp" | "abmelden" => (Command::Stop(choices(rest)?), Some(De)),
            "unsubscribe" => (Command::Stop(choices(rest)?), Some(En)),
            "loschen" | "loeschen" if rest.is_empty() => (Command::Delete, Some(De)),
            "delete" if rest.is_empty() => (Command::Delete, Some(En)),
            "hilfe" if rest.is_empty() => (Command::Help, Some(De)),
            "help" if rest.is_empty() => (Command::Help, Some(En)),
            "info" if rest.is_empty() => (Command::Help, None),
            "kategorien" | "themen" if rest.is_empty() => (Command::Categories, Some(De)),
            "categories" | "topics" if rest.is_empty() => (Command::Categories, Some(En)),
            "daten" | "auskunft" if rest.is_empty() => (Command::Data, Some(De)),
            "data" if rest.is_empty() => (Command::Data, Some(En)),
            _ => (
                Command::Choose(
                    parse_numbers(text)?
                        .into_iter()
                        .map(Choice::Number)
                        .collect(),
                ),
                None,
            ),
        };
        Some(Parsed { command, language })
    }
}

/// Text as the matching sees it: lower case, accents and umlaut dots
/// removed (Unicode NFD without combining marks), `ß` as `ss`, runs of
/// white space as one space.
pub fn fold(text: &str) -> String {
    let lower = text.trim().to_lowercase().replace('ß', "ss");
    let bare: String = lower
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    bare.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The categories after `start`/`stop`: numbers, or names separated by
/// commas or semicolons, or one name of at most two words (category
/// names such as "Aktuelle Informationen" have spaces). `None` for anything
/// longer, so a sentence ("stop the noise please") stays text.
fn choices(rest: &str) -> Option<Vec<Choice>> {
    if rest.is_empty() {
        return Some(Vec::new());
    }
    if let Some(numbers) = parse_numbers(rest) {
        return Some(numbers.into_iter().map(Choice::Number).collect());
    }
    let parts: Vec<&str> = if rest.contains([',', ';']) {
        rest.split([',', ';']).collect()
    } else {
        vec![rest]
    };
    let mut out: Vec<Choice> = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let plausible = part.split_whitespace().count() <= 2
            && part
                .chars()
                .all(|c| c.is_alphanumeric() || " -!.&".contains(c));
        if !plausible {
            return None;
        }
        // A part of combining marks alone folds to nothing: no name.
        let name = fold(part);
        if name.is_empty() {
            continue;
        }
        let choice = Choice::Name(name);
        if !out.contains(&choice) {
            out.push(choice);
        }
    }
    (!out.is_empty() && out.len() <= 10).then_some(out)
}

/// Removes a Telegram `@BotName` suffix from a slash command's first word
/// (`start@HeroldBot kultur` → `start kultur`).
fn strip_bot_suffix(text: &str) -> String {
    let (first, rest) = match text.split_once(char::is_whitespace) {
        Some((f, r)) => (f, Some(r)),
        None => (text, None),
    };
    let keyword = match first.split_once('@') {
        Some((keyword, bot))
            if !keyword.is_empty()
                && !bot.is_empty()
                && bot.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            keyword
        }
        _ => return text.to_owned(),
    };
    match rest {
        Some(rest) => format!("{keyword} {rest}"),
        None => keyword.to_owned(),
    }
}

/// Parses a list like `1 3`, `1,3` or `2`; `None` unless every token is a number.
fn parse_numbers(text: &str) -> Option<Vec<u32>> {
    let mut numbers = Vec::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
    {
        if !token.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = token.parse::<u32>().ok()?;
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    if numbers.is_empty() {
        None
    } else {
        Some(numbers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Command> {
        Command::parse(s)
    }

    #[test]
    fn start_words() {
        for s in [
            "START", "start", "Anmelden", "ja", "JA", "/start", " /Start ", "Ja!",
        ] {
            assert_eq!(p(s), Some(Command::Start(vec![])), "{s:?}");
        }
    }

    #[test]
    fn stop_words() {
        for s in [
            "STOP",
            "stop",
            "Stopp",
            "ABMELDEN",
            "/stop",
            "Stop.",
            "\tstopp\n",
        ] {
            assert_eq!(p(s), Some(Command::Stop(vec![])), "{s:?}");
        }
    }

    #[test]
    fn delete_words() {
        for s in [
            "LÖSCHEN",
            "löschen",
            "Lo\u{308}schen",
            "LOESCHEN",
            "loeschen",
            "delete",
            "/Delete",
        ] {
            assert_eq!(p(s), Some(Command::Delete), "{s:?}");
        }
    }

    #[test]
    fn help_and_categories_words() {
        for s in ["HILFE", "help", "Info", "/hilfe"] {
            assert_eq!(p(s), Some(Command::Help), "{s:?}");
        }
        for s in ["KATEGORIEN", "categories", "Themen", "/themen"] {
            assert_eq!(p(s), Some(Command::Categories), "{s:?}");
        }
        for s in ["Daten", "/daten", "AUSKUNFT", "data!"] {
            assert_eq!(p(s), Some(Command::Data), "{s:?}");
        }
    }

    #[test]
    fn telegram_bot_suffix() {
        assert_eq!(p("/start@HeroldBot"), Some(Command::Start(vec![])));
        assert_eq!(p("/STOP@herold_gemeinde_bot"), Some(Command::Stop(vec![])));
        assert_eq!(p("/hilfe@Bot"), Some(Command::Help));
        // Only with a slash, and only a plausible bot name.
        assert_eq!(p("start@HeroldBot"), None);
        assert_eq!(p("/start@"), None);
        assert_eq!(p("/@HeroldBot"), None);
        // What follows the command is its argument, even a stray word.
        assert_eq!(
            p("/start@Herold Bot"),
            Some(Command::Start(vec![Choice::Name("bot".into())]))
        );
    }

    #[test]
    fn choose_numbers() {
        assert_eq!(p("2"), Some(Command::Choose(vec![Choice::Number(2)])));
        assert_eq!(
            p("1 3"),
            Some(Command::Choose(vec![Choice::Number(1), Choice::Number(3)]))
        );
        assert_eq!(
            p("1,3"),
            Some(Command::Choose(vec![Choice::Number(1), Choice::Number(3)]))
        );
        assert_eq!(
            p(" 3, 1 ; 2 "),
            Some(Command::Choose(vec![
                Choice::Number(3),
                Choice::Number(1),
                Choice::Number(2)
            ]))
        );
        assert_eq!(
            p("1 1 2"),
            Some(Command::Choose(vec![Choice::Number(1), Choice::Number(2)]))
        );
        assert_eq!(
            p("10\u{a0}12"),
            Some(Command::Choose(vec![
                Choice::Number(10),
                Choice::Number(12)
            ]))
        );
    }

    #[test]
    fn categories_after_start_and_stop() {
        let name = |n: &str| Choice::Name(n.into());
        assert_eq!(
            p("Start Kultur"),
            Some(Command::Start(vec![name("kultur")]))
        );
        assert_eq!(
            p("anmelden Aktuelle Informationen"),
            Some(Command::Start(vec![name("aktuelle informationen")]))
        );
        assert_eq!(
            p("/start@HeroldBot Kultur!Büro, Abfall"),
            Some(Command::Start(vec![name("kultur!buro"), name("abfall")]))
        );
        assert_eq!(
            p("ABMELDEN 2 3"),
            Some(Command::Stop(vec![Choice::Number(2), Choice::Number(3)]))
        );
        assert_eq!(
            p("stop Veranstaltungstipps"),
            Some(Command::Stop(vec![name("veranstaltungstipps")]))
        );
    }

    #[test]
    fn accents_and_language() {
        for s in ["LÖSCHEN", "Loschen", "LOESCHEN", "Lo\u{308}schen"] {
            let parsed = Command::parse_detailed(s).unwrap();
            assert_eq!(parsed.command, Command::Delete, "{s:?}");
            assert_eq!(parsed.language, Some(Language::De), "{s:?}");
        }
        assert_eq!(
            Command::parse_detailed("Kategórien").unwrap().command,
            Command::Categories
        );
        assert_eq!(
            Command::parse_detailed("help").unwrap().language,
            Some(Language::En)
        );
        assert_eq!(
            Command::parse_detailed("Hilfe").unwrap().language,
            Some(Language::De)
        );
        assert_eq!(Command::parse_detailed("START").unwrap().language, None);
        assert_eq!(
            Command::parse_detailed("unsubscribe").unwrap().language,
            Some(Language::En)
        );
        assert_eq!(fold("  Straße  der   Einheit "), "strasse der einheit");
    }

    /// Found by fuzzing (`command`): a "category" of combining marks
    /// alone became an empty name, answered as an unknown category "".
    #[test]
    fn names_that_fold_to_nothing_are_no_choice() {
        assert_eq!(p("Start \u{F9D}"), None);
        assert_eq!(p("stop \u{301}\u{308}"), None);
        assert_eq!(
            p("Start Kultur, \u{F9D}"),
            Some(Command::Start(vec![Choice::Name("kultur".into())]))
        );
    }

    #[test]
    fn not_commands() {
        for s in [
            "",
            "   ",
            "/",
            ",",
            "stop the noise please",
            "bitte stop",
            "startseite",
            "1 und 3",
            "1-3",
            "+1",
            "-2",
            "1.5",
            "99999999999",
            "Hallo",
            "ja bitte",
            "stop the noise now",
            "start <script>",
            "hilfe bitte",
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }
}
