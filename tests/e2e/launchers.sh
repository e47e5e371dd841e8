#!/usr/bin/env bash
# Launching the way clusters do, with no MPI in the process, on the CPU:
#  1. Two ranks under torchrun (Debian's python3-torch) and two under srun train to the same weights as
#     one replica (1e-5 relative, as e2e.replication), over aslnet's TCP ring; torchrun's and srun's
#     runs agree bit for bit. OMPI_MCA_pml names no component, so an MPI_Init anywhere would fail the
#     run; the run's first line names the communicator and the launcher.
#  2. A rank killed with SIGKILL ends the other rank within seconds, by itself (no launcher helps),
#     with a message naming the rank; one stopped with SIGSTOP is caught by the other's watchdog
#     (--comm-timeout 5).
# srun: with a Slurm that answers (sinfo), the test uses `srun -n 2`. Otherwise (CI has no slurmctld and
# slurmd, and starting a one-machine cluster in a test is slow and fragile) it starts one process per
# rank with the variables srun would set: SLURM_PROCID, SLURM_NTASKS, SLURM_STEP_NUM_TASKS,
# SLURM_STEP_ID, SLURM_LOCALID, SLURM_NODEID, SLURM_STEP_TASKS_PER_NODE, SLURM_STEP_NODELIST and
# SLURM_JOB_ID, and MASTER_PORT so that parallel tests do not share the port SLURM_JOB_ID gives.
# torchrun is skipped without python3-torch (a failure under ASLNET_REQUIRE_TORCH=1).
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3; [[ -x $py ]] || py=python3
work="$WORK-launchers"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 16 --size 32 --seed 5 > /dev/null
# As e2e.replication: three steps with frozen batch norm, stopped together by --stop-after.
common=(--arch resnet18 --stem small --width 0.25 --image-size 24 --batch 64 --lr 0.01 --freeze-bn
  --split random --val-fraction 0.2 --seed 9)
# A port P with P + 1 free too (torchrun's own store takes P, aslnet's rank 0 P + 1), below the ephemeral
# ports that connections take their local ends from.
free_port() {
  "$py" - <<'PY'
import random, socket
while True:
    port = random.randrange(20000, 32000)
    try:
        for p in (port, port + 1):
            with socket.socket() as s:
                s.bind(("", p))
        break
    except OSError:
        pass
print(port)
PY
}
# Any MPI_Init in these processes fails: there is no such point-to-point component.
export OMPI_MCA_pml=no-mpi-here

have_torchrun=1
if ! "$py" -c 'import torch.distributed.run' 2> /dev/null; then
  if [[ -n "${ASLNET_REQUIRE_TORCH:-}" && "${ASLNET_REQUIRE_TORCH}" != 0 ]]; then echo "no torch.distributed.run (and ASLNET_REQUIRE_TORCH is set)" >&2; exit 1; fi
  echo "note: torchrun parts skipped: $py has no torch.distributed.run"
  have_torchrun=0
fi
# Debian 12's torch 1.13 on Python 3.11 cannot parse its own default --redirects/--tee of 0: give 1.
torchrun() {
  timeout 300 "$py" -m torch.distributed.run --nproc_per_node 2 --master_port "$(free_port)" --redirects 1 --tee 1 \
    --no_python "$@"
}
real_srun=0
command -v srun > /dev/null && timeout 10 sinfo > /dev/null 2>&1 && real_srun=1
# srun -n 2 CMD..., or the same by hand: one process per rank, in the background; waits for both.
srun2() {
  if ((real_srun)); then timeout 300 srun -n 2 "$@"; return; fi
  local port pids=() status=0
  port=$(free_port)
  for rank in 0 1; do
    env SLURM_PROCID=$rank SLURM_NTASKS=2 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_ID=0 SLURM_LOCALID=$rank SLURM_NODEID=0 \
      SLURM_STEP_TASKS_PER_NODE=2 SLURM_STEP_NODELIST=localhost SLURM_JOB_ID=4242 MASTER_PORT="$port" \
      timeout 300 "$@" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  return $status
}

# 1. Same weights as one replica.
"$ASLNET" train "$work/synth" "${common[@]}" --quiet --epochs 1 --stop-after 3 --threads 2 --out "$work/one"
runs=()
if ((have_torchrun)); then
  torchrun "$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 1 --out "$work/torchrun" \
    > "$work/torchrun.out" 2>&1 || { cat "$work/torchrun.out"; echo "torchrun: the run failed"; exit 1; }
  grep -q 'x 2 replicas, tcp ring, torchrun)' "$work/torchrun.out" ||
    { cat "$work/torchrun.out"; echo "torchrun: the first line does not name the tcp ring and torchrun"; exit 1; }
  runs+=("$work/torchrun/last.safetensors")
fi
srun2 "$ASLNET" train "$work/synth" "${common[@]}" --epochs 1 --stop-after 3 --threads 1 --out "$work/srun" \
  > "$work/srun.out" 2>&1 || { cat "$work/srun.out"; echo "srun: the run failed"; exit 1; }
grep -q 'x 2 replicas, tcp ring, srun)' "$work/srun.out" ||
  { cat "$work/srun.out"; echo "srun: the first line does not name the tcp ring and srun"; exit 1; }
runs+=("$work/srun/last.safetensors")
"$py" - "$work/one/last.safetensors" "${runs[@]}" <<'PY'
import json, math, struct, sys
def load(path):  # the model's f32 weights (not the optimizer's state: see e2e.replication)
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    return {name: struct.unpack(f"<{(t['data_offsets'][1] - t['data_offsets'][0]) // 4}f",
                                raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]])
            for name, t in header.items()
            if name != "__metadata__" and t["dtype"] == "F32" and not name.startswith("optimizer.")}
ref = load(sys.argv[1])
for other in sys.argv[2:]:
    w = load(other)
    assert w.keys() == ref.keys()
    num = sum((x - y) ** 2 for k in ref for x, y in zip(w[k], ref[k]))
    err = math.sqrt(num / sum(y * y for k in ref for y in ref[k]))
    print(f"{other.split('/')[-2]}: relative error {err:.2e} against one replica")
    assert err <= 1e-5, f"{other} differs from the single replica: {err}"
PY
if ((have_torchrun)); then same_weights "$work/torchrun/last.safetensors" "$work/srun/last.safetensors"; fi
grep -q '"replicas":2' "$work/srun/log.jsonl"
grep -q '"event":"interrupted","step":3' "$work/srun/log.jsonl"

# 2. A rank that dies, and one that stops answering, once training runs.
rank_pid() {  # the aslnet process of rank $2 among the descendants of $1
  local pid level=$1 all=""
  while level=$(pgrep -d, -P "$level"); do all+=" ${level//,/ }"; done  # children, grandchildren, ...
  for pid in $all; do
    if grep -qxE "(RANK|SLURM_PROCID)=$2" <<< "$(tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null)" &&
      [[ $(readlink "/proc/$pid/exe") == "$(readlink -f "$ASLNET")" ]]; then echo "$pid"; return; fi
  done
}
check_stop() {  # $1: launcher, $2: signal
  local launcher=$1 signal=$2 log="$work/$1-$2.out" out="$work/$1-$2" job victim survivor start status took
  if [[ $launcher == torchrun ]]; then
    torchrun "$ASLNET" train "$work/synth" "${common[@]}" --quiet --epochs 500 --comm-timeout 5 --threads 1 \
      --out "$out" > "$log" 2>&1 &
  else
    srun2 "$ASLNET" train "$work/synth" "${common[@]}" --quiet --epochs 500 --comm-timeout 5 --threads 1 \
      --out "$out" > "$log" 2>&1 &
  fi
  job=$!
  wait_for_first_step "$out" 60
  victim=$(rank_pid "$job" 1)
  survivor=$(rank_pid "$job" 0)
  [[ -n "$victim" ]] || { cat "$log"; echo "$launcher $signal: rank 1 not found"; kill "$job" || true; exit 1; }
  start=$(date +%s)
  kill -"$signal" "$victim"
  if [[ $signal == STOP ]]; then
    # Nobody ends a stopped rank here (mpirun would): once rank 0 has given up, let rank 1 go on, to
    # read why the run ended.
    for _ in $(seq 1 150); do [[ -d /proc/$survivor ]] || break; sleep 0.2; done
    kill -CONT "$victim"
  fi
  set +e
  wait "$job"
  status=$?
  set -e
  kill -KILL "$victim" 2> /dev/null || true
  took=$(($(date +%s) - start))
  grep -v '^\[' "$log" | tail -n 2 || true
  [[ $status -ne 0 && $status -ne 124 ]] || { cat "$log"; echo "$launcher $signal: status $status (124: hung)"; exit 1; }
  if [[ $signal == KILL ]]; then
    ((took < 15)) || { echo "$launcher KILL: the run took $took s to stop"; exit 1; }
    grep -q "rank 0: rank 1 closed its connection" "$log" || { cat "$log"; echo "$launcher KILL: no message naming rank 1"; exit 1; }
  else
    ((took < 30)) || { echo "$launcher STOP: the run took $took s to stop"; exit 1; }
    grep -q "rank 0: .*waited 5 s for the other ranks" "$log" || { cat "$log"; echo "$launcher STOP: no watchdog message"; exit 1; }
    grep -q "rank 1 stopped because rank 0: .*waited 5 s" "$log" || { cat "$log"; echo "$launcher STOP: rank 1 was not told why"; exit 1; }
  fi
  echo "$signal of rank 1 under $launcher: the run stopped in $took s"
}
if ((!real_srun)); then
  check_stop srun KILL
  check_stop srun STOP
fi
if ((have_torchrun)); then check_stop torchrun KILL; fi
