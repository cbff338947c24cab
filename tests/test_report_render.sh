#!/bin/sh
# test_report_render.sh - report.html opens in headless Chromium from disk with no
# network, logs no console error, and a screenshot shows charts: enough strongly
# coloured pixels (the curves) in the picture. Prints "ok NAME" or "FAIL NAME".
BUILD="${BUILD:-build}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROMIUM" ]; then
    echo "FAIL report_render: chromium is not installed (scripts/deps.sh test installs it)"
    exit 0
fi
"$BUILD/descent" sweep --data data/banknotes.csv --target class --layers "dense(1, sigmoid)" \
    --epochs 5 --batch-size 16 --repeats 4 --validation-split 0.2 \
    --vary kernel_initializer=zeros,normal,he_normal --out "$T/r" --quiet >/dev/null 2>&1
cd "$T/r" || exit 0
# --disable-background-networking and friends: no connection attempts of Chromium's own;
# the page itself must need none
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$T/profile" --enable-logging=stderr --v=0 --window-size=1280,2600 \
    --screenshot="$T/shot.png" "file://$T/r/report.html" >"$T/log.txt" 2>&1
if [ ! -s "$T/shot.png" ]; then
    echo "FAIL report_render: no screenshot: $(tail -3 "$T/log.txt")"
    exit 0
fi
if grep -E 'CONSOLE|Uncaught|net::ERR' "$T/log.txt" >"$T/console.txt"; then
    echo "FAIL report_render_console: $(head -3 "$T/console.txt")"
else
    echo "ok report_render_console"
fi
"$PY" - "$T/shot.png" <<'PYEOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colored = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if max(r, g, bl) - min(r, g, bl) > 80:
            colored += 1
    prev = line
frac = colored / (w * h)
# the four charts' curves, measured at about 17000 pixels; legend swatches and links
# alone make a few hundred
if colored > 6000:
    print("ok report_render_charts")
    print("  %d strongly coloured pixels (%.4f of the page)" % (colored, frac))
else:
    print("FAIL report_render_charts: only %.4f of the pixels are coloured" % frac)
PYEOF
exit 0
