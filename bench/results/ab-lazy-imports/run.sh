#!/usr/bin/env bash
cd /tmp
for round in 1 2 3; do
  for side in $( [ $((round % 2)) = 1 ] && echo "base new" || echo "new base" ); do
    dir=/tmp/base; [ $side = new ] && dir=/work/main
    PYTHONPATH=$dir /work/main/.venv/bin/python $dir/bench/run.py --only e2e --runs 1 --no-e2e-aged --e2e-rate 1000 > /tmp/ab/r5-$side-$round.txt 2>&1
  done
done
echo done > /tmp/ab/finished5
