#!/usr/bin/env bash
# Interleaved A/B of bench/run.py: BASE (a commit, checked out in a temporary worktree and put
# first on PYTHONPATH) against this checkout, ROUNDS rounds, the side that goes first
# alternating, so that the machine's drift hits both alike (docs/performance.md).
#
#   bash bench/ab.sh BASE ROUNDS OUT -- BENCH_ARGS...
#   bash bench/ab.sh 8361e2c 4 /tmp/ab -- --only sqlite,e2e --runs 1 --no-e2e-aged --e2e-rate 0
#
# Each invocation's output goes to OUT/{base,new}-ROUND.txt; its JSON results to each side's
# bench/results/.
set -euo pipefail
[ $# -ge 4 ] && [ "$4" = "--" ] || { echo "usage: $0 BASE ROUNDS OUT -- BENCH_ARGS..." >&2; exit 2; }
base_rev=$1 rounds=$2 out=$3
shift 4
here=$(cd "$(dirname "$0")/.." && pwd)
py="$here/.venv/bin/python"
tree=$(mktemp -d)
git -C "$here" worktree add -q --detach "$tree" "$base_rev"
trap 'git -C "$here" worktree remove --force "$tree"' EXIT
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for side in $order; do
    dir=$tree; [ "$side" = new ] && dir=$here
    echo "round $round: $side" >&2
    PYTHONPATH=$dir "$py" "$dir/bench/run.py" "$@" > "$out/$side-$round.txt" 2>&1
  done
done
