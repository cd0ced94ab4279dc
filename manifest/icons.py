"""The app's two icons, drawn here so they are reproducible: `python -m manifest.icons` rewrites them.

A white speech bubble with an exclamation mark, "raise a concern": on the accent colour for the 192x192
colour icon, alone on a transparent background for the 32x32 outline icon (Teams wants white only there).
PNGs are written with zlib and struct, so the project needs no imaging library.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x1F, 0x5F, 0x7A)  # the manifest's accentColor, #1F5F7A: white on it has a contrast ratio above 7
SAMPLES = 4  # per pixel side: 16 samples smooth the edges

Shape = Callable[[float, float], bool]


def _rounded_rect(left: float, top: float, right: float, bottom: float, radius: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        if not (left <= x <= right and top <= y <= bottom):
            return False
        cx = min(max(x, left + radius), right - radius)
        cy = min(max(y, top + radius), bottom - radius)
        return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2

    return inside


def _triangle(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> Shape:
    def side(p: tuple[float, float], q: tuple[float, float], x: float, y: float) -> float:
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    def inside(x: float, y: float) -> bool:
        d1, d2, d3 = side(a, b, x, y), side(b, c, x, y), side(c, a, x, y)
        return (d1 >= 0 and d2 >= 0 and d3 >= 0) or (d1 <= 0 and d2 <= 0 and d3 <= 0)

    return inside


def _circle(cx: float, cy: float, radius: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _symbol(margin: float) -> Shape:
    """The bubble minus the exclamation mark, in a unit square with `margin` left around it."""
    def length(v: float) -> float:
        return v * (1 - 2 * margin)

    def at(v: float) -> float:
        return margin + length(v)

    body = _rounded_rect(at(0.0), at(0.0), at(1.0), at(0.74), length(0.18))
    tail = _triangle((at(0.16), at(0.6)), (at(0.44), at(0.6)), (at(0.1), at(1.0)))
    bar = _rounded_rect(at(0.43), at(0.1), at(0.57), at(0.45), length(0.07))
    dot = _circle(at(0.5), at(0.58), length(0.08))
    return lambda x, y: (body(x, y) or tail(x, y)) and not (bar(x, y) or dot(x, y))


def _coverage(shape: Shape, size: int) -> list[list[float]]:
    """For each pixel, the share of its area inside `shape` (0 to 1)."""
    step = 1 / (size * SAMPLES)
    offsets = [(i + 0.5) * step for i in range(SAMPLES)]
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            x0, y0 = px / size, py / size
            hits = sum(shape(x0 + dx, y0 + dy) for dy in offsets for dx in offsets)
            row.append(hits / SAMPLES**2)
        rows.append(row)
    return rows


def png(width: int, height: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG of 8-bit samples (colour type 2: RGB, 6: RGBA), no ancillary chunks, so the bytes depend only on
    the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def colour_icon() -> bytes:
    """192x192, opaque: the white symbol on the accent colour (Teams rounds the corners itself)."""
    size = 192
    rows = []
    for line in _coverage(_symbol(0.2), size):
        rows.append(bytes(round(base + (255 - base) * cover) for cover in line for base in ACCENT))
    return png(size, size, 2, rows)


def outline_icon() -> bytes:
    """32x32: white, with the symbol's coverage as alpha, on a transparent background."""
    size = 32
    rows = []
    for line in _coverage(_symbol(0.03), size):
        rows.append(b"".join(bytes((255, 255, 255, round(255 * cover))) for cover in line))
    return png(size, size, 6, rows)


def write_icons(folder: Path = HERE) -> None:
    (folder / "color.png").write_bytes(colour_icon())
    (folder / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":
    write_icons(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
