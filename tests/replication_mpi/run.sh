#!/usr/bin/env bash
# Runs the MPI replication test on 2 ranks. Exit 77 (skipped) without mpirun, unless ASLNET_REQUIRE_MPI=1.
set -euo pipefail
if ! command -v mpirun > /dev/null; then
  if [[ -n "${ASLNET_REQUIRE_MPI:-}" && "${ASLNET_REQUIRE_MPI}" != 0 ]]; then echo "no mpirun (and ASLNET_REQUIRE_MPI is set)" >&2; exit 1; fi
  echo "skipped: replication_mpi: mpirun not found (apt-get install openmpi-bin)"; exit 77
fi
# --oversubscribe: 2 ranks on a 2-core CI machine; --allow-run-as-root: CI runs as root. A hung rank
# must not hang CI: the outer timeout ends it.
exec timeout 240 mpirun --allow-run-as-root --oversubscribe -np 2 "$1"
