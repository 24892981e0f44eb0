"""Small real images for tests that show evidence."""

from __future__ import annotations

import base64
import struct
import zlib


def tiny_png(width: int = 1, height: int = 1) -> str:
    """A red PNG of ``width`` x ``height`` pixels, base64 (as display data holds images)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = (b"\x00" + b"\xff\x00\x00" * width) * height
    raw = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + raw).decode()
