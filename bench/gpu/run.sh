#!/usr/bin/env bash
# One run on a lent GPU machine that validates joulecast's GPU predictions (bench/gpu/README.md):
# build, calibrate (quick, then full), plain-PyTorch training of the held-out networks (the
# ground truth, torch_loop.py, fp32 then bf16) and `joulecast measure` of their JSON ones (fp32;
# bf16 too where `measure --help` lists --precision).
# Everything lands in $OUT (default ./out-gpu), at most 8 files:
#   log.txt  h200-nvml-quick.json(.db)  h200-nvml.json(.db)  torch_loop.jsonl  measure.jsonl
# Each step runs under `timeout`, trimmed to a whole-run deadline (DEADLINE_S, default 530 s); a
# failing step is logged (rc, seconds) and the next one runs. Afterwards, here:
#   /usr/bin/python3 bench/gpu/compare.py --dir OUTDIR --profile OUTDIR/h200-nvml-quick.json
#
#   OUT=/root/out bash bench/gpu/run.sh                   # on the GPU machine, .gpudeps/ carried
#   DEVICE=cpu METER=estimate SKIP="build cal_full" HELDOUT=/tmp/small.json PYTHON=/usr/bin/python3 \
#     DEADLINE_S=400 bash bench/gpu/run.sh                # a dry run on a CPU machine
#
# Knobs (environment): DEVICE (cuda), METER (nvml), HELDOUT (bench/gpu/heldout.json), PYTHON
# (python3), JOULECAST (the binary when the build fails or is skipped: build/cli/joulecast),
# STEPS (the order), SKIP (step names), DEADLINE_S, WINDOW_S and REPEATS (torch_loop), and the
# command lines below.
set -u -o pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s)

OUT=${OUT:-$PWD/out-gpu}
DEVICE=${DEVICE:-cuda}
METER=${METER:-nvml}
HELDOUT=${HELDOUT:-bench/gpu/heldout.json}
PYTHON=${PYTHON:-python3}
DEADLINE_S=${DEADLINE_S:-560}
WINDOW_S=${WINDOW_S:-2}
REPEATS=${REPEATS:-2}
STEPS=${STEPS:-info build cal_full torch_fp32 torch_bf16 measure cal_quick measure_bf16}
SKIP=${SKIP:-}
TAG=${TAG:-h200-$METER}

# The command lines, easy to adjust (calibrate's flags may change).
BUILD_CMD=${BUILD_CMD:-bash scripts/build-gpu.sh}
GPU_BIN=${GPU_BIN:-build-gpu/cli/joulecast}
CAL_QUICK_ARGS=${CAL_QUICK_ARGS:---quick}
CAL_FULL_ARGS=${CAL_FULL_ARGS:---precision fp32,bf16 --layers-per-design 12 --networks 10 --window 5}
MEASURE_ARGS=${MEASURE_ARGS:---steps 200 --warmup 5 --max-steps 0 --timeout-s 60}
TORCH_ARGS=${TORCH_ARGS:---window-s $WINDOW_S --repeats $REPEATS --idle-s 3}
BF16_SUBSET=${BF16_SUBSET:---bf16-only}
# Seconds each step may take at most, and what it leaves for the steps after it.
T_INFO=30 T_BUILD=200 T_CAL_QUICK=100 T_TORCH_FP32=170 T_MEASURE=80 T_CAL_FULL=270 T_BF16=60 T_MEASURE_BF16=40
RESERVE_CAL_FULL=${RESERVE_CAL_FULL:-200}  # kept for torch_fp32 and torch_bf16
MIN_STEP_S=20                              # a step with less left is skipped

mkdir -p "$OUT"
LOG=$OUT/log.txt
SUMMARY=/tmp/joulecast-gpu-steps.$$
POWER=/tmp/joulecast-gpu-power.$$.csv
: >"$SUMMARY"

log() { echo "[$(date -u +%H:%M:%S) +$(($(date +%s) - T0))s] $*" | tee -a "$LOG"; }

# Seconds a step asking for WANT may take: what is left before the deadline less RESERVE.
limit() {
  local want=$1 reserve=${2:-0} left
  left=$((T0 + DEADLINE_S - $(date +%s) - reserve))
  echo $((want < left ? want : left))
}

# step NAME SECONDS CMD...: runs CMD under timeout, logs its output, rc and seconds; never fails.
step() {
  local name=$1 secs=$2 s e rc
  shift 2
  if [[ " $SKIP " == *" $name "* ]]; then
    log "== $name: skipped (SKIP)"; echo "$name skipped 0" >>"$SUMMARY"; return 0
  fi
  if ((secs < MIN_STEP_S)); then
    log "== $name: skipped, ${secs}s left before the deadline"
    echo "$name no-time 0" >>"$SUMMARY"; return 0
  fi
  log "== $name: start, timeout ${secs}s: $*"
  s=$(date +%s)
  if declare -F "$1" >/dev/null; then  # a shell function: no timeout
    "$@" 2>&1 | tee -a "$LOG"
  else
    # TERM first (calibrate then stops after the run in progress and keeps its database),
    # KILL 20 s later.
    timeout -k 20 "$secs" "$@" 2>&1 | tee -a "$LOG"
  fi
  rc=${PIPESTATUS[0]}
  LAST_RC=$rc
  e=$(date +%s)
  log "== $name: rc=$rc$([[ $rc == 124 || $rc == 137 ]] && echo ' (timed out)') in $((e - s)) s"
  echo "$name $rc $((e - s))" >>"$SUMMARY"
  return 0
}

info() {
  echo "date: $(date -u +%FT%TZ)   host: $(hostname)   nproc: $(nproc)"
  lscpu 2>/dev/null | grep -E '^(Model name|Socket|Thread|Core|CPU\(s\))' || true
  free -g 2>/dev/null | head -2 || true
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo n/a)"
  $PYTHON - <<'EOF' 2>&1 || true
import sys, torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
try:
    import torchvision; print("torchvision", torchvision.__version__)
except Exception as e: print("torchvision:", e)
try:
    import pynvml; pynvml.nvmlInit(); print("pynvml ok, driver", pynvml.nvmlSystemGetDriverVersion())
except Exception as e: print("pynvml:", e)
EOF
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi || true
    nvidia-smi -q | head -60 || true
  else
    echo "no nvidia-smi"
  fi
  command -v nvcc >/dev/null && nvcc --version | tail -2
  command -v cmake >/dev/null && cmake --version | head -1
  command -v ninja >/dev/null && echo "ninja $(ninja --version)"
  return 0
}

log "bench/gpu/run.sh: OUT=$OUT DEVICE=$DEVICE METER=$METER HELDOUT=$HELDOUT DEADLINE_S=$DEADLINE_S"
log "steps: $STEPS; skip: ${SKIP:-none}"

# Board power every second through the whole run (appended to the log at the end).
MON_PID=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,power.draw,temperature.gpu,clocks.sm,utilization.gpu,memory.used \
    --format=csv,noheader -lms 1000 >"$POWER" 2>/dev/null &
  MON_PID=$!
fi

# The binary: the GPU build once it succeeds, else $JOULECAST, else the CPU build.
FALLBACK=${JOULECAST:-build/cli/joulecast}
J=$FALLBACK
if [[ -z ${JOULECAST:-} && -x $GPU_BIN ]]; then J=$GPU_BIN; fi
LAST_RC=0
log "joulecast binary until a build: $J $([[ -x $J ]] || echo "(missing)")"

for s in $STEPS; do
  case $s in
    info) step info "$(limit $T_INFO)" info ;;
    build)
      # shellcheck disable=SC2086
      step build "$(limit $T_BUILD)" $BUILD_CMD
      if [[ $LAST_RC == 0 && -x $GPU_BIN ]]; then J=$GPU_BIN; else J=$FALLBACK; fi
      log "joulecast binary: $J $([[ -x $J ]] || echo '(missing)')" ;;
    cal_quick)
      # shellcheck disable=SC2086
      step cal_quick "$(limit $T_CAL_QUICK)" "$J" calibrate --device "$DEVICE" --meter "$METER" \
        $CAL_QUICK_ARGS -o "$OUT/$TAG-quick.json" ;;
    torch_fp32)
      L=$(limit $T_TORCH_FP32)
      # shellcheck disable=SC2086
      step torch_fp32 "$L" "$PYTHON" bench/gpu/torch_loop.py "$HELDOUT" --device "$DEVICE" \
        --precision fp32 $TORCH_ARGS --deadline-s $((L - 15)) --out "$OUT/torch_loop.jsonl" ;;
    measure)
      L=$(limit $T_MEASURE)
      # shellcheck disable=SC2086
      step measure "$L" "$PYTHON" bench/gpu/measure_all.py "$HELDOUT" --joulecast "$J" \
        --device "$DEVICE" --meter "$METER" $MEASURE_ARGS --deadline-s $((L - 20)) \
        --out "$OUT/measure.jsonl" ;;
    cal_full)
      # shellcheck disable=SC2086
      step cal_full "$(limit $T_CAL_FULL "$RESERVE_CAL_FULL")" "$J" calibrate --device "$DEVICE" \
        --meter "$METER" $CAL_FULL_ARGS -o "$OUT/$TAG.json" ;;
    torch_bf16)
      L=$(limit $T_BF16)
      # shellcheck disable=SC2086
      step torch_bf16 "$L" "$PYTHON" bench/gpu/torch_loop.py "$HELDOUT" --device "$DEVICE" \
        --precision bf16 $BF16_SUBSET $TORCH_ARGS --idle-s 0 --deadline-s $((L - 12)) \
        --out "$OUT/torch_loop.jsonl" ;;
    measure_bf16)
      L=$(limit $T_MEASURE_BF16)
      # shellcheck disable=SC2086
      step measure_bf16 "$L" "$PYTHON" bench/gpu/measure_all.py "$HELDOUT" --joulecast "$J" \
        --device "$DEVICE" --meter "$METER" $MEASURE_ARGS --bf16-only --precision bf16 \
        --deadline-s $((L - 15)) --out "$OUT/measure.jsonl" ;;
    *) log "unknown step $s" ;;
  esac
done

if [[ -n $MON_PID ]]; then
  kill "$MON_PID" 2>/dev/null
  wait "$MON_PID" 2>/dev/null
  {
    echo "== board power, one line a second (timestamp, W, C, MHz, util, memory):"
    cat "$POWER"
  } >>"$LOG"
  rm -f "$POWER"
fi
log "== summary (step rc seconds), total $(($(date +%s) - T0)) s:"
column -t "$SUMMARY" 2>/dev/null | tee -a "$LOG" || tee -a "$LOG" <"$SUMMARY"
rm -f "$SUMMARY"
ls -la "$OUT" | tee -a "$LOG"
exit 0
