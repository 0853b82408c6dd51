//! Metadata removal without re-encoding: the pixel data stays byte for byte
//! as it was; only containers' metadata parts are dropped. Each format keeps
//! an allow-list (what decoding and colour need), so metadata kinds nobody
//! thought of are dropped too.

use img_parts::{
    jpeg::{markers, Jpeg, JpegSegment},
    png::Png,
    webp::{
        WebP, CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP, CHUNK_VP8, CHUNK_VP8L, CHUNK_VP8X,
    },
    Bytes, ImageEXIF,
};

use super::jpeg_tail;
use crate::domain::ImageFormat;

/// `bytes` of `format` without metadata; `Err` says why the file cannot be
/// taken apart.
pub(super) fn strip(format: ImageFormat, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let bytes = Bytes::from(bytes);
    let out = match format {
        ImageFormat::Jpeg => jpeg(bytes)?,
        ImageFormat::Png => png(bytes)?,
        ImageFormat::Webp => webp(bytes)?,
    };
    Ok(out.to_vec())
}

fn parse_error(e: img_parts::Error) -> String {
    match e {
        img_parts::Error::WrongSignature => "wrong signature".into(),
        img_parts::Error::BadCRC => "a chunk's checksum is wrong".into(),
        img_parts::Error::Truncated => "the file is truncated".into(),
    }
}

/// JPEG: APPn segments other than JFIF (without thumbnail), ICC profile and
/// Adobe colour info are dropped — that is EXIF (with GPS and thumbnails),
/// XMP, Photoshop/IPTC, MPF — and so are comments. After the first scan
/// starts, `jpeg_tail` does the same for the rest of the file.
fn jpeg(bytes: Bytes) -> Result<Bytes, String> {
    let mut jpeg = Jpeg::from_bytes(bytes).map_err(parse_error)?;
    jpeg.segments_mut()
        .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
    for s in jpeg.segments_mut().iter_mut() {
        if s.marker() == markers::APP0 {
            *s =
                JpegSegment::new_with_contents(markers::APP0, without_jfif_thumbnail(s.contents()));
        }
    }
    let Some(sos) = jpeg.segments_mut().last_mut().filter(|s| s.has_entropy()) else {
        return Err("no image data".into());
    };
    // img-parts exposes the data after the scan header only through the
    // encoder: marker (2 bytes), length (2), header contents, then the rest.
    let encoded = sos.clone().encoder().bytes();
    let tail = jpeg_tail::clean(&encoded[4 + sos.contents().len()..])?;
    *sos = JpegSegment::new_with_entropy(sos.marker(), sos.contents().clone(), tail);
    if jpeg.dimensions().is_none() {
        return Err("no frame header".into());
    }
    Ok(jpeg.encoder().bytes())
}

/// Whether a JPEG segment before the first scan is kept.
pub(super) fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        markers::APP0 => contents.starts_with(b"JFIF\0"),
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::COM => false,
        m if (markers::APP0..=markers::APP15).contains(&m) => false,
        _ => true,
    }
}

/// A JFIF header may carry a thumbnail — of the uncropped original, if the
/// photo was cropped. Keeps the 14-byte header with a 0×0 thumbnail.
fn without_jfif_thumbnail(contents: &Bytes) -> Bytes {
    if contents.len() <= 14 {
        return contents.clone();
    }
    let mut header = contents[..14].to_vec();
    header[12] = 0;
    header[13] = 0;
    Bytes::from(header)
}

/// PNG: critical chunks and the ancillary chunks decoders need for
/// transparency, colour, pixel size and animation; text chunks (including
/// XMP in iTXt), eXIf, tIME and private chunks are dropped, and so is
/// anything after IEND.
fn png(bytes: Bytes) -> Result<Bytes, String> {
    const KEEP: [&[u8; 4]; 13] = [
        b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLI", b"bKGD",
        b"pHYs", b"acTL", b"fcTL",
    ];
    let mut png = Png::from_bytes(bytes).map_err(parse_error)?;
    png.chunks_mut().retain(|c| {
        let kind = c.kind();
        let critical = kind[0].is_ascii_uppercase();
        critical || &kind == b"fdAT" || KEEP.contains(&&kind)
    });
    if png.dimensions().is_none() || png.chunk_by_type(*b"IEND").is_none() {
        return Err("no header or end chunk".into());
    }
    Ok(png.encoder().bytes())
}

/// WebP: image data, alpha, animation and ICC profile; EXIF, XMP and
/// unknown chunks are dropped.
fn webp(bytes: Bytes) -> Result<Bytes, String> {
    const KEEP: [[u8; 4]; 7] = [
        CHUNK_VP8X, CHUNK_VP8, CHUNK_VP8L, CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP,
    ];
    let mut webp = WebP::from_bytes(bytes).map_err(parse_error)?;
    webp.chunks_mut().retain(|c| KEEP.contains(&c.id()));
    if ![CHUNK_VP8, CHUNK_VP8L, CHUNK_ANMF]
        .iter()
        .any(|id| webp.has_chunk(*id))
    {
        return Err("no image data".into());
    }
    // Lets img-parts bring the VP8X header in line (ICC and EXIF flags, or
    // no VP8X at all when only image data is left).
    webp.set_exif(None);
    // img-parts keeps the XMP flag as it was; clear it by hand, as the XMP
    // chunk is gone (a decoder must not look for it).
    const XMP_FLAG: u8 = 0b0000_0100;
    if let Some(vp8x) = webp.chunks_mut().iter_mut().find(|c| c.id() == CHUNK_VP8X) {
        if let img_parts::riff::RiffContent::Data(data) = vp8x.content_mut() {
            if let Some(flags) = data.first().copied() {
                let mut d = data.to_vec();
                d[0] = flags & !XMP_FLAG;
                *data = Bytes::from(d);
            }
        }
    }
    Ok(webp.encoder().bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_segments_allow_list() {
        assert!(keep_jpeg_segment(markers::APP0, b"JFIF\0\x01\x01"));
        assert!(!keep_jpeg_segment(markers::APP0, b"JFXX\0\x10"));
        assert!(!keep_jpeg_segment(markers::APP1, b"Exif\0\0MM"));
        assert!(!keep_jpeg_segment(
            markers::APP1,
            b"http://ns.adobe.com/xap/1.0/\0"
        ));
        assert!(keep_jpeg_segment(markers::APP2, b"ICC_PROFILE\0\x01\x01"));
        assert!(!keep_jpeg_segment(markers::APP2, b"MPF\0"));
        assert!(!keep_jpeg_segment(markers::APP13, b"Photoshop 3.0\0"));
        assert!(keep_jpeg_segment(markers::APP14, b"Adobe\0"));
        assert!(!keep_jpeg_segment(markers::COM, b"Kamera"));
        assert!(keep_jpeg_segment(markers::DQT, b""));
        assert!(keep_jpeg_segment(markers::DHT, b""));
    }

    #[test]
    fn jfif_thumbnail_is_dropped() {
        let mut app0 = b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x02\x01".to_vec();
        app0.extend_from_slice(&[0xAB; 6]);
        let out = without_jfif_thumbnail(&Bytes::from(app0));
        assert_eq!(&out[..], b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00");
    }

    /// A RIFF/WebP file of the given chunks.
    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (id, data) in chunks {
            body.extend_from_slice(*id);
            body.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn webp_keeps_colour_and_drops_metadata_and_their_flags() {
        const VP8: &[u8] = b"\x50\x5a\x00\x9d\x01\x2a\x01\x00\x01\x00";
        // VP8X flags: ICC, EXIF and XMP; a 2×2 canvas.
        let vp8x = [0x2C, 0, 0, 0, 1, 0, 0, 1, 0, 0];
        let input = riff(&[
            (b"VP8X", &vp8x),
            (b"ICCP", b"icc"),
            (b"VP8 ", VP8),
            (b"EXIF", b"Exif\0\0GPS"),
            (b"XMP ", b"<x:xmpmeta/>"),
            (b"ABCD", b"unknown"),
        ]);
        let out = strip(ImageFormat::Webp, input).unwrap();
        let expected_vp8x = [0x20, 0, 0, 0, 1, 0, 0, 1, 0, 0];
        assert_eq!(
            out,
            riff(&[(b"VP8X", &expected_vp8x), (b"ICCP", b"icc"), (b"VP8 ", VP8)])
        );
        // Only image data left: the simple format, without VP8X.
        let input = riff(&[(b"VP8X", &vp8x), (b"VP8 ", VP8), (b"XMP ", b"x")]);
        assert_eq!(
            strip(ImageFormat::Webp, input).unwrap(),
            riff(&[(b"VP8 ", VP8)])
        );
    }

    #[test]
    fn damaged_files_are_refused() {
        assert!(strip(ImageFormat::Png, b"\x89PNG\r\n\x1a\n\0\0".to_vec()).is_err());
        assert!(strip(ImageFormat::Webp, b"RIFF\x04\0\0\0WEBP".to_vec()).is_err());
        // Header segments but no scan.
        assert!(strip(
            ImageFormat::Jpeg,
            b"\xFF\xD8\xFF\xFE\0\x04ab\xFF\xD9".to_vec()
        )
        .is_err());
    }
}
