#!/bin/bash
# testbed.sh: run an e2e batch inside the nested testbed: an L1 Linux under QEMU TCG (emulated AMD SVM) with its own /dev/kvm.
# usage: tests/e2e/testbed.sh cases [CASE...] | boottime N | demo | shell | probe | script FILE
#   cases   run tests/e2e/cases.sh in L1; its lines are echoed, the "N passed, N failed" line last
#   boottime N   cases.sh boottime N in L1 (boot-time medians)
#   demo    boot the demo guest (kvmini.test=demo) in L1 and show its console
#   shell   interactive guest shell (kvmini.test=shell) in L1 on this terminal (needs a TTY;
#           QEMU's Ctrl-A x quits at any time)
#   probe   only boot L1, load KVM and check /dev/kvm (no kvmini needed)
#   script FILE  run FILE with sh in L1 (same env as cases.sh: KVMINI, KERNEL, INITRD, WORK, TMARK),
#           for experiments and for debugging kvmini where the host has no usable /dev/kvm
# A batch whose L1 dies (panic/oops on its console, QEMU gone before the end marker, or the hard
# time limit) is reported in one line and retried once.
# env (all optional): KVMINI (build/kvmini), KERNEL/KERNEL_MODDIR (fetched), INITRD (built), WORK
#   (build/e2e/nested), KVMINI_L1_CPU (max), KVMINI_L1_SMP (2), KVMINI_L1_MEM (3G),
#   KVMINI_L1_KVM_AMD_OPTS, KVMINI_L1_KVM_OPTS (module options), KVMINI_L1_APPEND (extra L1
#   kernel words), KVMINI_TESTBED_TIMEOUT (hard limit of one try, s), KVMINI_TESTBED_TRIES (2),
#   KVMINI_E2E_SCALE (case time-limit multiplier in L1, 3),
#   KVMINI_TESTBED_CRASH=once|always (make L1 panic right after BEGIN: tests dead-L1 handling), or freeze
#   (L1 goes silent in try 1: tests the heartbeat watchdog, KVMINI_TESTBED_DEAD).
#   KVMINI_TESTBED_QEMU=1 (also put qemu-system-x86_64, its libraries and firmware in L1: make bench).
#   KVMINI_TESTBED_IPERF3=1 (also put iperf3 and its libraries in L1: make bench's network phase).
set -euo pipefail

E2E_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
cd "$REPO_ROOT"

cmd=${1:-cases}
shift || true
case $cmd in
cases) batch="$*" ;;
boottime) batch="boottime ${1:-5}" ;;
demo | probe | shell) batch=$cmd ;;
script) batch=script script=${1:?script needs a FILE} ;;
*) die "usage: testbed.sh cases [CASE...] | boottime N | demo | shell | probe | script FILE" ;;
esac

need_cmds qemu-system-x86_64:qemu-system-x86 cpio:cpio /bin/busybox:busybox-static gzip:gzip
KVMINI=${KVMINI:-$KVMINI_BUILD/kvmini}
WORK=${WORK:-$KVMINI_BUILD/e2e/nested}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
if [ -z "${KERNEL:-}" ] || [ -z "${KERNEL_MODDIR:-}" ]; then fetch_kernel; fi
if [ -z "${INITRD:-}" ]; then
	INITRD=$WORK/guest-initrd.cpio.gz
	build_guest_initrd "$INITRD"
fi
TRIES=${KVMINI_TESTBED_TRIES:-2}
# Hard limit of one try: L1 boot and KVM load take ~10 s, an L2 boot ~15-20 s, a broken case up to
# its limit (60 s in L1); boottime scales with N.
case $cmd in
boottime) HARD=${KVMINI_TESTBED_TIMEOUT:-$((120 + ${1:-5} * 45))} ;;
*) HARD=${KVMINI_TESTBED_TIMEOUT:-1500} ;;
esac
# A batch that prints no result line for this long is stuck (a case hung inside L1: seen twice, an L2 vCPU
# that never came back from L1's KVM_RUN, so even SIGKILL could not end its kvmini): end L1 and retry. The
# longest case legitimately waits 180 s (net-tap's own time-out), so the default leaves room for that.
IDLE=${KVMINI_TESTBED_IDLE:-300}
# L1 writes a heartbeat line every 5 s; none for this long means all of L1 has stopped (the usual way this
# testbed fails: a frozen L1 with both of QEMU's vCPU threads busy), so the try ends without waiting for IDLE.
# The margin is for a TCG vCPU of L1 starved on a loaded host (26 s seen with fuzzers running beside it).
DEAD=${KVMINI_TESTBED_DEAD:-90}
SCALE=${KVMINI_E2E_SCALE:-3}
L1_CPU=${KVMINI_L1_CPU:-max}
L1_SMP=${KVMINI_L1_SMP:-2}
L1_MEM=${KVMINI_L1_MEM:-3G}

# --- L1 initramfs: busybox, KVM modules, kvmini with its libraries, the L2 kernel and initramfs.
files=(-f "$(build_tool tmark static):/e2e/tmark" -f "$(build_tool kvm-probe static):/e2e/kvm-probe"
	-f "$E2E_DIR/cases.sh:/e2e/cases.sh" -f "$KERNEL:/e2e/vmlinuz" -f "$INITRD:/e2e/initrd.cpio.gz")
[ "$cmd" = script ] && files+=(-f "$script:/e2e/user.sh")
# The ELF vmlinux for the PVH case (run.sh extracts it), when there is one.
[ -n "${VMLINUX:-}" ] && [ -r "$VMLINUX" ] && files+=(-f "$VMLINUX:/e2e/vmlinux")
# The tiny test guests (make guests): a few lines of assembly each, see guest/tiny/.
for g in "$REPO_ROOT/$KVMINI_BUILD"/guest/*.bzImage; do
	[ -e "$g" ] && files+=(-f "$g:/e2e/tiny/${g##*/}")
done
# What the demo-* cases compare kvmini demo's console and trace with (the demos themselves are inside kvmini).
for g in "$E2E_DIR"/expected/*; do
	[ -e "$g" ] && files+=(-f "$g:/e2e/expected/${g##*/}")
done
if [ "$cmd" != probe ]; then
	[ -x "$KVMINI" ] || die "no kvmini binary at $KVMINI (run make)"
	files+=(-f "$KVMINI:/e2e/kvmini")
	# The shared libraries and the dynamic loader, at the paths the binary expects.
	while read -r lib; do
		files+=(-f "$(readlink -f "$lib"):$lib")
	done < <(ldd "$KVMINI" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
fi
# kvmini run -- CMD: the modules its init loads (--modules /e2e/modules), with their paths under the package's
# lib/modules/VERSION, and a dynamically linked program for --add-bin (Debian's env; busybox is static).
while read -r ko; do
	files+=(-f "$ko:/e2e/modules/${ko#"$KERNEL_MODDIR"/}")
done < <(find "$KERNEL_MODDIR" \( -name button.ko -o -name evdev.ko -o -name 'virtio*.ko' -o -name 'net_failover.ko' \
	-o -name failover.ko \))
files+=(-f "$(readlink -f /usr/bin/env):/e2e/bin/env")
# Host-side checkers of the disk cases (e2fsprogs) and passt (kvmini -n user), with their libraries.
for tool in e2fsck debugfs passt; do
	bin=$(command -v "$tool" || true)
	[ -n "$bin" ] || continue
	files+=(-f "$(readlink -f "$bin"):/usr/sbin/$tool")
	while read -r lib; do
		files+=(-f "$(readlink -f "$lib"):$lib")
	done < <(ldd "$bin" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
done
# Opt-in (tests/e2e/bench.sh): QEMU as a second L2 VMM, at /usr/bin so that it finds its firmware in
# /usr/share/{qemu,seabios}, with its libraries and the firmware that -M q35/microvm -kernel load
# (pvh.bin: the option ROM that boots an ELF vmlinux through its PVH entry, -kernel vmlinux; efi-virtio.rom:
# virtio-net-pci's default option ROM from ipxe-qemu, which QEMU refuses to start without: the network phase).
if [ "${KVMINI_TESTBED_QEMU:-0}" = 1 ]; then
	qemu_bin=$(command -v qemu-system-x86_64)
	files+=(-f "$(readlink -f "$qemu_bin"):/usr/bin/qemu-system-x86_64")
	while read -r lib; do
		files+=(-f "$(readlink -f "$lib"):$lib")
	done < <(ldd "$qemu_bin" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
	for fw in /usr/share/seabios/bios-256k.bin /usr/share/qemu/bios-microvm.bin /usr/share/qemu/kvmvapic.bin \
		/usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/pvh.bin /usr/lib/ipxe/qemu/efi-virtio.rom; do
		files+=(-f "$(readlink -f "$fw"):$fw")
	done
fi
# Opt-in (make bench's network phase): iperf3 at /usr/bin, with its libraries.
if [ "${KVMINI_TESTBED_IPERF3:-0}" = 1 ]; then
	iperf3_bin=$(command -v iperf3) || die "KVMINI_TESTBED_IPERF3=1 but no iperf3 here (apt-get install iperf3)"
	files+=(-f "$(readlink -f "$iperf3_bin"):/usr/bin/iperf3")
	while read -r lib; do
		files+=(-f "$(readlink -f "$lib"):$lib")
	done < <(ldd "$iperf3_bin" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
fi
conf=$WORK/testbed.conf
write_conf() {
	printf 'TESTBED_CMD=%q\n' "$1"
	printf 'TESTBED_KVM_AMD_OPTS=%q\n' "${KVMINI_L1_KVM_AMD_OPTS:-}"
	printf 'TESTBED_KVM_OPTS=%q\n' "${KVMINI_L1_KVM_OPTS:-}"
	printf 'TESTBED_SCALE=%q\n' "$SCALE"
	# The batch stops itself before QEMU's hard limit, so a slow batch still reports.
	printf 'TESTBED_LIMIT=%q\n' "$((HARD - 40))"
}
write_conf "$batch" >"$conf"
files+=(-f "$conf:/etc/testbed.conf")
l1_initrd=$WORK/l1.cpio.gz
build_l1() {
	local t0
	t0=$(date +%s.%N)
	"$REPO_ROOT/guest/mkinitramfs.sh" -o "$l1_initrd" -i "$E2E_DIR/l1-init.sh" -k "$KERNEL_MODDIR" -M kvm_amd,tun,dummy,loop "${files[@]}"
	log "testbed: L1 initramfs $(du -k "$l1_initrd" | cut -f1) KiB built in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
}
build_l1

if [ "$cmd" = shell ]; then
	if [ ! -t 0 ] || [ ! -t 1 ]; then die "shell needs a terminal on stdin and stdout"; fi
	log "testbed: booting L1 (about 10 s), then the guest (about 20 s); QEMU's Ctrl-A x quits at any time"
	# L1's console is this terminal; L1 itself stays quiet so only the guest's console shows.
	exec qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu "$L1_CPU" -smp "$L1_SMP" -m "$L1_MEM" \
		-kernel "$KERNEL" -initrd "$l1_initrd" \
		-append "console=ttyS0 panic=-1 oops=panic mitigations=off quiet kvmini.crash=0 ${KVMINI_L1_APPEND:-}" \
		-display none -vga none -serial mon:stdio -serial "file:$WORK/results.shell.log" -nic none -no-reboot
fi

summary_re='^[0-9]+ passed, [0-9]+ failed$'
# show_results: echo the batch output live; protocol lines become short "testbed:" lines and the
# summary line is held back so that it can be printed last.
show_results() {
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		KVMINI_TESTBED_UP*)
			line=${line#KVMINI_TESTBED_UP }
			log "testbed: L1 up after $(elapsed) s (L1 ${line% ktext=*})"
			;;
		KVMINI_TESTBED_KVM*) log "testbed: KVM ready after $(elapsed) s (${line#KVMINI_TESTBED_KVM })" ;;
		KVMINI_TESTBED_NOKVM*) log "testbed: L1 has no usable /dev/kvm: ${line#KVMINI_TESTBED_NOKVM }" ;;
		KVMINI_TESTBED_BEGIN | KVMINI_TESTBED_HB) ;;
		tmark:*) ;; # the batch's own timing, already in the END line
		KVMINI_TESTBED_END*) log "testbed: batch ended after $(elapsed) s (${line#KVMINI_TESTBED_END })" ;;
		*) [[ $line =~ $summary_re ]] || printf '%s\n' "$line" ;;
		esac
	done
}
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }

# reported: the case names with a PASS or FAIL line in the tries so far (a retry runs only the others).
reported() { cat "$WORK"/results.*.log 2>/dev/null | tr -d '\r' | sed -n 's/^PASS \([^ :]*\).*/\1/p; s/^FAIL \([^ :]*\):.*/\1/p'; }
count() { cat "$WORK"/results.*.log 2>/dev/null | tr -d '\r' | grep -ac "^$1 " || true; }
# pending: the batch's cases (all of cases.sh's when none were named) that have not reported, in order.
pending() {
	local all c done_list left=""
	all=$batch
	[ -n "$all" ] || all=$(sed -n 's/^ALL_CASES="\(.*\)"$/\1/p' "$E2E_DIR/cases.sh")
	done_list=" $(reported | tr '\n' ' ') "
	for c in $all; do
		case $done_list in *" $c "*) ;; *) left="$left $c" ;; esac
	done
	echo "${left# }"
}
rm -f "$WORK"/results.*.log "$WORK"/stuck.* "$WORK"/regs.* "$WORK"/monitor.*.sock

try=1
final_status=1
while :; do
	if [ "$try" -gt 1 ] && [ "$cmd" = cases ]; then
		# Resume: the cases that have not reported yet, in order (the one that was running among them).
		left=$(pending)
		if [ -z "$left" ]; then # everything reported before L1 died
			final_status=0
			break
		fi
		log "testbed: retrying the $(echo "$left" | wc -w) cases that did not report: $left"
		write_conf "$left" >"$conf"
		build_l1
	fi
	console=$WORK/console.$try.log results=$WORK/results.$try.log
	: >"$console"
	: >"$results"
	crash=0
	case ${KVMINI_TESTBED_CRASH:-} in
	once) [ "$try" = 1 ] && crash=1 ;;
	always) crash=1 ;;
	freeze) [ "$try" = 1 ] && crash=2 ;;
	esac
	log "testbed: booting L1 (try $try/$TRIES: qemu TCG -cpu $L1_CPU -smp $L1_SMP -m $L1_MEM${KVMINI_L1_KVM_AMD_OPTS:+, kvm_amd $KVMINI_L1_KVM_AMD_OPTS}; console log $console)"
	start=$(date +%s.%N)
	# ttyS0 (console, kernel messages) and ttyS1 (batch results) go to separate files.
	# panic=-1 + -no-reboot: a dead L1 ends QEMU at once; oops=panic, softlockup_panic=1: an oops or
	# a soft lockup (seen with kvm_amd vgif=0 vls=0) is a death too, not a wait for the hard limit.
	# watchdog_thresh=60 (soft lockup after 120 s, not 20): on a loaded host (fuzzers, a second QEMU)
	# a TCG vCPU of L1 was starved for 26 s inside KVM_RUN, a false death that cost a whole retry.
	timeout -s KILL "$HARD" qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu "$L1_CPU" \
		-smp "$L1_SMP" -m "$L1_MEM" -kernel "$KERNEL" -initrd "$l1_initrd" \
		-append "console=ttyS0 panic=-1 oops=panic softlockup_panic=1 watchdog_thresh=60 mitigations=off loglevel=6 kvmini.crash=$crash ${KVMINI_L1_APPEND:-}" \
		-display none -vga none -monitor "unix:$WORK/monitor.$try.sock,server=on,wait=off" \
		-serial "file:$console" -serial "file:$results" \
		-nic none -no-reboot </dev/null >"$WORK/qemu.$try.log" 2>&1 &
	qpid=$!
	# The watchdog: no byte at all for DEAD s (the heartbeat stopped: L1 froze), or no line but heartbeats for
	# IDLE s (a case hung while L1 lives). It ends the try with SIGTERM to QEMU, saying which in stuck.TRY.
	(
		last=-1 silent=0 lastn=-1 idle=0
		while kill -0 "$qpid" 2>/dev/null; do
			sleep 5
			size=$(stat -c %s "$results" 2>/dev/null || echo 0)
			if [ "$size" != "$last" ]; then last=$size silent=0; else silent=$((silent + 5)); fi
			n=$(grep -avc '^KVMINI_TESTBED_HB' "$results" 2>/dev/null || true)
			if [ "$n" != "$lastn" ]; then lastn=$n idle=0; else idle=$((idle + 5)); fi
			why=""
			# Only once L1 is up (its first line), since the heartbeat starts there.
			if [ "$size" -gt 0 ] && [ "$silent" -ge "$DEAD" ]; then
				why="no heartbeat from L1 for $silent s: L1 froze"
			elif [ "$idle" -ge "$IDLE" ]; then
				why="no result line for $idle s (L1 alive): a case hung inside L1"
			fi
			if [ -n "$why" ]; then
				# Where L1's vCPUs are, from QEMU's monitor, before QEMU goes (qemu-regs.py).
				if command -v python3 >/dev/null; then
					ktext=$(sed -n 's/^KVMINI_TESTBED_UP.* ktext=\([0-9a-f]*-[0-9a-f]*\).*/\1/p' "$results" | head -n1)
					python3 "$E2E_DIR/qemu-regs.py" "$WORK/monitor.$try.sock" "$ktext" >"$WORK/regs.$try" 2>&1
				fi
				echo "$why" >"$WORK/stuck.$try"
				kill -TERM "$qpid" 2>/dev/null
				break
			fi
		done
	) &
	wpid=$!
	tail -n +1 -f --pid="$qpid" "$results" | show_results
	qstatus=0
	wait "$qpid" || qstatus=$?
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	# Anything written after tail's last look.
	end_line=$(tr -d '\r' <"$results" | grep -a '^KVMINI_TESTBED_END' | tail -n1 || true)
	if [ -n "$end_line" ]; then
		status=${end_line#*status=}
		status=${status%% *}
		final_status=$status
		break
	fi
	if grep -aq '^KVMINI_TESTBED_NOKVM' "$results"; then
		echo "FAIL testbed: L1 has no usable /dev/kvm (see $console)"
		final_status=1
		tries_left=0
	else
		panic=$(tr -d '\r' <"$console" | grep -a -m1 -E 'BUG:|Kernel panic|Oops|general protection fault|stack guard page|watchdog: BUG' | cut -c1-160 || true)
		if [ -e "$WORK/stuck.$try" ]; then
			why="$(cat "$WORK/stuck.$try")${panic:+ (console: $panic)}"
		elif [ "$qstatus" = 137 ]; then
			why="no end marker within the hard limit of $HARD s${panic:+ (console: $panic)}"
		elif [ -n "$panic" ]; then
			why="$panic"
		else
			why="QEMU exited with status $qstatus before the end marker ($(tail -n1 "$WORK/qemu.$try.log" 2>/dev/null))"
		fi
		log "testbed: L1 died in try $try after $(elapsed) s: $why"
		# A frozen L1's vCPUs, as QEMU saw them (full register dumps in regs.TRY).
		[ -s "$WORK/regs.$try" ] && grep -av '^#' "$WORK/regs.$try" | sed 's/^/testbed:   /' >&2
		tries_left=$((TRIES - try))
	fi
	if [ "$tries_left" -le 0 ]; then
		# Count what every try reported, plus the testbed itself as a failure.
		echo "FAIL testbed: L1 died ${TRIES}x; the batch did not complete (logs in $WORK)"
		[ "$cmd" = cases ] && echo "$(count PASS) passed, $(($(count FAIL) + 1)) failed"
		exit 1
	fi
	try=$((try + 1))
done
if [ "$cmd" = cases ]; then
	# The summary counts every try (after a retry, cases.sh's own line covers only the cases it ran), and a
	# case that never reported is a failure of its own.
	extra=0
	missing=$(pending)
	if [ -n "$missing" ]; then
		echo "FAIL testbed: no result from: $missing (status $final_status)"
		extra=1
	fi
	[ "$(count FAIL)" = 0 ] && [ "$extra" = 0 ] || final_status=1
	echo "$(count PASS) passed, $(($(count FAIL) + extra)) failed"
fi
exit "$final_status"
