#!/usr/bin/env bash
# The fingers sweep (4 models x 2 learning rates) on the real data in
# ../shared/data: full grid (FIFO) at max_concurrent 1 and 2, and ASHA at 2.
# Prints each sweep's wall time, trial time, stopped trials and best trial.
# Minutes of CPU; nothing is committed from it.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-2}
SIZE=${SIZE:-32}
SRC=${SRC:-../shared/data/fingers}
OUT=${OUT:-$(mktemp -d)}
go build -o "$OUT/cairn" ./cmd/cairn
ds=$("$OUT/cairn" data prepare images --source "$SRC" --size "$SIZE" --cache "$OUT/datasets" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dir"])')
for cfg in "fifo 1" "fifo 2" "asha 2" "asha 1"; do
  set -- $cfg
  sched=$1 mc=$2
  spec="$OUT/sweep-$sched-$mc.yaml"
  scheduler="{type: fifo}"
  if [ "$sched" = asha ]; then scheduler="{type: asha, max_t: $EPOCHS, grace_period: 1, reduction_factor: 2}"; fi
  cat >"$spec" <<YAML
metric: val_accuracy
mode: max
space:
  model: {grid: [small, wide, deep, residual]}
  lr: {grid: [0.002, 0.0005]}
scheduler: $scheduler
max_concurrent: $mc
resources: {cpu: 1}
trial:
  uses: train.cnn
  with: {dataset: "$ds", epochs: $EPOCHS}
YAML
  echo "== $sched max_concurrent=$mc"
  "$OUT/cairn" tune "$spec" --cpus "$mc" --data "$OUT/data-$sched-$mc" --json --log-level warn 2>"$OUT/log-$sched-$mc.txt" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("wall %ss, trials %ss, best %s %s = %s" % (r["wall_seconds"], r["trial_seconds"], r["best_trial"], r["best_params"], r["best_value"]))'
  grep "^sweep done" "$OUT/log-$sched-$mc.txt" || true
done
echo "logs and data in $OUT"
