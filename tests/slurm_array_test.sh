#!/usr/bin/env bash
# A Slurm job array of `joulecast search` workers on one PostgreSQL study, as
# docs/search-cluster.md launches them: a private one-node Slurm cluster (Debian's slurm-wlm:
# slurmctld and slurmd on private ports, auth/none, state in a temporary folder) runs
# `sbatch --array=0-5%3` of identical workers with a stand-in trainer; every trial of the study
# must then be done, once. Fails (never skips) when Slurm or the server is missing.
# Usage: slurm_array_test.sh JOULECAST_BIN URL_FILE
set -euo pipefail

die() { echo "slurm_array_test: $*" >&2; exit 1; }
bin=$1
url=$(cat "$2") || die "no PostgreSQL server URL in $2 (run through ctest)"
for tool in slurmctld slurmd sbatch squeue; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] ||
    die "$tool missing: install slurm-wlm (scripts/install-deps.sh)"
done
PATH=$PATH:/usr/sbin

dir=$(mktemp -d /tmp/joulecast-slurm-XXXXXX)
cleanup() {
  for p in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
    [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/state" "$dir/spool" "$dir/out"
ports=($(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'))
host=$(hostname -s)
user=$(id -un)
cat >"$dir/slurm.conf" <<CONF
ClusterName=joulecast-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
AuthType=auth/none
CredType=cred/none
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=10 State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" -i || die "slurmctld did not start: $(tail -n 3 "$dir/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" -N "$host" || die "slurmd did not start: $(tail -n 3 "$dir/slurmd.log" 2>/dev/null)"
for i in $(seq 1 100); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.1
done
sinfo -h -o %t | grep -q idle || die "the Slurm node never became idle: $(tail -n 3 "$dir/slurmd.log")"

cat >"$dir/space.json" <<'JSON'
{"architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                  "input": {"shape": [1, 28, 28]}, "classes": 10},
 "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": true},
                "nr_conv": {"type": "int", "low": 1, "high": 3}},
 "training": {"dataset": "fashion-mnist", "epochs": 1, "batch_size": 64,
              "train_samples": 1000, "validation_samples": 500}}
JSON
cat >"$dir/train.py" <<'PY'
import json, sys
r = json.load(sys.stdin)
print(json.dumps({"accuracy": 0.5 + 0.1 * r["params"]["nr_conv"], "energy_j": 1.0}))
PY
study=slurm-$$-$RANDOM
cat >"$dir/worker.sbatch" <<JOB
#!/bin/bash
#SBATCH --job-name=joulecast-search
#SBATCH --output=$dir/out/worker-%a.log
exec $bin search $dir/space.json --study $url --study-name $study --trials 12 \
  --strategy random --lease-s 30 --trainer "python3 $dir/train.py" -o /dev/null
JOB
job=$(sbatch --parsable --array=0-5%3 "$dir/worker.sbatch") || die "sbatch failed"
for i in $(seq 1 600); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h -j "$job")" ] || die "the job array did not finish in a minute"
for log in "$dir"/out/worker-*.log; do
  if grep -q "joulecast search:" "$log"; then die "a worker failed: $(cat "$log")"; fi
done
[ "$(ls "$dir"/out/worker-*.log | wc -l)" -eq 6 ] || die "not all 6 array tasks ran: $(ls "$dir/out")"
report=$("$bin" search --report "$url" --study-name "$study" --format json)
python3 - "$report" <<'PY'
import json, sys
trials = json.loads(sys.argv[1])["studies"][0]["trials"]
numbers = [t["number"] for t in trials]
assert numbers == list(range(12)), numbers
assert all(t["status"] == "done" and t["runs"] == 1 for t in trials), trials
print("slurm job array: 6 workers, 12 trials, each done once")
PY
