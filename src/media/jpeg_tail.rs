//! The part of a JPEG after its first scan header.
//!
//! Written by hand because no crate strips it without re-encoding: img-parts
//! (like other container crates) parses segments only up to the first scan
//! and keeps the rest as opaque bytes. That rest may still hold metadata —
//! comment and APPn segments between the scans of a progressive JPEG, and
//! anything appended after the end-of-image marker (phones append second
//! pictures, depth or gain maps, motion-photo videos, each possibly with its
//! own EXIF). This walks the markers of the entropy-coded data, drops
//! metadata segments and everything after EOI, and copies the rest as is.

use img_parts::Bytes;

use super::strip::keep_jpeg_segment;

/// `data` (everything after the first SOS header) with metadata segments
/// and anything after EOI removed; `Err` if it ends before EOI.
pub(super) fn clean(data: &[u8]) -> Result<Bytes, String> {
    let truncated = || "the file is truncated (no end-of-image marker)".to_owned();
    let mut out = Vec::with_capacity(data.len());
    // Start of the bytes not yet copied (or dropped).
    let mut start = 0;
    // Where the fill bytes (0xFF) right before the marker at `i` start.
    // They go with a dropped segment: kept, they would join the bytes after
    // it into a marker that was not there (`FF` + `E1 …` is an APP1).
    let mut fill: Option<usize> = None;
    let mut i = 0;
    while i < data.len() {
        if data[i] != 0xFF {
            i += 1;
            fill = None;
            continue;
        }
        let Some(&marker) = data.get(i + 1) else {
            break;
        };
        match marker {
            // A stuffed 0xFF in entropy-coded data.
            0x00 => {
                i += 2;
                fill = None;
            }
            // A fill byte before a marker.
            0xFF => {
                fill.get_or_insert(i);
                i += 1;
            }
            // End of image: keep the marker, drop whatever follows.
            0xD9 => {
                out.extend_from_slice(&data[start..i + 2]);
                return Ok(Bytes::from(out));
            }
            // Segments with a length: tables, scan headers, APPn, COM.
            0xC0..=0xCF | 0xDA..=0xFE => {
                let len = data
                    .get(i + 2..i + 4)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                    .ok_or_else(truncated)?;
                if len < 2 {
                    return Err(format!(
                        "a segment of marker {marker:#04X} has length {len}"
                    ));
                }
                let end = i + 2 + len;
                let contents = data.get(i + 4..end).ok_or_else(truncated)?;
                if !keep_jpeg_segment(marker, contents) {
                    out.extend_from_slice(&data[start..fill.unwrap_or(i)]);
                    start = end;
                }
                i = end;
                fill = None;
            }
            // Restart markers and others without a length.
            _ => {
                i += 2;
                fill = None;
            }
        }
    }
    Err(truncated())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_scans_drops_metadata_and_trailer() {
        let mut tail = Vec::new();
        // Entropy data with a stuffed 0xFF and a restart marker.
        tail.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        // A comment and an EXIF segment between scans: dropped.
        tail.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x06, b'G', b'P', b'S', b'!']);
        tail.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0]);
        // A Huffman table and a second scan header: kept.
        let kept = [
            0xFF, 0xC4, 0x00, 0x03, 0xAA, 0xFF, 0xDA, 0x00, 0x03, 0xBB, 0x78,
        ];
        tail.extend_from_slice(&kept);
        tail.extend_from_slice(&[0xFF, 0xFF, 0xD9]);
        // Appended after EOI: a whole second JPEG with its own EXIF.
        tail.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0xFF, 0xD9, b'x']);

        let mut expected = vec![0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        expected.extend_from_slice(&kept);
        expected.extend_from_slice(&[0xFF, 0xFF, 0xD9]);
        assert_eq!(&clean(&tail).unwrap()[..], &expected[..]);
    }

    /// Found by fuzzing (`jpeg_tail`): fill bytes kept before a dropped
    /// comment joined the data after it into a new marker, here an APP1
    /// segment with EXIF that the input did not have.
    #[test]
    fn fill_bytes_go_with_a_dropped_segment() {
        let mut tail = vec![0x12, 0xFF, 0xFF];
        tail.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x04, b'h', b'i']);
        tail.extend_from_slice(&[0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0]);
        tail.extend_from_slice(&[0xFF, 0xD9]);
        let out = clean(&tail).unwrap();
        let mut expected = vec![0x12];
        expected.extend_from_slice(&[0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0]);
        expected.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(&clean(&out).unwrap()[..], &out[..]);
        // A kept segment ending in 0xFF keeps it.
        let kept = [0xFF, 0xC4, 0x00, 0x03, 0xFF];
        let mut tail = kept.to_vec();
        tail.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x02, 0x34, 0xFF, 0xD9]);
        let mut expected = kept.to_vec();
        expected.extend_from_slice(&[0x34, 0xFF, 0xD9]);
        assert_eq!(&clean(&tail).unwrap()[..], &expected[..]);
    }

    #[test]
    fn truncated_data_is_refused() {
        assert!(clean(&[0x12, 0x34]).is_err());
        assert!(clean(&[0x12, 0xFF]).is_err());
        assert!(clean(&[0xFF, 0xFE, 0x00, 0x10, b'a']).is_err());
        assert!(clean(&[0xFF, 0xFE, 0x00, 0x01, 0xFF, 0xD9]).is_err());
    }
}
