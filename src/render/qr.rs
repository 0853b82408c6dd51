//! QR codes for the subscribe page, drawn on the server as inline SVG
//! (the `qrcode` crate): a phone's camera opens the messenger link, and
//! the page needs no script or image request for it.

use qrcode::{render::svg, EcLevel, QrCode};

/// The QR code of `url` as an `<svg>` element, hidden from screen readers
/// (the link beside it says the same); `None` if the URL is too long for
/// a QR code.
pub fn svg(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    // Inline in HTML: no XML declaration; decorative for assistive tech.
    let start = image.find("<svg")?;
    Some(image[start..].replacen("<svg", "<svg aria-hidden=\"true\" focusable=\"false\"", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_svg_hidden_from_screen_readers() {
        let s = svg("https://wa.me/491712345678?text=Start").unwrap();
        assert!(s.starts_with("<svg aria-hidden=\"true\""), "{s}");
        assert!(s.contains("<path") || s.contains("<rect"), "{s}");
        assert!(!s.contains("<?xml"));
        // A URL longer than a QR code holds is refused, not truncated.
        assert!(svg(&"x".repeat(5000)).is_none());
    }
}
