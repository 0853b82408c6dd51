#!/usr/bin/env python3
"""Independent check of an image with Pillow.

Usage: image_pixels.py FILE

Decodes the image fully and prints a JSON summary: format, size, mode, a
SHA-256 of the decoded pixels, and which metadata Pillow finds (EXIF tags,
the GPS block, and the keys of Pillow's info: XMP, text chunks, comments). Exits 1 if it cannot decode.
"""
import hashlib
import json
import sys

from PIL import Image


def main() -> int:
    with Image.open(sys.argv[1]) as img:
        img.load()
        exif = img.getexif()
        gps = exif.get_ifd(0x8825) if exif else {}
        print(json.dumps({
            "format": img.format,
            "size": list(img.size),
            "mode": img.mode,
            "pixels": hashlib.sha256(img.tobytes()).hexdigest(),
            "exif_tags": len(exif),
            "gps_tags": len(gps),
            "info": sorted(img.info),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
