#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME (default 5s) each and
# exits non-zero if any fails; a failing input is written under the
# package's testdata/fuzz/<target>/, where go test replays it from then on.
# go test fuzzes one target per package per run, so each package's targets
# (go test -list '^Fuzz') run one after another. Only packages whose tests
# declare a fuzz target are listed, which spares linking every test binary.
#
#	FUZZTIME=3s scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
dirs=$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u)
failed=()
ran=0
for dir in $dirs; do
  if ! list=$(go test -list '^Fuzz' "./$dir"); then
    failed+=("$dir (its tests do not build)")
    continue
  fi
  for target in $(grep '^Fuzz' <<<"$list" || true); do
    echo "== $dir $target ($fuzztime)"
    ran=$((ran + 1))
    if ! go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "./$dir" 2>&1 | { grep -v '^fuzz: elapsed' || true; }; then
      failed+=("$dir $target")
    fi
  done
done
if [ "$ran" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz target failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "$ran fuzz targets ran for $fuzztime each"
