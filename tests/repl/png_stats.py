#!/usr/bin/env python3
"""png_stats.py PNG X0 Y0 X1 Y1 — counts the pixels of an 8-bit RGB/RGBA PNG (no
interlace) by colour class inside the box [X0, X1) x [Y0, Y1): 'blue' (#1f77b4), 'red'
(#d62728), 'dark' (text and axes: all channels < 110) and 'white'. Prints `name count` lines.
Used by chart_test.sh to check a chart rendered by headless Chromium; the standard library only."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat, w = 8, b'', None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unsupported PNG'
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def main():
    path, x0, y0, x1, y1 = sys.argv[1], *map(int, sys.argv[2:6])
    w, h, bpp, rows = read_png(path)
    counts = {'blue': 0, 'red': 0, 'dark': 0, 'white': 0}
    for y in range(max(0, y0), min(h, y1)):
        row = rows[y]
        for x in range(max(0, x0), min(w, x1)):
            r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
            if abs(r - 0x1f) < 40 and abs(g - 0x77) < 40 and abs(b - 0xb4) < 40:
                counts['blue'] += 1
            elif abs(r - 0xd6) < 40 and abs(g - 0x27) < 40 and abs(b - 0x28) < 40:
                counts['red'] += 1
            elif r < 110 and g < 110 and b < 110:
                counts['dark'] += 1
            elif r > 245 and g > 245 and b > 245:
                counts['white'] += 1
    print('size %d %d' % (w, h))
    for k, v in counts.items():
        print(k, v)


if __name__ == '__main__':
    main()
