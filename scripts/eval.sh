#!/usr/bin/env bash
# Trains every reference model on the real data in ../shared/data (or
# $CAIRN_DATA) against a throwaway server and prints each run's results:
# the four fingers CNNs at 32px and the two Titanic models with 5-fold CV.
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
for m in small wide deep residual; do
  echo "== fingers $m"
  bin/cairn train fingers --data "$data/fingers" --model "$m" --epochs "$epochs" --tracking-uri $uri --data-dir "$work" | grep -v '^epoch'
done
for m in mlp logistic rf gbdt; do
  echo "== titanic $m"
  bin/cairn train titanic --data "$data/titanic/train.csv" --model "$m" --cv 5 --tracking-uri $uri --data-dir "$work" 2>&1 | grep -v '^epoch'
done
