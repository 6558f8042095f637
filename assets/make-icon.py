"""Draws the whop-chat-mcp icon: a white chat bubble with three dots on an orange rounded square.

usage: python3 assets/make-icon.py   (writes assets/icon.png, 512x512, and assets/icon.svg)

Both files come from the same shapes below, so they stay alike. Only the standard library is
used (zlib for the PNG); edges are anti-aliased with signed distances.
"""

import math
import struct
import zlib
from pathlib import Path

SIZE = 512
ORANGE = (250, 70, 22)
WHITE = (255, 255, 255)
# (x0, y0, x1, y1, radius)
BACKGROUND = (0, 0, 512, 512, 112)
BUBBLE = (88, 112, 424, 352, 76)
# The bubble's tail, a triangle below its left side.
TAIL = [(136, 320), (248, 320), (128, 424)]
DOTS = [(176, 232, 30), (256, 232, 30), (336, 232, 30)]


def rounded_rect(px, py, rect):
    x0, y0, x1, y1, r = rect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 - r, (y1 - y0) / 2 - r
    qx, qy = abs(px - cx) - hx, abs(py - cy) - hy
    outside = math.hypot(max(qx, 0), max(qy, 0))
    return outside + min(max(qx, qy), 0) - r


def circle(px, py, c):
    x, y, r = c
    return math.hypot(px - x, py - y) - r


def polygon(px, py, points):
    d = float("inf")
    inside = False
    n = len(points)
    for i in range(n):
        (ax, ay), (bx, by) = points[i], points[(i + 1) % n]
        ex, ey = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey)))
        d = min(d, math.hypot(px - ax - t * ex, py - ay - t * ey))
        if (ay > py) != (by > py) and px < ax + (py - ay) * ex / ey:
            inside = not inside
    return -d if inside else d


def coverage(sd):
    return max(0.0, min(1.0, 0.5 - sd))


def over(dst, color, alpha):
    r, g, b, a = dst
    out_a = alpha + a * (1 - alpha)
    if out_a == 0:
        return (0, 0, 0, 0)
    mix = [(c * alpha + d * a * (1 - alpha)) / out_a for c, d in zip(color, (r, g, b))]
    return (*mix, out_a)


def pixel(x, y):
    px, py = x + 0.5, y + 0.5
    p = over((0, 0, 0, 0), ORANGE, coverage(rounded_rect(px, py, BACKGROUND)))
    bubble = min(rounded_rect(px, py, BUBBLE), polygon(px, py, TAIL))
    p = over(p, WHITE, coverage(bubble))
    p = over(p, ORANGE, coverage(min(circle(px, py, c) for c in DOTS)))
    r, g, b, a = p
    return (round(r), round(g), round(b), round(a * 255))


def png(rows):
    """An indexed PNG: the anti-aliased shapes use fewer than 256 colours, so a palette (with
    a tRNS chunk for alpha) stores them losslessly in a fraction of the RGBA size."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    counts = {}
    for row in rows:
        for p in row:
            counts[p] = counts.get(p, 0) + 1
    palette = sorted(counts, key=lambda p: -counts[p])
    assert len(palette) <= 256, f"{len(palette)} colours do not fit a palette"
    index = {p: i for i, p in enumerate(palette)}
    raw = bytearray()
    for row in rows:
        raw.append(0)
        raw.extend(index[p] for p in row)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", bytes(c for p in palette for c in p[:3]))
        + chunk(b"tRNS", bytes(p[3] for p in palette))
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def svg():
    hexa = lambda c: "#%02x%02x%02x" % c
    x0, y0, x1, y1, r = BACKGROUND
    bx0, by0, bx1, by1, br = BUBBLE
    tail = " ".join(f"{x},{y}" for x, y in TAIL)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="{r}"/>' for x, y, r in DOTS)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}">'
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="{r}" fill="{hexa(ORANGE)}"/>'
        f'<g fill="{hexa(WHITE)}"><rect x="{bx0}" y="{by0}" width="{bx1 - bx0}" height="{by1 - by0}" rx="{br}"/>'
        f'<polygon points="{tail}"/></g>'
        f'<g fill="{hexa(ORANGE)}">{dots}</g></svg>\n'
    )


def main():
    here = Path(__file__).resolve().parent
    rows = [[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]
    (here / "icon.png").write_bytes(png(rows))
    (here / "icon.svg").write_text(svg(), encoding="utf-8")


if __name__ == "__main__":
    main()
