#!/usr/bin/env bash
# A/B: base (/tmp/base) against new (/work/main), interleaved.
cd /tmp
for round in 1 2 3 4; do
  for side in $( [ $((round % 2)) = 1 ] && echo "base new" || echo "new base" ); do
    dir=/tmp/base; [ $side = new ] && dir=/work/main
    PYTHONPATH=$dir /work/main/.venv/bin/python $dir/bench/run.py --only sqlite,e2e --runs 1 --no-e2e-aged --e2e-rate 0 --n 8000 --n-e2e 4000 --n-httpx 300 > /tmp/ab/$side-$round.txt 2>&1
  done
done
echo done > /tmp/ab/finished
