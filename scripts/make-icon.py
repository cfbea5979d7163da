"""Draw icon.png (128x128): a white shield with a check mark on a PyTorch-orange tile.

Standard library only (zlib + struct), 4x4 supersampling for smooth edges.
Run: python3 scripts/make-icon.py icon.png
"""

import struct
import sys
import zlib

SIZE, SS = 128, 4
ORANGE, WHITE = (238, 76, 44), (255, 255, 255)


def inside_tile(x, y):
    r, lo, hi = 24, 8, 120
    if not (lo <= x <= hi and lo <= y <= hi):
        return False
    cx = min(max(x, lo + r), hi - r)
    cy = min(max(y, lo + r), hi - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def inside_shield(x, y):
    if y < 22 or y > 108 or abs(x - 64) > 38:
        return False
    top = 22 + abs(x - 64) * 0.35  # gently peaked top
    if y < top:
        return False
    if y <= 66:
        return True
    # lower part narrows to a point at (64, 108)
    return abs(x - 64) <= 38 * (108 - y) / 42


def near_segment(x, y, a, b, width):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    px, py = ax + t * dx, ay + t * dy
    return (x - px) ** 2 + (y - py) ** 2 <= (width / 2) ** 2


def colour(x, y):
    if not inside_tile(x, y):
        return None
    if inside_shield(x, y):
        if near_segment(x, y, (46, 62), (59, 76), 10) or near_segment(x, y, (59, 76), (84, 46), 10):
            return ORANGE
        return WHITE
    return ORANGE


def main(path):
    rows = []
    for j in range(SIZE):
        row = bytearray([0])
        for i in range(SIZE):
            acc = [0, 0, 0, 0]
            for sj in range(SS):
                for si in range(SS):
                    c = colour(i + (si + 0.5) / SS, j + (sj + 0.5) / SS)
                    if c is not None:
                        acc[0] += c[0]
                        acc[1] += c[1]
                        acc[2] += c[2]
                        acc[3] += 1
            n = acc[3]
            if n:
                row += bytes([acc[0] // n, acc[1] // n, acc[2] // n, 255 * n // (SS * SS)])
            else:
                row += bytes(4)
        rows.append(bytes(row))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as out:
        out.write(png)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "icon.png")
