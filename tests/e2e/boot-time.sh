#!/bin/bash
# boot-time.sh: median time-to-KVMINI_INIT_OK and time-to-exit of N boots of the boot case (host or nested mode).
# usage: tests/e2e/boot-time.sh [N]   (default 5; KVMINI_E2E_MODE=host|nested forces the mode)
# Prints one "boottime: run I ..." line per boot and a last "boottime: median of N runs: ..." line.
set -euo pipefail
n=${1:-5}
case $n in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
exec "$(cd "$(dirname "$0")" && pwd)/run.sh" boottime "$n"
