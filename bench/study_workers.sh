#!/usr/bin/env bash
# 64 `joulecast search` workers against one local PostgreSQL server (a throwaway one, started
# by tests/postgres_server.sh), with a trainer that answers at once, so that the study and the
# server do all the work: wall time, errors, the most connections seen, and whether each of the
# study's trials was done once. Reports; it does not pass or fail on timing.
# Usage: bench/study_workers.sh JOULECAST_BIN [WORKERS] [TRIALS] [STRATEGY]
set -euo pipefail
bin=$(realpath "$1")
workers=${2:-64}
trials=${3:-256}
strategy=${4:-random}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/joulecast-workers-XXXXXX)
trap '"$here/tests/postgres_server.sh" stop "$dir/server" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$here/tests/postgres_server.sh" start "$dir/server"
url=$(cat "$dir/server/url")
trainer="cat >/dev/null; echo '{\"accuracy\": 0.5, \"energy_j\": 1}'"
start=$(date +%s.%N)
pids=()
for w in $(seq 1 "$workers"); do
  "$bin" search "$here/bench/study_space.json" --study "$url" --study-name workers --trials "$trials" \
    --strategy "$strategy" --candidates 2000 --lease-s 30 --trainer "$trainer" -o /dev/null \
    2>"$dir/w$w.log" &
  pids+=($!)
done
most=0
while kill -0 "${pids[@]}" 2>/dev/null || pgrep -P $$ -x joulecast >/dev/null; do
  n=$(psql "$url" -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'joulecast'" 2>/dev/null || echo 0)
  [ "$n" -gt "$most" ] && most=$n
  sleep 0.2
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
end=$(date +%s.%N)
errors=$(cat "$dir"/w*.log | grep -c -e "joulecast search:" -e "warning" || true)
summary=$("$bin" search --report "$url" --study-name workers --format json | python3 -c '
import json, sys
t = json.load(sys.stdin)["studies"][0]["trials"]
ok = [x["number"] for x in t] == list(range(len(t))) and all(x["status"] == "done" and x["runs"] == 1 for x in t)
print(len(t), "trials,", "each done once" if ok else "NOT each done once")')
printf '%d workers, --trials %d, --strategy %s: %.1f s wall, %d workers failed, %d error lines, at most %d connections; %s\n' \
  "$workers" "$trials" "$strategy" "$(python3 -c "print($end - $start)")" "$failed" "$errors" "$most" "$summary"
