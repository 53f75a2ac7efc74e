#!/usr/bin/env bash
# Trains every reference model on the real data in ../shared/data (or
# $CAIRN_DATA) against a throwaway server and prints each run's results:
# the four fingers CNNs at 32px, then the Titanic models and their
# soft-voting ensemble with 5x5-fold CV (CV_REPEATS), and the champion: the
# best CV mean. ONLY=titanic or ONLY=fingers runs one workload.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${CAIRN_DATA:-../shared/data}
epochs=${EPOCHS:-6}
[ -d "$data/fingers" ] || { echo "no $data/fingers: set CAIRN_DATA to the shared data folder" >&2; exit 2; }
go build -o bin/cairn ./cmd/cairn
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
bin/cairn server --data "$work/server" --addr 127.0.0.1:5077 --log-level warn &
server=$!
sleep 1
uri=http://127.0.0.1:5077
only=${ONLY:-}
repeats=${CV_REPEATS:-5}
[ "$only" = titanic ] || for m in small wide deep residual; do
  echo "== fingers $m"
  bin/cairn train fingers --data "$data/fingers" --model "$m" --epochs "$epochs" --tracking-uri $uri --data-dir "$work" | grep -v '^epoch'
done
[ "$only" = fingers ] && exit 0
best=none best_mean=0
for m in logistic mlp rf gbdt ensemble; do
  echo "== titanic $m"
  out=$(bin/cairn train titanic --data "$data/titanic/train.csv" --model "$m" --cv 5 --cv-repeats "$repeats" \
    --tracking-uri $uri --data-dir "$work" --json 2>"$work/titanic-$m.log")
  grep -v '^epoch' "$work/titanic-$m.log" | grep -E 'cross-validation|importance' || true
  line=$(python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); cv=r["cross_validation"]; v=r["validation"]
print("%.4f %.4f %.4f" % (cv["mean"], cv["std"], v["accuracy"]))' <<<"$out")
  read -r mean std val <<<"$line"
  printf 'titanic %-8s %dx5-fold CV %s ± %s  validation %s\n' "$m" "$repeats" "$mean" "$std" "$val"
  if python3 -c "import sys; sys.exit(0 if $mean > $best_mean else 1)"; then best=$m best_mean=$mean; fi
done
echo "titanic champion by CV mean: $best ($best_mean)"
