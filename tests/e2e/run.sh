#!/bin/bash
# run.sh: entry point of `make e2e`: choose host or nested mode, fetch the kernel, build the guest initramfs, run the cases.
# usage: tests/e2e/run.sh [CASE...]   (default: all cases; `boottime N` runs the boot-time benchmark)
# env: KVMINI_E2E_MODE=host|nested|auto, KVMINI_E2E_CASES (cases when no arguments), KVMINI_CACHE,
#      KVMINI (binary, default build/kvmini); see tests/e2e/README.md for the testbed knobs.
# The last line is always "N passed, N failed"; the exit status is 0 only if all cases passed.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
cd "$REPO_ROOT"

if [ $# -eq 0 ] && [ -n "${KVMINI_E2E_CASES:-}" ]; then
	# shellcheck disable=SC2086 # a list of case names
	set -- $KVMINI_E2E_CASES
fi
export KVMINI=${KVMINI:-$KVMINI_BUILD/kvmini}
[ -x "$KVMINI" ] || die "no kvmini binary at $KVMINI (run make first)"
need_cmds cpio:cpio /bin/busybox:busybox-static gzip:gzip "${CC:-cc}:gcc" apt-get:apt lz4:lz4

choose_mode
echo "e2e: $E2E_MODE mode: $E2E_MODE_WHY"
fetch_kernel
export KERNEL KERNEL_MODDIR
export WORK=$REPO_ROOT/$KVMINI_BUILD/e2e/$E2E_MODE
mkdir -p "$WORK"
export INITRD=$WORK/guest-initrd.cpio.gz
build_guest_initrd "$INITRD"
export VMLINUX=$WORK/vmlinux
extract_vmlinux "$VMLINUX"

if [ "$E2E_MODE" = host ]; then
	TMARK=$(build_tool tmark)
	export TMARK TINY=$REPO_ROOT/$KVMINI_BUILD/guest
	# The network cases make taps, a dummy interface and routes on 192.0.2.0/24: run the cases in a network
	# namespace of their own, so this host's interfaces and routes are never touched (L1 is one already).
	if unshare --net true 2>/dev/null; then
		netns="unshare --net"
	elif unshare --user --map-root-user --net true 2>/dev/null; then
		netns="unshare --user --map-root-user --net"
	else
		netns="" KVMINI_E2E_NONETNS="unshare --net failed"
		export KVMINI_E2E_NONETNS
		echo "e2e: no network namespace (unshare --net failed): the network cases will fail, not touch this host"
	fi
	# cases.sh is POSIX sh; run it with the system sh (dash) as it runs under busybox ash in L1.
	# shellcheck disable=SC2086 # $netns is a command prefix
	exec $netns sh "$E2E_DIR/cases.sh" "$@"
fi
if [ "${1:-}" = boottime ]; then
	exec "$E2E_DIR/testbed.sh" "$@"
fi
exec "$E2E_DIR/testbed.sh" cases "$@"
