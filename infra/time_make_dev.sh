#!/bin/bash
# Times `make dev` from start to its READY line (each output line stamped into
# target/make-dev.stamped), then stops it with SIGINT to its process group, as Ctrl-C would
# (SIG=TERM to stop it with SIGTERM), and counts the processes left after 15 s (expected: 0).
# Usage: infra/time_make_dev.sh   (docs/benchmarks.md's "second make dev" figure)
set -u
cd "$(dirname "$0")/.."
mkdir -p target
out=target/make-dev.out
start=$(date +%s.%N)
setsid bash -c 'make dev 2>&1 | while IFS= read -r line; do printf "%s %s\n" "$(date +%s.%N)" "$line"; done' > "$out" &
pid=$!
while ! grep -q " READY" "$out" 2>/dev/null; do
  sleep 0.2
  if ! kill -0 $pid 2>/dev/null; then echo "make dev exited"; exit 1; fi
done
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "READY after %.1f s\n", e - s }'
kill -${SIG:-INT} -- -$pid
sleep 15
echo "left: $(pgrep -fc 'target/debug/|cargo run --color|cargo-lambda')"
awk -v s=$start '{printf "%6.1f %s\n", $1-s, substr($0, index($0," ")+1)}' "$out" | grep -v "WARN Error polling" > target/make-dev.stamped
