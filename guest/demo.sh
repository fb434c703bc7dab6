#!/bin/bash
# demo.sh: `make demo` / `make shell`: boot the Debian cloud kernel with the demo initramfs under build/kvmini.
# usage: guest/demo.sh demo|shell
#   demo   the guest prints uname -a, its memory and CPU count, then reboots (kvmini exits 0)
#   shell  an interactive busybox shell in the guest on this terminal; `exit` reboots the guest
# Where /dev/kvm is not usable (missing, or only emulated), both run inside the nested QEMU
# testbed (tests/e2e/testbed.sh); shell without a terminal explains why and exits 125.
# env: KVMINI (default build/kvmini), KVMINI_E2E_MODE=host|nested, KVMINI_CACHE, KVMINI_MEM (-m).
set -euo pipefail

what=${1:-demo}
case $what in demo | shell) ;; *) echo "usage: $0 demo|shell" >&2; exit 2 ;; esac
E2E_DIR=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
cd "$REPO_ROOT"

KVMINI=${KVMINI:-$KVMINI_BUILD/kvmini}
[ -x "$KVMINI" ] || die "no kvmini binary at $KVMINI (run make first)"
need_cmds cpio:cpio /bin/busybox:busybox-static gzip:gzip
fetch_kernel
initrd=$REPO_ROOT/$KVMINI_BUILD/demo/initrd.cpio.gz
"$REPO_ROOT/guest/mkinitramfs.sh" -o "$initrd"
choose_mode

if [ "$E2E_MODE" = host ]; then
	echo "demo: booting $(basename "$KERNEL") under $KVMINI ($E2E_MODE_WHY)" >&2
	mem=()
	[ -n "${KVMINI_MEM:-}" ] && mem=(-m "$KVMINI_MEM")
	if [ "$what" = demo ]; then
		# The demo reboots by itself; the timeout only bounds a broken run.
		exec "$KVMINI" run -k "$KERNEL" -i "$initrd" "${mem[@]}" -c 2 --timeout 120 \
			-a "console=ttyS0 reboot=k panic=-1 kvmini.test=demo kvmini.end=poweroff"
	fi
	echo "demo: type 'exit' (or Ctrl-D) in the guest shell to reboot it and end kvmini" >&2
	exec "$KVMINI" run -k "$KERNEL" -i "$initrd" "${mem[@]}" \
		-a "console=ttyS0 reboot=k panic=-1 kvmini.test=shell"
fi

if [ "$what" = shell ]; then
	if [ -t 0 ] && [ -t 1 ]; then
		echo "demo: $E2E_MODE_WHY; running the shell inside the nested QEMU testbed (slow; Ctrl-A x quits QEMU)" >&2
		INITRD=$initrd exec "$E2E_DIR/testbed.sh" shell
	fi
	echo "demo: an interactive shell needs a terminal, and a usable /dev/kvm for a fast one ($E2E_MODE_WHY)" >&2
	exit 125
fi
echo "demo: $E2E_MODE_WHY; running the demo inside the nested QEMU testbed (slow: about a minute)" >&2
INITRD=$initrd exec "$E2E_DIR/testbed.sh" demo
