//! The hand-written JPEG tail walker: the bytes after a first scan header
//! (entropy-coded data, further tables, scans, APPn/COM segments, EOI and
//! whatever was appended). What it keeps ends with EOI, is no longer than
//! the input, and walks again to itself (nothing to drop was left or
//! formed by joining the kept pieces).
#![no_main]

use herold::fuzzing::jpeg_tail;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = jpeg_tail(data) {
        assert!(out.ends_with(&[0xFF, 0xD9]), "no EOI at the end");
        assert!(out.len() <= data.len());
        let again = jpeg_tail(&out).unwrap_or_else(|e| panic!("the kept tail is refused: {e}"));
        assert!(again == out, "walking the kept tail drops more");
    }
});
