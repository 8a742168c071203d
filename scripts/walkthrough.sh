#!/usr/bin/env bash
# The README's five-minute walk-through, runnable as is: `npm run walkthrough` (after `npm ci`).
# It works in a fresh temp folder (printed at the end; WALKTHROUGH_DIR picks another) and leaves nothing in the clone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$ROOT/bin:$PATH"
SAMPLE="$ROOT/examples/mitbih"
WORK="${WALKTHROUGH_DIR:-$(mktemp -d -t trib-walkthrough.XXXXXX)}"
# Commands in bold on a terminal; plain when the output goes to a file or a pipe.
if [ -t 2 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s$ %s%s\n' "$BOLD" "$*" "$PLAIN" >&2; "$@"; }

cd "$WORK"
# 1. A dataset is a folder. Check in five heart-monitor records, byte for byte (record 100's first 2,000 beats).
step trib init heart
cd heart
cp "$SAMPLE"/10[0-6]_all.csv .
head -n 2001 "$SAMPLE"/100_all.csv > 100_all.csv
step trib commit -m "Five MIT-BIH records" --annotate source=physionet/mitdb

# 2. A scientist labels arrhythmias on a branch.
step trib branch pvc-labels
step trib switch pvc-labels
cp "$SAMPLE"/10[0-6]_pvc.csv .
step trib commit -m "Cardiologists' PVC labels"

# 3. Meanwhile, main receives the next 200 beats of record 100 (an append).
step trib switch main
sed -n 2002,2201p "$SAMPLE"/100_all.csv >> 100_all.csv
step trib status
step trib diff --rows --max-rows 3
step trib commit -m "More beats for record 100"

# 4. Merge the labels in, and look at the history.
step trib merge pvc-labels -m "Merge PVC labels"
step trib log

# 5. Pin the training set, reproduce it anywhere, and check every byte.
step trib tag train-v1 -m "PVC detector training set" --annotate model=pvc-detector-1
step trib show train-v1
step trib checkout train-v1 --to ../train-v1
cmp 105_pvc.csv ../train-v1/105_pvc.csv && echo "checkout is byte-identical" >&2
step trib verify --read-data
echo "The repositories are in $WORK (remove it when you are done)." >&2
