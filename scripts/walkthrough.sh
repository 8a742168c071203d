#!/usr/bin/env bash
# The README's five-minute walk-through, runnable as is: `npm run walkthrough` (after `npm ci`).
# It works in a fresh temp folder and leaves nothing behind in the clone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$ROOT/bin:$PATH"
SAMPLE="$ROOT/examples/mitbih"
WORK="${WALKTHROUGH_DIR:-$(mktemp -d -t trib-walkthrough.XXXXXX)}"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }

cd "$WORK"
# 1. A dataset is a folder. Check in the first six heart-monitor records, byte for byte.
step trib init heart
cd heart
cp "$SAMPLE"/10[0-6]_all.csv .
step trib commit -m "Six MIT-BIH records: every beat" --meta source=physionet/mitdb --meta records=100-106

# 2. A scientist labels arrhythmias on a branch.
step trib branch pvc-labels
step trib switch pvc-labels
cp "$SAMPLE"/10[0-6]_pvc.csv .
step trib commit -m "Cardiologists' PVC labels" --meta labeller=cardiology

# 3. Meanwhile, main receives more beats for record 100 (an append).
step trib switch main
sed -n 2,201p "$SAMPLE"/108_all.csv >> 100_all.csv
step trib status
step trib diff --rows --max-rows 3
step trib commit -m "More beats for record 100"

# 4. Merge the labels in, and look at the history.
step trib merge pvc-labels -m "Merge PVC labels"
step trib log
step trib diff HEAD~1 HEAD --rows --max-rows 3

# 5. Pin the training set, reproduce it anywhere, and check every byte.
step trib tag train-v1 -m "PVC detector training set" --meta model=pvc-detector-1
step trib checkout train-v1 --to ../train-v1
step trib verify --read-data
cmp 105_pvc.csv ../train-v1/105_pvc.csv && echo "checkout is byte-identical" >&2
step trib show train-v1 --json
