//! Cross-format tests: layout, hostile input, length limits.

use super::markup_check::{check_markup, MATRIX, TELEGRAM};
use super::*;
use herold_channel_api::Formatting;

const ALL: [Formatting; 5] = [
    Formatting::Plain,
    Formatting::Html,
    Formatting::TelegramHtml,
    Formatting::MatrixHtml,
    Formatting::WhatsApp,
];
const LINK: &str = "https://stadt.example/a/42-sperrung";
const EVENT: &str = "Wann: Mo, 3. März, 8:00 · Wo: Rathaus";
const FOOTER: &str = "Informationsdienst; Amtliches auf dem amtlichen Weg.\nStadt Beispiel";
const FAMILY: &str = "👩\u{200D}👩\u{200D}👧";

fn parts<'a>(title: &'a str, body: &'a str) -> Parts<'a> {
    Parts {
        title,
        body_markdown: body,
        urgent_label: None,
        event: Some(EVENT),
        link: LINK,
        read_more: "Weiterlesen",
        footer: FOOTER,
    }
}

/// Accents stay on their `e`, family emoji stay whole.
fn graphemes_intact(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().all(|(i, c)| match c {
        '\u{301}' => i > 0 && chars[i - 1] == 'e',
        '\u{200D}' => {
            i > 0 && chars[i - 1] == '👩' && matches!(chars.get(i + 1), Some('👩' | '👧'))
        }
        '👧' => i > 0 && chars[i - 1] == '\u{200D}',
        _ => true,
    })
}

/// Each line has an even number of each WhatsApp marker.
fn whatsapp_markers_paired(s: &str) -> bool {
    s.lines().all(|line| {
        ['*', '_', '~', '`']
            .iter()
            .all(|m| line.matches(*m).count() % 2 == 0)
    })
}

fn check(out: &Formatted, formatting: Formatting) -> Result<(), String> {
    match formatting {
        Formatting::TelegramHtml => check_markup(&out.text, &TELEGRAM)?,
        Formatting::Html | Formatting::MatrixHtml => {
            check_markup(out.html.as_deref().ok_or("no html")?, &MATRIX)?
        }
        Formatting::WhatsApp if !whatsapp_markers_paired(&out.text) => {
            return Err("unpaired markers".into())
        }
        _ => {}
    }
    let all = format!("{}{}", out.text, out.html.as_deref().unwrap_or(""));
    if !graphemes_intact(&all) {
        return Err("grapheme split".into());
    }
    Ok(())
}

fn len(s: &str) -> usize {
    s.chars().count()
}

fn hostile_body() -> String {
    let para = format!(
        "**Fett** und *kursiv* ~~weg~~ `co<de>` mit [Link](https://e.example/?a=1&b=\"2\") \
         <script>alert(1)</script> &amp; </b> <a href=\"javascript:alert(1)\">x</a> \
         [js](javascript:alert(1)) {FAMILY}{FAMILY} e\u{301}e\u{301} 2*3*4 snake_case ~x~ \
         ```tick``` und ein sehr langes Donaudampfschifffahrtsgesellschaftswort.\n\n\
         - Punkt *eins* mit [mail](mailto:amt@stadt.example)\n- Punkt **zwei**\n\n\
         > Zitat mit <i>Tag</i>\n\n"
    );
    para.repeat(6)
}

#[test]
fn plain_layout() {
    let p = Parts {
        urgent_label: Some("Eilmeldung"),
        ..parts(
            "Straße gesperrt",
            "**Achtung:** Die Straße ist *gesperrt*.\n\n- A\n- [Karte](https://k.example)",
        )
    };
    let out = format(&p, Formatting::Plain, None);
    assert_eq!(
        out.text,
        format!(
            "Eilmeldung: Straße gesperrt\n\nAchtung: Die Straße ist gesperrt.\n\n\
             • A\n• Karte (https://k.example)\n\n{EVENT}\n\n{LINK}\n\n{FOOTER}"
        )
    );
    assert_eq!(out.html, None);
}

#[test]
fn telegram_layout() {
    let out = format(
        &parts(
            "A & B <C>",
            "**fett** *kursiv* ~~weg~~ `x<y`\n\n1. eins\n2. [zwei](https://z.example/?a=1&b=\"2\")\n\n> zitat",
        ),
        Formatting::TelegramHtml,
        None,
    );
    assert_eq!(
        out.text,
        format!(
            "<b>A &amp; B &lt;C&gt;</b>\n\n<b>fett</b> <i>kursiv</i> <s>weg</s> <code>x&lt;y</code>\n\n\
             1. eins\n2. <a href=\"https://z.example/?a=1&amp;b=&quot;2&quot;\">zwei</a>\n\n\
             <blockquote>zitat</blockquote>\n\n{EVENT}\n\n{LINK}\n\n<i>{FOOTER}</i>"
        )
    );
    assert_eq!(out.html, None);
    check(&out, Formatting::TelegramHtml).unwrap();
}

#[test]
fn matrix_layout() {
    let out = format(
        &parts(
            "A & B",
            "**fett** *kursiv*\nzweite Zeile\n\n- eins\n- [zwei](https://z.example/?a=1&b=2)\n\n3. drei",
        ),
        Formatting::MatrixHtml,
        None,
    );
    assert_eq!(
        out.html.as_deref(),
        Some(
            "<p><strong>A &amp; B</strong></p><p><strong>fett</strong> <em>kursiv</em><br>zweite Zeile</p>\
             <ul><li>eins</li><li><a href=\"https://z.example/?a=1&amp;b=2\">zwei</a></li></ul>\
             <ol start=\"3\"><li>drei</li></ol>\
             <p>Wann: Mo, 3. März, 8:00 · Wo: Rathaus</p>\
             <p><a href=\"https://stadt.example/a/42-sperrung\">https://stadt.example/a/42-sperrung</a></p>\
             <p><em>Informationsdienst; Amtliches auf dem amtlichen Weg.<br>Stadt Beispiel</em></p>"
        )
    );
    assert_eq!(
        out.text,
        format!(
            "A & B\n\nfett kursiv\nzweite Zeile\n\n• eins\n• zwei (https://z.example/?a=1&b=2)\n\n\
             3. drei\n\n{EVENT}\n\n{LINK}\n\n{FOOTER}"
        )
    );
    // E-mail gets the same plain alternative and fragment.
    assert_eq!(
        format(&parts("A & B", "x"), Formatting::Html, None),
        format(&parts("A & B", "x"), Formatting::MatrixHtml, None)
    );
}

#[test]
fn whatsapp_layout() {
    let out = format(
        &parts(
            "Straße gesperrt",
            "**fett** *kursiv* ~~weg~~ **zwei\nZeilen**\n\n- [Karte](https://k.example/a_b)",
        ),
        Formatting::WhatsApp,
        None,
    );
    assert_eq!(
        out.text,
        format!(
            "*Straße gesperrt*\n\n*fett* _kursiv_ ~weg~ *zwei*\n*Zeilen*\n\n\
             • Karte (https://k.example/a%5Fb)\n\n{EVENT}\n\n{LINK}\n\n\
             _Informationsdienst; Amtliches auf dem amtlichen Weg._\n_Stadt Beispiel_"
        )
    );
    assert_eq!(out.html, None);
}

#[test]
fn hostile_html_is_escaped() {
    let title = "</b><script>alert(\"x\")</script> &amp; <a href=\"javascript:alert(1)\">";
    let body = hostile_body();
    for f in ALL {
        let out = format(&parts(title, &body), f, None);
        check(&out, f).unwrap_or_else(|e| panic!("{f:?}: {e}\n{out:?}"));
        let markup = match f {
            Formatting::TelegramHtml => Some(out.text.as_str()),
            Formatting::Html | Formatting::MatrixHtml => out.html.as_deref(),
            _ => None,
        };
        if let Some(m) = markup {
            assert!(!m.contains("<script"), "{f:?}: {m}");
            assert!(!m.contains("</b><"), "{f:?}: {m}");
            assert!(m.contains("&amp;amp;"), "{f:?}: {m}");
            assert!(m.contains("&lt;script&gt;"), "{f:?}: {m}");
        }
        // The unsafe link keeps its text only.
        assert!(out.text.contains("js "), "{f:?}");
        assert!(!out.text.contains("(javascript:"), "{f:?}");
    }
    // Plain text shows the title as typed.
    let plain = format(&parts(title, ""), Formatting::Plain, None);
    assert!(plain.text.starts_with(title));
}

#[test]
fn whatsapp_markup_in_user_text_is_inert() {
    let storm = "*_~`".repeat(20);
    let p = Parts {
        footer: "x_y *z*",
        event: Some("Wo: ~Markt~"),
        ..parts(
            &storm,
            "2 * 3 * 4 snake_case_name \\`\\`\\`x\\`\\`\\` \\*not bold\\* a\\~b\\_",
        )
    };
    let out = format(&p, Formatting::WhatsApp, None);
    let sanitized = "\u{2217}\u{02CD}\u{223C}\u{02CB}".repeat(20);
    assert_eq!(
        out.text,
        format!(
            "*{sanitized}*\n\n\
             2 ∗ 3 ∗ 4 snakeˍcaseˍname ˋˋˋxˋˋˋ ∗not bold∗ a∼bˍ\n\n\
             Wo: ∼Markt∼\n\n{LINK}\n\n_xˍy ∗z∗_"
        )
    );
    // Only our own markers remain.
    assert_eq!(out.text.matches('*').count(), 2);
    assert_eq!(out.text.matches('_').count(), 2);
    assert!(!out.text.contains(['~', '`']));
}

#[test]
fn whatsapp_urls_are_percent_encoded() {
    let out = format(
        &parts(
            "t",
            "[l_i](https://e.example/a_b*c~d) und https://e.example/x_y",
        ),
        Formatting::WhatsApp,
        None,
    );
    assert!(
        out.text
            .contains("lˍi (https://e.example/a%5Fb%2Ac%7Ed) und https://e.example/x%5Fy"),
        "{}",
        out.text
    );
}

#[test]
fn length_limit_holds_for_every_max() {
    let title = "Eilmeldung: </b> Sperrung *Markt*_straße_ & mehr";
    let body = hostile_body();
    for f in ALL {
        let full = format(&parts(title, &body), f, None);
        for max in 40..=600 {
            let out = format(&parts(title, &body), f, Some(max));
            assert!(len(&out.text) <= max, "{f:?} {max}: {}", out.text);
            if let Some(h) = &out.html {
                assert!(len(h) <= max, "{f:?} {max}: {h}");
            }
            check(&out, f).unwrap_or_else(|e| panic!("{f:?} {max}: {e}\n{out:?}"));
            assert_ne!(out, full, "{f:?} {max}");
            let link_room = match f {
                Formatting::Html | Formatting::MatrixHtml => 2 * len(LINK) + 30,
                _ => len(LINK),
            };
            if max >= link_room {
                assert!(out.text.contains(LINK), "{f:?} {max}: {}", out.text);
            }
            let body_room = match f {
                Formatting::Html | Formatting::MatrixHtml => 450,
                Formatting::TelegramHtml => 320,
                _ => 250,
            };
            if max >= body_room {
                assert!(out.text.contains("Weiterlesen: "), "{f:?} {max}");
                assert!(out.text.contains('…'), "{f:?} {max}");
                assert!(out.text.contains("Stadt Beispiel"), "{f:?} {max}");
                assert!(out.text.contains("Rathaus"), "{f:?} {max}");
            }
        }
    }
}

#[test]
fn longer_limits_keep_more() {
    let body = hostile_body();
    for f in ALL {
        let mut last = 0;
        for max in (100..=2000).step_by(50) {
            let out = format(&parts("Titel", &body), f, Some(max));
            let size = len(out.html.as_deref().unwrap_or(&out.text));
            assert!(size >= last, "{f:?} {max}: {size} < {last}");
            last = size;
        }
    }
}

#[test]
fn one_huge_word() {
    let word = "x".repeat(10_000);
    for f in ALL {
        let out = format(&parts("Titel", &word), f, Some(500));
        assert!(len(&out.text) <= 500 && out.html.as_deref().is_none_or(|h| len(h) <= 500));
        assert!(
            out.text.contains(&format!("xxx…\n\n{EVENT}")),
            "{f:?}: {}",
            out.text
        );
        assert!(out.text.contains(&format!("Weiterlesen: {LINK}")), "{f:?}");
        assert!(out.text.contains("Titel") && out.text.contains("Stadt Beispiel"));
        // The cut uses nearly all of the room.
        assert!(
            len(out.html.as_deref().unwrap_or(&out.text)) >= 490,
            "{f:?}"
        );
    }
}

#[test]
fn emoji_and_accents_at_the_cut() {
    let word = format!(
        "{}{}",
        "a".repeat(30),
        format!("{FAMILY}e\u{301}").repeat(60)
    );
    let spaced = format!("{FAMILY} e\u{301} ").repeat(60);
    for body in [&word, &spaced] {
        for f in ALL {
            for max in 150..=330 {
                let out = format(&parts("e\u{301}{FAMILY}", body), f, Some(max));
                assert!(len(&out.text) <= max);
                check(&out, f).unwrap_or_else(|e| panic!("{f:?} {max}: {e}\n{out:?}"));
            }
        }
    }
    // The title too.
    let title = format!("{FAMILY}e\u{301}").repeat(40);
    for f in ALL {
        for max in 20..=200 {
            let out = format(&parts(&title, "Text"), f, Some(max));
            assert!(len(&out.text) <= max);
            check(&out, f).unwrap_or_else(|e| panic!("{f:?} {max}: {e}\n{out:?}"));
        }
    }
}

#[test]
fn limit_smaller_than_the_link() {
    let body = hostile_body();
    for f in ALL {
        for max in [0, 1, 5, len(LINK) - 1] {
            let out = format(&parts("Titel mit Wörtern", &body), f, Some(max));
            assert!(len(&out.text) <= max, "{f:?} {max}");
            assert!(out.html.as_deref().is_none_or(|h| len(h) <= max));
            // Never a broken link.
            assert!(!out.text.contains("https"), "{f:?} {max}: {}", out.text);
            check(&out, f).unwrap_or_else(|e| panic!("{f:?} {max}: {e}\n{out:?}"));
        }
    }
    for f in [
        Formatting::Plain,
        Formatting::TelegramHtml,
        Formatting::WhatsApp,
    ] {
        let out = format(&parts("Titel", &body), f, Some(len(LINK)));
        assert_eq!(out.text, LINK, "{f:?}");
        let out = format(&parts("Titel", &body), f, Some(len(LINK) + 8));
        assert!(out.text.contains(LINK), "{f:?}");
    }
    assert_eq!(
        format(&parts("Titel", &body), Formatting::Plain, Some(5)).text,
        "Titel"
    );
}

#[test]
fn empty_body() {
    for f in ALL {
        let out = format(&parts("Titel", ""), f, None);
        assert!(out.text.contains(LINK) && !out.text.contains('…'), "{f:?}");
        assert!(!out.text.contains("Weiterlesen"), "{f:?}");
        let out = format(&parts("Titel", "  \n\n "), f, Some(90));
        assert!(len(&out.text) <= 90, "{f:?}");
    }
    let out = format(&parts("Titel", ""), Formatting::Plain, None);
    assert_eq!(out.text, format!("Titel\n\n{EVENT}\n\n{LINK}\n\n{FOOTER}"));
}

#[test]
fn long_title_is_shortened_after_the_body() {
    let title = "Sehr langer Titel ".repeat(20);
    let p = parts(&title, "Kurzer Text.");
    let out = format(&p, Formatting::Plain, Some(250));
    assert!(len(&out.text) <= 250);
    assert!(!out.text.contains("Kurzer"), "{}", out.text);
    assert!(out.text.starts_with("Sehr langer Titel"), "{}", out.text);
    assert!(
        out.text
            .contains(&format!("…\n\n{EVENT}\n\nWeiterlesen: {LINK}\n\n{FOOTER}")),
        "{}",
        out.text
    );
}

#[test]
fn urgent_label_before_the_title() {
    let p = Parts {
        urgent_label: Some("Eilmeldung"),
        ..parts("Hochwasser", "")
    };
    let tg = format(&p, Formatting::TelegramHtml, None);
    assert!(tg.text.starts_with("<b>Eilmeldung: Hochwasser</b>\n\n"));
    let wa = format(&p, Formatting::WhatsApp, None);
    assert!(wa.text.starts_with("*Eilmeldung: Hochwasser*\n\n"));
}

#[test]
fn no_stub_of_a_body() {
    let body = "Die **Hauptstraße** ist ab *Montag* wegen Bauarbeiten gesperrt. Die Umleitung \
                führt über die [Bahnhofstraße](https://k.example/umleitung).\n\n\
                - Busse fahren normal\n- Parken verboten";
    let p = Parts {
        urgent_label: Some("Eilmeldung"),
        ..parts("Hauptstraße gesperrt", body)
    };
    for f in ALL {
        for max in 40..=400 {
            let out = format(&p, f, Some(max));
            // The section after the title: the body or the event line.
            let after_title = out.text.split("\n\n").nth(1).unwrap_or("");
            assert!(
                !after_title.ends_with('…') || len(after_title) > 10,
                "{f:?} {max}: {}",
                out.text
            );
        }
    }
}

#[test]
fn limits_count_utf16_units_as_telegram_does() {
    // Each family emoji is 8 UTF-16 units but 5 characters (three emoji
    // and two joiners); a body of them must fit Telegram's 4096 units.
    let body = format!("{FAMILY} ").repeat(1000);
    for f in ALL {
        let out = format(&parts("Titel", &body), f, Some(4096));
        assert!(out.text.encode_utf16().count() <= 4096, "{f:?}");
        if let Some(html) = &out.html {
            assert!(html.encode_utf16().count() <= 4096, "{f:?}");
        }
        assert!(out.text.contains("https://"), "{f:?}: the link survives");
    }
}
