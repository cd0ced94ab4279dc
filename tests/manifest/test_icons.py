"""The icons Teams shows: sizes and colour types it requires, and reproducible from manifest/icons.py."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from manifest.build import ACCENT_COLOR
from manifest.icons import colour_icon, outline_icon, write_icons

HERE = Path(__file__).resolve().parents[2] / "manifest"


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    colour_type: int
    pixels: list[tuple[int, ...]]  # row by row


def read_png(data: bytes) -> Image:
    """A small PNG decoder (8-bit RGB or RGBA, unfiltered rows), independent of the writer under test."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        position += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and interlace == 0 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    pixels = []
    for y in range(height):
        row = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        assert row[0] == 0, "row filters other than None are not decoded here (manifest/icons.py writes none)"
        pixels += [tuple(row[x:x + channels]) for x in range(1, stride + 1, channels)]
    return Image(width, height, colour_type, pixels)


def test_the_colour_icon_is_192_by_192_and_has_the_white_symbol_on_the_accent_colour() -> None:
    image = read_png((HERE / "color.png").read_bytes())
    assert (image.width, image.height, image.colour_type) == (192, 192, 2)
    assert "#{:02X}{:02X}{:02X}".format(*image.pixels[0]) == ACCENT_COLOR  # the manifest's, edge to edge
    assert image.pixels[96 * 192 + 60] == (255, 255, 255)  # inside the bubble
    assert len(set(image.pixels)) > 2  # edges are smoothed, not jagged


def test_the_outline_icon_is_32_by_32_white_on_transparent() -> None:
    image = read_png((HERE / "outline.png").read_bytes())
    assert (image.width, image.height, image.colour_type) == (32, 32, 6)
    not_white = [p for p in image.pixels if p[3] > 0 and p[:3] != (255, 255, 255)]
    assert not_white == []
    alphas = [p[3] for p in image.pixels]
    assert alphas.count(0) > 100 and alphas.count(255) > 100
    assert image.pixels[0][3] == 0 and image.pixels[-1][3] == 0  # corners are background


def test_the_committed_icons_are_exactly_what_icons_py_draws(tmp_path: Path) -> None:
    assert colour_icon() == (HERE / "color.png").read_bytes()
    assert outline_icon() == (HERE / "outline.png").read_bytes()
    write_icons(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["color.png", "outline.png"]
    assert (tmp_path / "color.png").read_bytes() == (HERE / "color.png").read_bytes()
