//! The image metadata stripper: any file through format recognition and
//! `strip` (JPEG incl. the tail walker, PNG, WebP), through
//! `prepare_photo` (residents' photos) and `media::prepare` (staff
//! uploads). A stripped file is recognised as the same format and
//! stripping it again changes nothing (nothing strippable was left).
#![no_main]

use herold::config::MediaConfig;
use herold::fuzzing::{sniff_image, strip_image};
use herold::media::{prepare, prepare_photo};
use libfuzzer_sys::fuzz_target;

const MAX: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = prepare_photo(data.to_vec(), MAX);
    let _ = prepare(
        "fuzz.jpg",
        data.to_vec(),
        "Ein Bild",
        &MediaConfig {
            max_image_bytes: MAX,
        },
    );
    let Ok(format) = sniff_image(data) else {
        return;
    };
    if let Ok(out) = strip_image(format, data.to_vec()) {
        assert_eq!(
            sniff_image(&out),
            Ok(format),
            "the stripped file changed format"
        );
        let again = strip_image(format, out.clone())
            .unwrap_or_else(|e| panic!("a stripped {format:?} is refused: {e}"));
        assert!(again == out, "stripping a stripped {format:?} changes it");
    }
});
