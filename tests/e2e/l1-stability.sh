#!/bin/bash
# l1-stability.sh: measure how often the nested testbed's L1 dies under repeated L2 boots, per L1 configuration.
# usage: tests/e2e/l1-stability.sh [BOOTS] [CONFIG...]
#   BOOTS    L2 boots per batch (default 10); one batch per configuration
#   CONFIG   NAME=cpu,smp,kvm_amd-options (options joined with '+'), e.g. "smp1=max,1," or
#            "novgif=max,2,vgif=0+vls=0"; default: the set measured in tests/e2e/README.md
# Prints one table row per configuration: boots done, L1 deaths, wall time, median boot times.
# Each batch is bounded by testbed.sh's hard limit; no retry (KVMINI_TESTBED_TRIES=1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
boots=${1:-10}
shift || true
[ $# -gt 0 ] || set -- "default=max,2," "smp1=max,1," "novgif-novls=max,2,vgif=0+vls=0" "epyc=EPYC,2,"
out=${WORK:-build/e2e/stability}
mkdir -p "$out"
printf '| %-14s | %-30s | %5s | %6s | %6s | %-28s |\n' config "qemu -cpu / -smp / kvm_amd" boots deaths wall_s "median marker/exit ms"
for spec in "$@"; do
	name=${spec%%=*} rest=${spec#*=}
	cpu=${rest%%,*} rest=${rest#*,}
	smp=${rest%%,*} opts=${rest#*,}
	opts=${opts//+/ }
	log=$out/$name.log
	t0=$(date +%s)
	KVMINI_TESTBED_TRIES=1 KVMINI_L1_CPU=$cpu KVMINI_L1_SMP=$smp KVMINI_L1_KVM_AMD_OPTS=$opts \
		WORK=$out/$name "$here/testbed.sh" boottime "$boots" >"$log" 2>&1 || true
	wall=$(($(date +%s) - t0))
	done_boots=$(grep -c '^boottime: run [0-9]* marker' "$log" || true)
	deaths=$(grep -c 'L1 died in try' "$log" || true)
	median=$(sed -n 's/^boottime: median of [0-9]* runs: marker_ms=\([0-9]*\) exit_ms=\([0-9]*\)/\1 \/ \2/p' "$log")
	failed=$(grep -m1 '^boottime: run [0-9]* failed' "$log" | cut -c1-60 || true)
	printf '| %-14s | %-30s | %5s | %6s | %6s | %-28s |\n' "$name" "$cpu / $smp / ${opts:-(defaults)}" \
		"$done_boots/$boots" "$deaths" "$wall" "${median:-${failed:-none}}"
done
