#!/usr/bin/env bash
# Does BO with W parallel workers find as good a point in T trials as one worker? For each seed,
# a study of T trials run by 1 worker and one run by W workers (Kriging believer, the default
# --pending), on a throwaway PostgreSQL server, with a trainer whose accuracy is a smooth
# function of the parameters (its best 0.95 at learning_rate 10^-2.5, beta1 0.9, nr_conv 2) and
# that takes SLEEP seconds, so that W trials really run at once. Prints the best accuracy of each
# study and the means. Reports; it does not pass or fail.
# Usage: bench/parallel_bo.sh JOULECAST_BIN [WORKERS] [TRIALS] [SEEDS] [SLEEP] [PENDING]
set -euo pipefail
bin=$(realpath "$1")
workers=${2:-8}
trials=${3:-40}
seeds=${4:-5}
sleep_s=${5:-0.5}
pending=${6:-kriging-believer}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/joulecast-parallel-XXXXXX)
trap '"$here/tests/postgres_server.sh" stop "$dir/server" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$here/tests/postgres_server.sh" start "$dir/server"
url=$(cat "$dir/server/url")
cat >"$dir/train.py" <<'PY'
import json, math, os, sys, time
p = json.load(sys.stdin)["params"]
time.sleep(float(os.environ.get("SLEEP", "0")))
acc = 0.95 - 0.1 * (math.log10(p["learning_rate"]) + 2.5) ** 2 - 0.5 * (p["beta1"] - 0.9) ** 2 \
      - 0.02 * (p["nr_conv"] - 2) ** 2
print(json.dumps({"accuracy": max(0.0, acc), "energy_j": 1.0}))
PY
best() {
  "$bin" search --report "$url" --study-name "$1" --format json | python3 -c '
import json, sys
t = json.load(sys.stdin)["studies"][0]["trials"]
assert len(t) == int(sys.argv[1]) and all(x["status"] == "done" for x in t), "incomplete study"
print("%.5f" % max(x["accuracy"] for x in t))' "$trials"
}
run() {  # run NAME SEED N_WORKERS
  local pids=()
  for w in $(seq 1 "$3"); do
    SLEEP=$sleep_s "$bin" search "$here/bench/study_space.json" --study "$url" --study-name "$1" \
      --trials "$trials" --seed "$2" --strategy bo --pending "$pending" --lease-s 60 \
      --trainer "python3 $dir/train.py" -o /dev/null 2>>"$dir/$1.log" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
}
sum1=0; sumw=0
echo "seed  best of $trials trials: 1 worker   $workers workers ($pending)"
for seed in $(seq 1 "$seeds"); do
  t0=$(date +%s.%N); run "one-$seed" "$seed" 1; t1=$(date +%s.%N)
  run "many-$seed" "$seed" "$workers"; t2=$(date +%s.%N)
  b1=$(best "one-$seed"); bw=$(best "many-$seed")
  printf '%4d  %.5f (%.0f s)   %.5f (%.0f s)\n' "$seed" "$b1" \
    "$(python3 -c "print($t1 - $t0)")" "$bw" "$(python3 -c "print($t2 - $t1)")"
  sum1=$(python3 -c "print($sum1 + $b1)"); sumw=$(python3 -c "print($sumw + $bw)")
done
python3 -c "print('mean  %.5f          %.5f' % ($sum1 / $seeds, $sumw / $seeds))"
