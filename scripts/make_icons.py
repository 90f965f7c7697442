"""Draw the app icons (static/img/icon-*.png) from the logo's geometry, in plain Python.

The logo (static/img/logo.svg) is a rounded dark square with a green rising line; the icons
are the same drawing at the sizes home screens ask for, plus a "maskable" one whose line stays
inside the safe zone an Android launcher may crop to a circle. Run it again after changing the
logo: `python scripts/make_icons.py`.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "img"
BACKGROUND = (0x0F, 0x17, 0x2A)
LINE = (0x22, 0xC5, 0x5E)
# The logo's 32-unit path: M5 22 l7-8 5 5 10-11, stroke 3, round caps and joins.
POINTS = [(5, 22), (12, 14), (17, 19), (27, 8)]
STROKE = 3.0
CORNER = 7.0


def _segment_distance(px, py, ax, ay, bx, by) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _inside_rounded(px, py, size, radius) -> float:
    """Coverage (0..1) of a pixel centre in a rounded square of `size` units."""
    cx = min(max(px, radius), size - radius)
    cy = min(max(py, radius), size - radius)
    return max(0.0, min(1.0, radius - math.hypot(px - cx, py - cy) + 0.5))


def draw(pixels: int, *, maskable: bool = False) -> bytes:
    scale = pixels / 32.0
    # Maskable: a full-bleed background, the line shrunk into the central 80 % safe zone.
    shrink, offset = (0.7, 32 * 0.15) if maskable else (1.0, 0.0)
    points = [(offset + x * shrink, offset + y * shrink) for x, y in POINTS]
    half = STROKE * shrink / 2
    rows = []
    for j in range(pixels):
        row = bytearray([0])  # PNG filter: none
        y = (j + 0.5) / scale
        for i in range(pixels):
            x = (i + 0.5) / scale
            base = 1.0 if maskable else _inside_rounded(x, y, 32.0, CORNER)
            d = min(
                _segment_distance(x, y, *a, *b) for a, b in zip(points, points[1:], strict=False)
            )
            line = max(0.0, min(1.0, (half - d) * scale + 0.5))
            rgb = [round(bg + (fg - bg) * line) for bg, fg in zip(BACKGROUND, LINE, strict=True)]
            alpha = round(255 * max(base, line if base else 0.0))
            row.extend((*rgb, alpha))
        rows.append(bytes(row))
    return _png(pixels, pixels, b"".join(rows))


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),  # iOS rounds the corners itself
}


def main() -> None:
    for name, (pixels, maskable) in ICONS.items():
        (OUT / name).write_bytes(draw(pixels, maskable=maskable))
        print(f"wrote static/img/{name}")


if __name__ == "__main__":
    main()
