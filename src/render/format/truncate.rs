//! Where text may be cut: at a word boundary when that keeps at least half,
//! otherwise at a character boundary that does not split a (heuristic)
//! grapheme cluster. Cuts work on the intermediate form, before any
//! escaping, so a serialized result is never cut inside an entity or tag.

use super::ir::{Block, Span};

/// Appended where text was cut.
pub(super) const ELLIPSIS: &str = "…";

/// Characters that attach to the one before them: combining marks, variation
/// selectors, zero-width (non-)joiners, emoji skin tones and tag characters.
/// A heuristic instead of full UAX #29 segmentation; enough to keep accents
/// on their letters and emoji sequences whole.
fn attaches_to_previous(c: char) -> bool {
    matches!(
        c as u32,
        0x0300..=0x036F
            | 0x0483..=0x0489
            | 0x0591..=0x05BD
            | 0x0610..=0x061A
            | 0x064B..=0x065F
            | 0x0900..=0x0903
            | 0x093A..=0x094F
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x200C..=0x200D
            | 0x20D0..=0x20FF
            | 0x3099..=0x309A
            | 0xFE00..=0xFE0F
            | 0xFE20..=0xFE2F
            | 0x1F3FB..=0x1F3FF
            | 0xE0020..=0xE007F
            | 0xE0100..=0xE01EF
    )
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

/// Whether cutting before `chars[p]` keeps grapheme clusters whole.
pub(super) fn grapheme_boundary(chars: &[char], p: usize) -> bool {
    if p == 0 || p >= chars.len() {
        return true;
    }
    let (before, after) = (chars[p - 1], chars[p]);
    if attaches_to_previous(after) || before == '\u{200D}' {
        return false;
    }
    if is_regional_indicator(before) && is_regional_indicator(after) {
        // Flags are pairs: cut only after an even number of indicators.
        let run = chars[..p]
            .iter()
            .rev()
            .take_while(|c| is_regional_indicator(**c))
            .count();
        return run % 2 == 0;
    }
    true
}

/// The cut position for keeping at most `keep` of `chars`: the last word
/// boundary if it keeps at least half of `keep`, else the last grapheme
/// boundary (a word longer than the room is cut inside). `hard` lists extra
/// boundaries (ends of blocks). Never more than `keep`; monotonic in `keep`.
pub(super) fn cut_position(chars: &[char], hard: &[usize], keep: usize) -> usize {
    let n = chars.len();
    if keep >= n {
        return n;
    }
    let word_boundary = |p: usize| {
        p == 0
            || hard.binary_search(&p).is_ok()
            || ((chars[p].is_whitespace() || chars[p - 1].is_whitespace())
                && grapheme_boundary(chars, p))
    };
    let half = keep.div_ceil(2);
    if let Some(p) = (half..=keep).rev().find(|p| *p > 0 && word_boundary(*p)) {
        return p;
    }
    (0..=keep)
        .rev()
        .find(|p| grapheme_boundary(chars, *p))
        .unwrap_or(0)
}

/// `text` cut to at most `keep` characters (plus the ellipsis), or `None`
/// if nothing would be left.
pub(super) fn cut_text(text: &str, keep: usize) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let p = cut_position(&chars, &[], keep);
    let kept: String = chars[..p].iter().collect();
    let kept = kept.trim_end();
    if kept.is_empty() {
        return None;
    }
    Some(format!("{kept}{ELLIPSIS}"))
}

/// The visible characters of a body, for choosing cut positions.
pub(super) struct BodyIndex {
    chars: Vec<char>,
    block_ends: Vec<usize>,
}

impl BodyIndex {
    pub fn new(blocks: &[Block]) -> Self {
        let mut chars = Vec::new();
        let mut block_ends = Vec::new();
        for block in blocks {
            for span in &block.spans {
                chars.extend(span.text.chars());
            }
            block_ends.push(chars.len());
        }
        Self { chars, block_ends }
    }

    /// Number of visible characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// The body cut to at most `keep` visible characters, ending in the
    /// ellipsis, or `None` if nothing would be left.
    pub fn cut(&self, blocks: &[Block], keep: usize) -> Option<Vec<Block>> {
        let mut left = cut_position(&self.chars, &self.block_ends, keep);
        let mut out: Vec<Block> = Vec::new();
        for block in blocks {
            if left == 0 {
                break;
            }
            let mut spans = Vec::new();
            for span in &block.spans {
                if left == 0 {
                    break;
                }
                let len = span.text.chars().count();
                let take = len.min(left);
                spans.push(Span {
                    text: span.text.chars().take(take).collect(),
                    style: span.style,
                    link: span.link.clone(),
                });
                left -= take;
            }
            out.push(Block {
                kind: block.kind,
                spans,
            });
        }
        while let Some(last) = out.last_mut() {
            last.trim();
            if last.spans.is_empty() {
                out.pop();
            } else {
                last.spans.push(Span::plain(ELLIPSIS));
                return Some(out);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::ir::parse;
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn cuts_at_words_when_reasonable() {
        assert_eq!(cut_text("eins zwei drei", 9).as_deref(), Some("eins zwei…"));
        assert_eq!(
            cut_text("eins zwei drei", 12).as_deref(),
            Some("eins zwei…")
        );
        // A long word is cut inside rather than losing most of the room.
        assert_eq!(
            cut_text("ab Donaudampfschiff", 10).as_deref(),
            Some("ab Donauda…")
        );
        assert_eq!(cut_text("   ", 1), None);
        assert_eq!(cut_text("abc", 0), None);
    }

    #[test]
    fn never_splits_graphemes() {
        let family = "👩\u{200D}👩\u{200D}👧";
        let text = format!("x{family}e\u{301}🇩🇪🇦🇹");
        let c = chars(&text);
        for keep in 0..=c.len() {
            let p = cut_position(&c, &[], keep);
            assert!(p <= keep);
            assert!(grapheme_boundary(&c, p), "keep {keep} -> {p}");
            assert!([0, 1, 6, 8, 10, 12].contains(&p), "keep {keep} -> {p}");
        }
    }

    #[test]
    fn cut_position_is_monotonic() {
        let c = chars("Die Straße 👩\u{200D}👧 ist ab Montag gesperrt, Umleitungxxxxxxxxxxxxxxxxxxxxx e\u{301}");
        let mut last = 0;
        for keep in 0..=c.len() + 3 {
            let p = cut_position(&c, &[], keep);
            assert!(p >= last && p <= keep, "keep {keep}: {p} < {last}");
            last = p;
        }
    }

    #[test]
    fn body_cut_keeps_styles_and_adds_ellipsis() {
        let blocks = parse("**fett und** lang\n\n- zwei");
        let index = BodyIndex::new(&blocks);
        assert_eq!(index.len(), 17);
        let cut = index.cut(&blocks, 6).unwrap_or_default();
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].text(), "fett…");
        assert!(cut[0].spans[0].style.bold);
        assert!(!cut[0].spans[1].style.bold);
        // Exactly at the end of a block.
        let cut = index.cut(&blocks, 14).unwrap_or_default();
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].text(), "fett und lang…");
        assert!(index.cut(&blocks, 0).is_none());
    }
}
