#!/usr/bin/env bash
# Sends N (default 6) concurrent requests, each one small PNG that decodes
# to half a gigabyte (8000x8000 16-bit RGB, made here and never kept), to
# `cairn serve` running a tiny fingers model, and prints each answer, the
# wall time and the server's peak RSS (VmHWM) against its RSS when ready.
#
#   scripts/serve_image_load.sh [SERVE_BINARY]
#
# SERVE_BINARY (default: this tree's, built into bin/cairn) is the binary
# that serves, so an older build can be measured against the same model and
# request; this tree's binary trains the model. Extra `cairn serve` flags
# go in $SERVE_FLAGS, the concurrency in $N.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/cairn ./cmd/cairn
serve_bin=${1:-bin/cairn}
n=${N:-6}
work=$(mktemp -d)
server=""
serving=""
trap 'kill $server $serving 2>/dev/null || true; rm -rf "$work"' EXIT

bin/cairn server --data "$work/server" --addr 127.0.0.1:5078 --log-level warn &
server=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:5078/health >/dev/null && break; sleep 0.2; done
bin/cairn data synth fingers --out "$work/hands" --n 60 --size 32 >/dev/null
pkg=$(bin/cairn train fingers --data "$work/hands" --size 16 --epochs 1 --model small \
	--tracking-uri http://127.0.0.1:5078 --data-dir "$work/cd" --json 2>/dev/null |
	python3 -c 'import json, sys; t = sys.stdin.read(); print(json.loads(t[t.index("{\n"):])["package"])')

# The request: a PNG of zero rows, zlib-compressed as it streams.
python3 - "$work/body.json" "${W:-8000}" <<'EOF'
import base64, struct, sys, zlib
w = h = int(sys.argv[2])
def chunk(typ, body):
    return struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body))
z = zlib.compressobj(9)
row = bytes(1 + w * 6)  # filter byte, then 16-bit RGB samples
idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
open(sys.argv[1], "w").write('{"image": "%s"}' % base64.b64encode(png).decode())
print("request: %dx%d RGB16 PNG of %d bytes (decodes to %d MB)" % (w, h, len(png), w * h * 8 // 10**6), file=sys.stderr)
EOF

# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
"$serve_bin" serve --model "$pkg" --addr 127.0.0.1:5079 --log-level warn ${SERVE_FLAGS:-} 2>/dev/null &
serving=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:5079/ping >/dev/null && break; sleep 0.1; done
rss() { awk -v k="$1:" '$1 == k {print int($2 / 1024) " MB"}' "/proc/$serving/status"; }
echo "ready: RSS $(rss VmRSS)"
start=$(date +%s.%N)
pids=()
for i in $(seq "$n"); do
	curl -s -o "$work/out$i" -w "request $i: %{http_code} after %{time_total}s\n" -H 'Content-Type: application/json' \
		--data-binary "@$work/body.json" http://127.0.0.1:5079/ &
	pids+=($!)
done
wait "${pids[@]}"
end=$(date +%s.%N)
echo "all $n answered in $(awk "BEGIN {printf \"%.1f\", $end - $start}")s; peak RSS $(rss VmHWM)"
head -c 300 "$work/out1"
echo
