//! Commands residents send to manage their subscription.

/// A subscription command recognised in an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Subscribe (`START`, `ANMELDEN`, `JA`).
    Start,
    /// Unsubscribe (`STOP`, `STOPP`, `ABMELDEN`).
    Stop,
    /// Unsubscribe and erase all personal data (`LÖSCHEN`, `LOESCHEN`, `DELETE`).
    Delete,
    /// Show help (`HILFE`, `HELP`, `INFO`).
    Help,
    /// List the available categories (`KATEGORIEN`, `CATEGORIES`, `THEMEN`).
    Categories,
    /// Choose categories by their list numbers, e.g. `1 3` or `1,3`.
    /// Numbers are kept in the order given, without duplicates.
    Choose(Vec<u32>),
}

impl Command {
    /// Recognises a whole message as a command.
    ///
    /// Surrounding whitespace, a trailing `.` or `!`, letter case and a leading `/`
    /// are ignored, as is Telegram's `@BotName` suffix (`/start@HeroldBot`).
    /// German and English keywords are accepted. A message consisting only of
    /// numbers separated by spaces, commas or semicolons is [`Command::Choose`].
    /// Anything else, including a keyword inside a longer sentence, is `None`.
    ///
    /// ```
    /// use herold_channel_api::Command;
    ///
    /// assert_eq!(Command::parse(" Stopp "), Some(Command::Stop));
    /// assert_eq!(Command::parse("/start@HeroldBot"), Some(Command::Start));
    /// assert_eq!(Command::parse("1, 3"), Some(Command::Choose(vec![1, 3])));
    /// assert_eq!(Command::parse("stop the noise please"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Command> {
        let text = text.trim().trim_end_matches(['.', '!']).trim_end();
        let (text, slash) = match text.strip_prefix('/') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let text = if slash { strip_bot_suffix(text) } else { text };
        if text.is_empty() {
            return None;
        }

        let word = text.to_lowercase();
        let command = match word.as_str() {
            "start" | "anmelden" | "ja" => Command::Start,
            "stop" | "stopp" | "abmelden" => Command::Stop,
            "löschen" | "lo\u{308}schen" | "loeschen" | "delete" => Command::Delete,
            "hilfe" | "help" | "info" => Command::Help,
            "kategorien" | "categories" | "themen" => Command::Categories,
            _ => return parse_numbers(text).map(Command::Choose),
        };
        Some(command)
    }
}

/// Removes a Telegram `@BotName` suffix from a slash command.
fn strip_bot_suffix(text: &str) -> &str {
    match text.split_once('@') {
        Some((command, bot))
            if !command.is_empty()
                && !bot.is_empty()
                && bot.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            command
        }
        _ => text,
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
            assert_eq!(p(s), Some(Command::Start), "{s:?}");
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
            assert_eq!(p(s), Some(Command::Stop), "{s:?}");
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
    }

    #[test]
    fn telegram_bot_suffix() {
        assert_eq!(p("/start@HeroldBot"), Some(Command::Start));
        assert_eq!(p("/STOP@herold_gemeinde_bot"), Some(Command::Stop));
        assert_eq!(p("/hilfe@Bot"), Some(Command::Help));
        // Only with a slash, and only a plausible bot name.
        assert_eq!(p("start@HeroldBot"), None);
        assert_eq!(p("/start@"), None);
        assert_eq!(p("/@HeroldBot"), None);
        assert_eq!(p("/start@Herold Bot"), None);
    }

    #[test]
    fn choose_numbers() {
        assert_eq!(p("2"), Some(Command::Choose(vec![2])));
        assert_eq!(p("1 3"), Some(Command::Choose(vec![1, 3])));
        assert_eq!(p("1,3"), Some(Command::Choose(vec![1, 3])));
        assert_eq!(p(" 3, 1 ; 2 "), Some(Command::Choose(vec![3, 1, 2])));
        assert_eq!(p("1 1 2"), Some(Command::Choose(vec![1, 2])));
        assert_eq!(p("10\u{a0}12"), Some(Command::Choose(vec![10, 12])));
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
        ] {
            assert_eq!(p(s), None, "{s:?}");
        }
    }
}
