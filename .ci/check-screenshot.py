#!/usr/bin/env python3
"""Fails (exit 1) when a screenshot of simulate's HTML report is blank or broken: reads the PNG
with the standard library only (zlib and the five PNG filters) and checks that the page has text
and tables at the top and the four plots' colours below (the bars' blue and orange, the lines)."""
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        sys.exit(f"{path}: an 8-bit RGB(A) PNG without interlacing was expected")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        previous = line
    return width, height, rows

def main(path):
    width, height, rows = read_png(path)
    if width < 800 or height < 1500:
        sys.exit(f"{path}: {width}x{height} is smaller than the page")
    pixels = [p for row in rows for p in row]
    ink = sum(1 for p in pixels if p != (255, 255, 255))
    colours = len(set(pixels))
    def near(target):
        return sum(1 for p in pixels if all(abs(a - b) < 40 for a, b in zip(p, target)))
    top = rows[: height // 5]
    top_ink = sum(1 for row in top for p in row if p != (255, 255, 255))
    # The bars are drawn at 80% and 85% opacity on white.
    blue = max(near((31, 119, 180)), near((76, 146, 195)))
    orange = max(near((255, 127, 14)), near((255, 146, 50)))
    problems = []
    if ink < 0.03 * len(pixels):
        problems.append(f"only {ink} of {len(pixels)} pixels are not white: a blank page")
    if colours < 50:
        problems.append(f"only {colours} colours: no plots or text")
    if top_ink < 0.02 * width * len(top):
        problems.append("the top of the page (title, figures, tables) is empty")
    if blue < 2000:
        problems.append(f"{blue} pixels of the plots' blue: the bars of first touches are missing")
    if orange < 1000:
        problems.append(f"{orange} pixels of the plots' orange: escalations per day are missing")
    if problems:
        sys.exit(f"{path}: " + "; ".join(problems))
    print(f"{path}: {width}x{height}, {colours} colours, {100 * ink // len(pixels)}% ink, "
          f"plots drawn ({blue} blue and {orange} orange pixels)")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/report-screenshot/simulate-report.png")
