#!/usr/bin/env bash
# Runs THERE, on the lent GPU machine, from the repository root, in one device call (at most ~8
# minutes): unpacks the bundle that scripts/gpu-bundle.sh made here (.devbundle/bundle.tar.xz), runs
# every GPU test (tests whose names contain Cuda, CUDA, Gpu or GPU) with ASLNET_REQUIRE_GPU=1, then the
# standard GPU benchmarks (bench/gpu_train_step against torchvision; the replication benchmarks
# `aslnet bench allreduce` and bench/replication_step, short runs; `aslnet bench kernels` and
# `aslnet bench train` per GPU count, the seed's experiment when its data travelled in .devdata/;
# `aslnet bench serve` with and without batching), and
# writes bench/results/<date>-<device>.md. Files written in the repository there do not come back, so
# the results file, the training chart (bench-train.png) and logs.tar.gz (every log and JSON) are also
# copied to $OUT when it is set (3 files). The bundle is unpacked into /tmp/aslnet-devbundle
# ($ASLNET_BUNDLE_DIR), outside the repository.
#
# The seed's experiment needs the real photos, which do not travel by themselves (../shared is not in
# the repository): scripts/make-seed-data.sh packs a subset that fits the transfer into
# .devdata/asl-seed.tar; carry [".devbundle", ".devdata"].
#
#   scripts/gpu-check.sh                 # GPU tests, then the benchmarks
#   scripts/gpu-check.sh --quick         # GPU tests only
#   scripts/gpu-check.sh --bench-only    # benchmarks only
#   scripts/gpu-check.sh --all-tests     # every test of every program, not only the GPU ones
#   scripts/gpu-check.sh --filter 'Conv*:*Cuda*'   # a gtest filter of your own
#   scripts/gpu-check.sh --steps 20 --warmup 5 --bench-args '--cuda-graph'
#
# Every step runs under `timeout`; a failing step is recorded and the next one runs; the exit status is
# nonzero if any step failed, if no GPU test ran, or if the time budget (--budget seconds) ran out.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD
invocation="scripts/gpu-check.sh${*:+ $*}"

run_tests=1 run_bench=1 filter='*Cuda*:*CUDA*:*Gpu*:*GPU*' steps=20 warmup=5 bench_args='' budget=450
test_timeout=200 bench_timeout=120
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) run_bench=0 ;;
    --bench-only) run_tests=0 ;;
    --all-tests) filter='*' ;;
    --filter) filter=$2; shift ;;
    --steps) steps=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --bench-args) bench_args=$2; shift ;;
    --budget) budget=$2; shift ;;
    --test-timeout) test_timeout=$2; shift ;;
    --bench-timeout) bench_timeout=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

failures=()
fail() { failures+=("$1"); echo "gpu-check: FAILED: $1"; }
logs=$(mktemp -d /tmp/gpu-check.XXXXXX)
tests_log=$logs/tests.log bench_log=$logs/bench.log env_log=$logs/environment.txt
replication_log=$logs/replication.log  # its own log: its `result` lines are not gpu_train_step's
aslbench_log=$logs/aslnet-bench.log
: > "$tests_log"; : > "$bench_log"; : > "$replication_log"; : > "$aslbench_log"
# Seconds left of the budget; a step that may not fit is skipped (and counted as a failure).
time_left() { echo $((budget - SECONDS)); }

# --- unpack ------------------------------------------------------------------------------------------
# Unpacked outside the repository, so that a later device call does not carry the unpacked copy too.
archive=.devbundle/bundle.tar.xz
bundle=${ASLNET_BUNDLE_DIR:-/tmp/aslnet-devbundle}
if [[ ! -f $archive ]]; then
  echo "gpu-check: no $archive: run scripts/gpu-bundle.sh here first and carry [\".devbundle\"]" >&2
  exit 2
fi
rm -rf "$bundle" && mkdir -p "$bundle"
if command -v xz >/dev/null; then
  tar -C "$bundle" -xJf "$archive" || fail "unpacking $archive"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$bundle" ||
    fail "unpacking $archive (python3 tarfile)"
fi
[[ -f $bundle/device-env.sh ]] || { echo "gpu-check: $archive holds no device-env.sh" >&2; exit 2; }
# torch runs with the environment it came with, not with the bundle's LD_LIBRARY_PATH (the CUDA
# toolkit's libraries first could shadow the ones of torch's own wheels).
python=$(command -v python3)
if [[ -n ${LD_LIBRARY_PATH:-} ]]; then ld_line="export LD_LIBRARY_PATH='$LD_LIBRARY_PATH'"; else ld_line='unset LD_LIBRARY_PATH'; fi
printf '#!/bin/sh\n%s\nexec %s "$@"\n' "$ld_line" "$python" > "$bundle/torch-python"
chmod +x "$bundle/torch-python"
# shellcheck source=/dev/null
source "$bundle/device-env.sh"
export ASLNET_REQUIRE_GPU=1
export ASLNET_SOURCE_DIR=$root            # bench/gpu_train_step finds its peer script through it
export ASLNET_TORCH_PYTHON=${ASLNET_TORCH_PYTHON:-$bundle/torch-python}  # the golden tests' torch
export PYTHONUNBUFFERED=1
build_info=$(cat "$bundle/BUILD_INFO" 2>/dev/null)
# The tests open files through the source path compiled into them (tests/golden, ../shared/data): if
# the repository sits elsewhere here, put a link at that path.
built_in=$(sed -n 's/^source_dir=//p' "$bundle/BUILD_INFO" 2>/dev/null)
if [[ -n $built_in && $built_in != "$root" && ! -e $built_in ]]; then
  mkdir -p "$(dirname "$built_in")" 2>/dev/null && ln -s "$root" "$built_in" 2>/dev/null &&
    echo "gpu-check: linked $built_in -> $root (the source path compiled into the tests)"
fi

# --- environment ---------------------------------------------------------------------------------------
gpu_query=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
gpu_name=$(echo "$gpu_query" | cut -d, -f1 | sed 's/^ *//;s/ *$//')
driver=$(echo "$gpu_query" | cut -d, -f2 | tr -d ' ')
cuda_version=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1 | cut -d' ' -f3)
[[ -n $gpu_name ]] || { gpu_name=unknown; fail "nvidia-smi found no GPU"; }
{
  echo "date: $(date -u +'%Y-%m-%d %H:%M:%S UTC')"
  echo "gpu: $gpu_query"
  echo "driver: $driver, CUDA (driver): $cuda_version"
  echo "kernel: $(uname -r)"
  echo "python3: $python $("$bundle/torch-python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1 | tail -1)"
  echo "LD_LIBRARY_PATH: $LD_LIBRARY_PATH"
  echo "bundle: $(echo "$build_info" | tr '\n' ' ')"
  echo; nvidia-smi 2>&1
} > "$env_log"
head -7 "$env_log"
missing=$(for b in "$bundle"/bin/*; do ldd "$b" | grep 'not found'; done | sort -u)
if [[ -n $missing ]]; then
  fail "shared libraries not found: $(echo "$missing" | awk '{print $1}' | tr '\n' ' ')"
fi

# --- tests ---------------------------------------------------------------------------------------------
declare -a test_rows=() test_commands=()
total_pass=0 total_fail=0 total_skip=0
if [[ $run_tests == 1 ]]; then
  echo "== tests (filter $filter, ASLNET_REQUIRE_GPU=1) =="
  for prog in "$bundle"/bin/test_*; do
    [[ -x $prog ]] || continue
    name=$(basename "$prog")
    list=$(timeout 60 "$prog" --gtest_list_tests --gtest_filter="$filter" 2>&1)
    status=$?
    if [[ $status != 0 ]]; then
      fail "$name: cannot list its tests (exit $status): $(echo "$list" | tail -1)"
      test_rows+=("| $name | ? | - | - | - | cannot start (exit $status) |"); continue
    fi
    listed=$(echo "$list" | grep -c '^  ')
    [[ $listed -gt 0 ]] || continue
    if (( $(time_left) < 30 )); then
      fail "$name: skipped, the time budget ran out"; test_rows+=("| $name | $listed | - | - | - | not run (budget) |"); continue
    fi
    limit=$(( test_timeout < $(time_left) - 10 ? test_timeout : $(time_left) - 10 ))
    cmd="timeout $limit $prog --gtest_filter='$filter'"
    test_commands+=("$cmd")
    out=$logs/$name.out
    start=$SECONDS
    timeout "$limit" "$prog" --gtest_filter="$filter" > "$out" 2>&1
    status=$?
    { echo "===== $cmd (exit $status, $((SECONDS - start)) s)"; cat "$out"; } >> "$tests_log"
    passed=$(grep -oP '^\[  PASSED  \] \K[0-9]+' "$out" | tail -1)
    failed=$(grep -oP '^\[  FAILED  \] \K[0-9]+(?= tests?, listed below)' "$out" | tail -1)
    skipped=$(grep -oP '^\[  SKIPPED \] \K[0-9]+(?= tests?, listed below)' "$out" | tail -1)
    passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0}
    note=ok
    if [[ $status == 124 || $status == 137 ]]; then note="timed out after $limit s"; failed=$((listed - passed - skipped))
    elif ! grep -q '^\[==========\] .* ran\.' "$out"; then note="crashed (exit $status)"; failed=$((listed - passed - skipped))
    elif [[ $status != 0 ]]; then note="exit $status"; fi
    (( failed > 0 || skipped > 0 )) && note="$note; $(grep -oP '^\[  (FAILED  |SKIPPED )\] \K[A-Za-z0-9_/.]+(?=( \(|$))' "$out" | sort -u | tr '\n' ' ')"
    [[ $status != 0 || $failed -gt 0 ]] && fail "$name: $note"
    total_pass=$((total_pass + passed)) total_fail=$((total_fail + failed)) total_skip=$((total_skip + skipped))
    test_rows+=("| $name | $listed | $passed | $failed | $skipped | $note |")
    printf '%-16s %3d matched  %3d passed  %3d failed  %3d skipped  %3d s  %s\n' \
      "$name" "$listed" "$passed" "$failed" "$skipped" $((SECONDS - start)) "$note"
  done
  # End to end: aslnet train --device cuda on generated images (fp32 and bf16), CPU eval of the result.
  if (( $(time_left) > 60 )); then
    limit=$(( 240 < $(time_left) - 10 ? 240 : $(time_left) - 10 ))
    cmd="timeout $limit tests/e2e/train_cuda.sh $bundle/bin/aslnet /tmp/aslnet-e2e"
    test_commands+=("$cmd")
    start=$SECONDS
    timeout "$limit" "$root/tests/e2e/train_cuda.sh" "$bundle/bin/aslnet" /tmp/aslnet-e2e > "$logs/e2e_train_cuda.out" 2>&1
    status=$?
    { echo "===== $cmd (exit $status, $((SECONDS - start)) s)"; cat "$logs/e2e_train_cuda.out"; } >> "$tests_log"
    if [[ $status == 0 ]]; then
      total_pass=$((total_pass + 1)); test_rows+=("| e2e/train_cuda.sh | 1 | 1 | 0 | 0 | ok |")
    else
      total_fail=$((total_fail + 1)); fail "e2e/train_cuda.sh: exit $status: $(tail -1 "$logs/e2e_train_cuda.out")"
      test_rows+=("| e2e/train_cuda.sh | 1 | 0 | 1 | 0 | exit $status |")
    fi
    printf '%-16s exit %d  %3d s\n' e2e/train_cuda $status $((SECONDS - start))
  fi
  if (( total_pass + total_fail == 0 )); then fail "no test matching '$filter' ran"; fi
  echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
fi

# --- benchmarks ----------------------------------------------------------------------------------------
if [[ $run_bench == 1 ]]; then
  echo "== benchmarks (batch 256, $warmup warm-up + $steps timed steps, torchvision peer in the same call) =="
  configs=(
    "--arch resnet50 --size 224 --precision bf16"
    "--arch resnet50 --size 224 --precision fp32 --tf32"
    "--arch resnet18 --size 224 --precision bf16"
    "--arch resnet18 --size 224 --precision fp32 --tf32"
    "--arch resnet50 --size 200 --precision bf16"
    "--arch resnet50 --size 224 --precision bf16 --cuda-graph"
    "--arch resnet18 --size 224 --precision bf16 --cuda-graph"
  )
  bench=$bundle/bin/gpu_train_step
  [[ -x $bench ]] || fail "$bench is not in the bundle"
  [[ $gpu_name == unknown ]] && bench=/nonexistent  # no GPU: fail once (above), not once per benchmark
  for config in "${configs[@]}"; do
    [[ -x $bench ]] || break
    if (( $(time_left) < 40 )); then fail "benchmark '$config': skipped, the time budget ran out"; continue; fi
    limit=$(( bench_timeout < $(time_left) - 5 ? bench_timeout : $(time_left) - 5 ))
    # shellcheck disable=SC2086
    cmd="timeout $limit $bench $config --batch 256 --warmup $warmup --steps $steps --python $bundle/torch-python $bench_args"
    echo "\$ $cmd" | tee -a "$bench_log"
    # shellcheck disable=SC2086
    timeout "$limit" "$bench" $config --batch 256 --warmup "$warmup" --steps "$steps" --python "$bundle/torch-python" $bench_args \
      2>&1 | tee -a "$bench_log"
    status=${PIPESTATUS[0]}
    echo "(exit $status)" >> "$bench_log"; echo >> "$bench_log"
    [[ $status == 0 ]] || fail "benchmark '$config': exit $status$([[ $status == 124 ]] && echo ", timed out after $limit s")"
  done

  # Replication (engine/replication/): all-reduce bandwidth per message size (8 B to 1 GiB) per GPU
  # count, NCCL over the first k GPUs for k = 1, 2, 4, 8 and the machine's count (counts beyond the
  # machine's are reported as not run; one GPU is the floor of a collective's cost), and two replicas
  # sharing the GPU (in-process); then the reducer's overhead at world size 1 and the share of the
  # all-reduce that backward hides with two replicas sharing the GPU. Short runs, about 10-30 s each.
  echo "== replication benchmarks ==" | tee -a "$replication_log"
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  gpu_counts=1,2,4,8
  [[ ,$gpu_counts, == *,$gpus,* ]] || (( gpus < 1 )) || gpu_counts+=",$gpus"
  allreduce_json=$logs/allreduce.json
  step_config="--device cuda --arch resnet50 --size 224 --batch 64 --precision bf16 --warmup 3 --steps 10 --rounds 3"
  replication_configs=(
    "aslnet bench allreduce --device cuda --gpu-counts $gpu_counts --json $allreduce_json"
    "aslnet bench allreduce --device cuda --devices 0,0"
    "replication_step $step_config --replicas 1"
    "replication_step $step_config --replicas 2"
  )
  for config in "${replication_configs[@]}"; do
    [[ $gpu_name == unknown ]] && break
    prog=$bundle/bin/${config%% *}
    if [[ ! -x $prog ]]; then fail "${config%% *} is not in the bundle"; continue; fi
    if (( $(time_left) < 30 )); then fail "benchmark '$config': skipped, the time budget ran out"; continue; fi
    limit=$(( 90 < $(time_left) - 5 ? 90 : $(time_left) - 5 ))
    echo "\$ timeout $limit $bundle/bin/$config" | tee -a "$replication_log"
    # shellcheck disable=SC2086
    timeout "$limit" "$prog" ${config#* } 2>&1 | tee -a "$replication_log"
    status=${PIPESTATUS[0]}
    echo "(exit $status)" >> "$replication_log"; echo >> "$replication_log"
    [[ $status == 0 ]] || fail "benchmark '$config': exit $status$([[ $status == 124 ]] && echo ", timed out after $limit s")"
  done

  # aslnet bench: every kernel shape of resnet50 at 224 px in bf16; then training time per GPU count, the
  # seed's experiment (with the torchvision peer) when its photos travelled, else a short run on
  # synthetic images. Counts beyond this machine's GPUs are reported as not run by the command itself.
  echo "== aslnet bench ==" | tee -a "$aslbench_log"
  if [[ -f .devdata/asl-seed.tar ]]; then
    train_data=.devdata/asl-seed.tar
    train_args="--preset seed --peer --peer-script $root/bench/peers/torch_seed_experiment.py --python python3"
  else
    train_data=/tmp/gpu-check-synth
    [[ -d $train_data ]] || "$bundle/bin/aslnet" synth --out "$train_data" --per-class 100 --size 64 --quiet
    train_args="--arch resnet18 --width 0.5 --image-size 64 --epochs 3 --batch 64"
  fi
  # aslnet serve under load needs a checkpoint of a realistic size: one epoch of resnet50 at 128 px on
  # synthetic hands (the weights do not matter for throughput), then 32 clients with and without batching.
  serve_data=/tmp/gpu-check-serve-synth
  [[ -d $serve_data ]] || "$bundle/bin/aslnet" synth --out "$serve_data" --per-class 20 --size 128 --quiet
  aslbench_configs=(
    "bench kernels --device cuda --arch resnet50 --batch 256 --image-size 224 --precision bf16 --json $logs/kernels.json"
    "bench train $train_data --gpu-counts $gpu_counts $train_args --allreduce-json $allreduce_json --out $logs/bench-train"
    "train $serve_data --device cuda --arch resnet50 --image-size 128 --epochs 1 --batch 64 --quiet --out $logs/serve-model"
    "bench serve --checkpoint $logs/serve-model/last.safetensors --device cuda --clients 32 --requests 4000 --out $logs/bench-serve"
  )
  for config in "${aslbench_configs[@]}"; do
    [[ $gpu_name == unknown ]] && break
    if (( $(time_left) < 30 )); then fail "aslnet $config: skipped, the time budget ran out"; continue; fi
    limit=$(( 300 < $(time_left) - 5 ? 300 : $(time_left) - 5 ))
    # The model takes measured links from an all-reduce over 2 or more GPUs only; else its assumptions.
    [[ $config == "bench train"* ]] && { [[ ! -f $allreduce_json ]] || (( gpus < 2 )); } &&
      config=${config/--allreduce-json $allreduce_json/}
    echo "\$ timeout $limit aslnet $config" | tee -a "$aslbench_log"
    # shellcheck disable=SC2086
    timeout "$limit" "$bundle/bin/aslnet" $config 2>&1 | tee -a "$aslbench_log"
    status=${PIPESTATUS[0]}
    echo "(exit $status)" >> "$aslbench_log"; echo >> "$aslbench_log"
    [[ $status == 0 ]] || fail "aslnet $config: exit $status$([[ $status == 124 ]] && echo ", timed out after $limit s")"
  done
fi

# --- results file --------------------------------------------------------------------------------------
slug=$(echo "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed 's/[^a-z0-9]\+/-/g;s/^-//;s/-$//')
mkdir -p bench/results
results=bench/results/$(date -u +%Y-%m-%d)-$slug.md
[[ -e $results ]] && results=bench/results/$(date -u +%Y-%m-%d-%H%M)-$slug.md
{
  echo "# GPU check: $gpu_name, $(date -u +%Y-%m-%d)"
  echo
  echo "Written by \`$invocation\` on the lent GPU machine, from the bundle of \`scripts/gpu-bundle.sh\`."
  echo
  echo '```'
  head -7 "$env_log"
  echo '```'
  echo
  if [[ $run_tests == 1 ]]; then
    echo "## Tests"
    echo
    echo "Filter \`$filter\`, \`ASLNET_REQUIRE_GPU=1\` (a GPU test that would skip fails instead)."
    echo "Total: **$total_pass passed, $total_fail failed, $total_skip skipped**."
    echo
    echo "| program | matched | passed | failed | skipped | note |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${test_rows[@]}"
    echo
    echo "Commands:"
    echo
    echo '```'
    printf '%s\n' "${test_commands[@]}"
    echo '```'
    echo
  fi
  if [[ $run_bench == 1 ]]; then
    echo "## Training-step benchmark (bench/gpu_train_step, torchvision peer: bench/peers/torch_gpu_train_step.py)"
    echo
    echo "| arch | px | precision | aslnet img/s | torchvision img/s | ratio | aslnet TFLOP/s | measured peak TFLOP/s |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    grep '^result ' "$bench_log" | while read -r line; do
      get() { echo "$line" | grep -oP "(?<= $1=)[^ ]+"; }
      p=$(get precision); [[ $(get tf32) == 1 ]] && p="$p+tf32"; [[ $(get graph) == 1 ]] && p="$p, graph"
      echo "| $(get arch) | $(get size) | $p | $(get aslnet_img_s) | $(get torch_img_s) | $(get ratio) | $(get aslnet_tflops) | $(get peak_tflops) |"
    done
    echo
    echo "Full output (each block starts with its command):"
    echo
    echo '```'
    cat "$bench_log"
    echo '```'
    echo
    echo "## Replication benchmarks (aslnet bench allreduce, bench/replication_step)"
    echo
    echo "All-reduce (average, f32), nccl-tests' algbw and busbw, at the size where they peak; copy: the GPU's"
    echo "device-to-device copy, read+write. Every size of every count: \`aslnet bench allreduce --json\`, the"
    echo "allreduce.json that gpu-check copies to \$OUT with this file."
    echo
    echo "| communicator | ranks | peak algbw GB/s | peak busbw GB/s | at bytes | copy GB/s |"
    echo "| --- | --- | --- | --- | --- | --- |"
    grep '^result comm=' "$replication_log" | while read -r line; do
      get() { echo "$line" | grep -oP "(?<= $1=)[^ ]+"; }
      echo "| $(echo "$line" | grep -oP '(?<=comm=")[^"]+') | $(get ranks) | $(get peak_algbw_gbs) | $(get peak_busbw_gbs) | $(get at_bytes) | $(get copy_gbs) |"
    done
    not_run=$(sed -n 's/^== \([0-9]* GPUs: not run .*\) ==$/- \1/p' "$replication_log")
    [[ -n $not_run ]] && { echo; echo "GPU counts beyond this machine's, not run (never estimated here):"; echo; echo "$not_run"; }
    echo
    echo "Training step with the gradient reducer (resnet50, 224 px, batch 64 per replica, bf16):"
    echo
    echo "| measurement | communicator | figures |"
    echo "| --- | --- | --- |"
    grep '^result mode=' "$replication_log" | while read -r line; do
      comm=$(echo "$line" | grep -oP '(?<=comm=")[^"]+')
      rest=${line#*comm=\"*\" }
      echo "| $(echo "$line" | grep -oP '(?<=mode=)[^ ]+') | $comm | $rest |"
    done
    echo
    echo "Full output (each block starts with its command):"
    echo
    echo '```'
    cat "$replication_log"
    echo '```'
    echo
    echo "## aslnet bench kernels, train and serve"
    echo
    [[ -f $logs/bench-train/bench-train.md ]] && { sed 's/^# /### /' "$logs/bench-train/bench-train.md"; echo; }
    [[ -f $logs/bench-serve/bench-serve.md ]] && { sed 's/^# /### /' "$logs/bench-serve/bench-serve.md"; echo; }
    echo "Full output (each block starts with its command; the chart is bench-train.png beside this file):"
    echo
    echo '```'
    cat "$aslbench_log"
    echo '```'
    echo
  fi
  echo "## Verdict"
  echo
  if [[ ${#failures[@]} -eq 0 ]]; then echo "Everything passed."; else printf -- '- FAILED: %s\n' "${failures[@]}"; fi
} > "$results"
echo "gpu-check: wrote $results"

if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then
  # At most 8 files come back: the results, the chart, and one archive of every log and JSON.
  cp "$results" "$OUT/"
  [[ -f $logs/bench-train/bench-train.png ]] && cp "$logs/bench-train/bench-train.png" "$OUT/"
  tar -czf "$OUT/logs.tar.gz" -C "$logs" --exclude='bench-train/aslnet-*' --exclude='bench-train/data' --exclude='serve-model' . &&
    echo "gpu-check: copied the results, the chart and logs.tar.gz to \$OUT"
fi

echo "== summary ($SECONDS s) =="
if [[ $run_tests == 1 ]]; then echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"; fi
grep -E '^(config|aslnet|torchvision|ratio) ' "$bench_log" 2>/dev/null || true
grep -E '^result ' "$replication_log" 2>/dev/null || true
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "gpu-check: all passed"
