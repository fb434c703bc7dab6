#!/bin/bash
# bench.sh: `make bench`: boot time and memory footprint of kvmini against QEMU (q35 and microvm), side by side.
# usage: tests/e2e/bench.sh          (= make bench; BENCH_N=3 make bench for fewer boots)
# The same kernel (Debian's cloud kernel, as in the e2e tests), guest initramfs (guest/init/init,
# kvmini.test=boot: print KVMINI_INIT_OK and KVMINI_UPTIME, reboot), memory, one vCPU and command line
# are booted BENCH_N rounds of: kvmini and `qemu-system-x86_64 -accel kvm -M q35` with the bzImage, then
# kvmini (-k vmlinux) and QEMU q35 (-kernel vmlinux, pvh.bin) with the ELF vmlinux extracted from it
# (the PVH entry: no decompressor); then once QEMU `-M microvm,rtc=on` with the bzImage. tmark measures
# each boot: exec to the marker line on the console, exec to exit, peak RSS, and the guest RAM touched
# (Rss of the guest-RAM mapping, sampled from /proc/PID/smaps); the guest's uptime at /init splits exec
# to marker into "before the kernel" and "kernel to /init". The table (medians, min-max, like-for-like
# ratios) is printed and written, with the method, to docs/benchmarks.md.
# Then the disk phase (BENCH_BLK=1): BENCH_BLK_N rounds of kvmini (-d IMG) and QEMU q35 (virtio-blk-pci),
# each booting the same kernel with a second initramfs (guest/init/init kvmini.test=blkbench, /bin/blkbench
# from tests/e2e/blkbench.c, the virtio modules) on a fresh 256 MiB raw image: the guest's sequential
# write and read MiB/s and 4 KiB random-read IOPS, as medians and kvmini/QEMU ratios in a table of its own.
# Then the network phase (BENCH_NET=1, tests/e2e/bench-net.sh): BENCH_NET_N rounds of kvmini (-n tap:) and QEMU q35
# (virtio-net-pci on a tap, vhost=off), each booting a third initramfs (kvmini.test=netbench, iperf3 and the
# virtio-net modules): TCP throughput guest to host and host to guest with iperf3 against a server on the tap's
# host side, as medians and kvmini/QEMU ratios in a table of its own.
# Runs on the host when /dev/kvm is usable (tests/e2e/lib.sh choose_mode, as `make e2e`), else in
# the nested testbed (testbed.sh script, with KVMINI_TESTBED_QEMU=1 so L1 has QEMU; a dead L1 is
# retried there). A failed boot is shown as failed; the exit status is 1 when a kvmini boot failed.
# env (all optional): BENCH_N (5), BENCH_MEM (256M), BENCH_CMDLINE (see below), BENCH_MICROVM (the
#   -M value of the microvm boot, "microvm,rtc=on"; empty: skip it), BENCH_PVH (1; 0: skip the vmlinux
#   pair kvmini-pvh / qemu-q35-pvh), BENCH_PERIOD_MS (smaps sampling, 100), BENCH_SCRUB_MB (nested: 384),
#   BENCH_LIMIT (s per boot: 30 host, 60 nested), BENCH_DOC (docs/benchmarks.md; empty: do not write),
#   BENCH_BLK (1; 0: skip the disk phase), BENCH_BLK_N (3), BENCH_BLK_LIMIT (s per disk boot: twice
#   BENCH_LIMIT), BENCH_BLK_CMDLINE (BENCH_CMDLINE with kvmini.test=blkbench kvmini.end=poweroff),
#   BENCH_NET (1; 0: skip the network phase), BENCH_NET_N (3), BENCH_NET_SECS (10: each iperf3 run),
#   BENCH_NET_LIMIT (s per network boot: twice BENCH_LIMIT plus both iperf3 runs), BENCH_NET_CMDLINE
#   (BENCH_CMDLINE with kvmini.test=netbench kvmini.end=poweroff kvmini.net_secs=BENCH_NET_SECS),
#   KVMINI (build/kvmini), KVMINI_E2E_MODE=host|nested|auto, and the testbed's KVMINI_L1_* knobs.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
cd "$REPO_ROOT"

N=${BENCH_N:-5}
MEM=${BENCH_MEM:-256M}
# reboot=t: the guest ends with a triple fault, which ends all three VMMs at once (-no-reboot for
# QEMU); microvm has no i8042, so reboot=k would first spin in the kernel's keyboard-controller wait.
# quiet: console output, which costs two exits per byte in every VMM, would dominate the boot time.
CMDLINE=${BENCH_CMDLINE:-console=ttyS0 reboot=t panic=-1 quiet kvmini.test=boot}
# rtc=on: without it (QEMU 7.2, KVM) microvm has no CMOS RTC, and the guest's rtc_cmos driver then probes
# the missing one for seconds ("rtc_cmos: broken or not accessible"); kvmini and q35 both have an RTC.
MICROVM=${BENCH_MICROVM-microvm,rtc=on}
PERIOD=${BENCH_PERIOD_MS:-100}
# Nested only: MiB written through L1's free memory before each boot (bench-l1.sh's scrub says why).
SCRUB=${BENCH_SCRUB_MB:-384}
case $SCRUB in '' | *[!0-9]*) die "BENCH_SCRUB_MB must be a number (got '$SCRUB')" ;; esac
DOC=${BENCH_DOC-docs/benchmarks.md}
PVH=${BENCH_PVH:-1}
case $PVH in 0 | 1) ;; *) die "BENCH_PVH must be 0 or 1 (got '$PVH')" ;; esac
case $N in '' | *[!0-9]* | 0) die "BENCH_N must be a positive number (got '$N')" ;; esac
BLK=${BENCH_BLK:-1}
BLK_N=${BENCH_BLK_N:-3}
BLK_MB=256
case $BLK in 0 | 1) ;; *) die "BENCH_BLK must be 0 or 1 (got '$BLK')" ;; esac
case $BLK_N in '' | *[!0-9]* | 0) die "BENCH_BLK_N must be a positive number (got '$BLK_N')" ;; esac
# The boot phase's command line with the disk test instead of the boot test; poweroff (ACPI S5) ends both VMMs.
read -ra words <<<"$CMDLINE"
BLK_CMDLINE=
for w in "${words[@]}"; do
	case $w in kvmini.test=* | kvmini.end=*) ;; *) BLK_CMDLINE="$BLK_CMDLINE$w " ;; esac
done
BASE_CMDLINE=$BLK_CMDLINE
BLK_CMDLINE=${BENCH_BLK_CMDLINE:-${BLK_CMDLINE}kvmini.test=blkbench kvmini.end=poweroff}
NET=${BENCH_NET:-1}
NET_N=${BENCH_NET_N:-3}
NET_SECS=${BENCH_NET_SECS:-10}
case $NET in 0 | 1) ;; *) die "BENCH_NET must be 0 or 1 (got '$NET')" ;; esac
case $NET_N in '' | *[!0-9]* | 0) die "BENCH_NET_N must be a positive number (got '$NET_N')" ;; esac
case $NET_SECS in '' | *[!0-9]* | 0) die "BENCH_NET_SECS must be a positive number (got '$NET_SECS')" ;; esac
NET_CMDLINE=${BENCH_NET_CMDLINE:-${BASE_CMDLINE}kvmini.test=netbench kvmini.end=poweroff kvmini.net_secs=$NET_SECS}
case $MEM in
[1-9]*M) MEM_KIB=$((${MEM%M} * 1024)) ;;
[1-9]*G) MEM_KIB=$((${MEM%G} * 1024 * 1024)) ;;
*) die "BENCH_MEM must be like 256M or 1G (got '$MEM')" ;;
esac
case ${MEM%?} in *[!0-9]*) die "BENCH_MEM must be like 256M or 1G (got '$MEM')" ;; esac

export KVMINI=${KVMINI:-$KVMINI_BUILD/kvmini}
[ -x "$KVMINI" ] || die "no kvmini binary at $KVMINI (run make first)"
need_cmds qemu-system-x86_64:qemu-system-x86 cpio:cpio /bin/busybox:busybox-static gzip:gzip "${CC:-cc}:gcc"
[ "$NET" = 0 ] || need_cmds iperf3:iperf3

t_start=$(date +%s)
choose_mode
echo "bench: $E2E_MODE mode: $E2E_MODE_WHY"
fetch_kernel
WORK=$REPO_ROOT/$KVMINI_BUILD/bench/$E2E_MODE
mkdir -p "$WORK"
INITRD=$WORK/guest-initrd.cpio.gz
"$REPO_ROOT/guest/mkinitramfs.sh" -o "$INITRD"
# The ELF vmlinux inside the same bzImage, for the PVH pair (testbed.sh puts it in L1 as /e2e/vmlinux).
VMLINUX=
if [ "$PVH" = 1 ]; then
	need_cmds lz4:lz4
	VMLINUX=$WORK/vmlinux
	extract_vmlinux "$VMLINUX"
fi
export KERNEL KERNEL_MODDIR INITRD VMLINUX
# The disk phase's initramfs: the same /init and busybox, plus /bin/blkbench and the modules of both VMMs'
# disks with their dependencies (kvmini: virtio_mmio, virtio_blk; QEMU q35: virtio_pci for virtio-blk-pci),
# loaded by the guest's coldplug by modalias (-V).
BLK_INITRD=
if [ "$BLK" = 1 ]; then
	BLK_INITRD=$WORK/blk-initrd.cpio.gz
	"$REPO_ROOT/guest/mkinitramfs.sh" -o "$BLK_INITRD" -k "$KERNEL_MODDIR" -M virtio_mmio,virtio_blk,virtio_pci -V \
		-f "$(build_tool blkbench static):/bin/blkbench"
fi
# The network phase's initramfs, table and doc section.
# shellcheck source=tests/e2e/bench-net.sh
. "$E2E_DIR/bench-net.sh"
NET_INITRD=
if [ "$NET" = 1 ]; then
	NET_INITRD=$WORK/net-initrd.cpio.gz
	net_initrd "$NET_INITRD"
fi

# sq WORD: WORD quoted for any POSIX sh
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

raw=$WORK/results.raw
: >"$raw"
# show: keep every line in $raw and show the BENCH_RUN lines as short progress lines.
show() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$raw"
		case $line in
		BENCH_NET\ *) net_progress <<<"$line" ;;
		BENCH_BLK\ *)
			awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				if (v["ok"] == 1)
					printf "bench: disk %-8s run %s: seq write %5d MiB/s, seq read %5d MiB/s, 4 KiB random read %6d IOPS (%d MiB, %s requests)\n",
						v["vmm"], v["run"], v["seq_write_mbs"], v["seq_read_mbs"], v["rand_read_iops"], v["bytes"] / 1048576, v["reqs"]
				else { sub(/.* why=/, ""); printf "bench: disk %-8s run %s: FAILED: %s\n", v["vmm"], v["run"], $0 } }' <<<"$line" ;;
		BENCH_RUN*)
			awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				if (v["ok"] == 1)
					printf "bench: %-12s run %s: marker %5d ms (kernel %5s ms), exit %5d ms, peak RSS %6.1f MiB, guest RAM %6.1f MiB, VMM %5.1f MiB\n",
						v["vmm"], v["run"], v["marker_ms"], v["uptime_ms"] < 0 ? "?" : v["uptime_ms"], v["exit_ms"],
						v["maxrss_kb"] / 1024, v["guest_kb"] / 1024, (v["maxrss_kb"] - v["guest_kb"]) / 1024
				else { sub(/.* why=/, ""); printf "bench: %-12s run %s: FAILED: %s\n", v["vmm"], v["run"], $0 } }' <<<"$line" ;;
		BENCH_* | tmark:*) ;;
		*) printf '%s\n' "$line" ;;
		esac
	done
}

status=0
if [ "$E2E_MODE" = host ]; then
	LIMIT=${BENCH_LIMIT:-30}
	BLK_LIMIT=${BENCH_BLK_LIMIT:-$((2 * LIMIT))}
	NET_LIMIT=${BENCH_NET_LIMIT:-$((2 * LIMIT + 2 * NET_SECS))}
	TMARK=$(build_tool tmark)
	export TMARK WORK QEMU=qemu-system-x86_64 BENCH_N=$N BENCH_MEM=$MEM BENCH_MEM_KIB=$MEM_KIB \
		BENCH_CMDLINE=$CMDLINE BENCH_LIMIT=$LIMIT BENCH_PERIOD_MS=$PERIOD BENCH_MICROVM=$MICROVM BENCH_PVH=$PVH \
		BENCH_BLK=$BLK BENCH_BLK_N=$BLK_N BENCH_BLK_INITRD=$BLK_INITRD BENCH_BLK_CMDLINE=$BLK_CMDLINE \
		BENCH_BLK_LIMIT=$BLK_LIMIT BENCH_BLK_MB=$BLK_MB BENCH_NET=$NET BENCH_NET_N=$NET_N BENCH_NET_INITRD=$NET_INITRD \
		BENCH_NET_CMDLINE=$NET_CMDLINE BENCH_NET_LIMIT=$NET_LIMIT
	sh "$E2E_DIR/bench-l1.sh" 2>&1 | show || status=$?
	testbed="host: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs, kernel $(uname -r); /dev/kvm: $E2E_MODE_WHY"
else
	LIMIT=${BENCH_LIMIT:-60}
	BLK_LIMIT=${BENCH_BLK_LIMIT:-$((2 * LIMIT))}
	NET_LIMIT=${BENCH_NET_LIMIT:-$((2 * LIMIT + 2 * NET_SECS))}
	# testbed.sh puts one L2 initramfs into L1 (/e2e/initrd.cpio.gz): with the disk or network phase it gets
	# the boot-phase image followed by the disk-phase and network-phase images, and bench-l1.sh splits them
	# by their sizes (BENCH_*INITRD_BYTES).
	l2_initrd=$INITRD initrd_split=''
	if [ "$BLK" = 1 ] || [ "$NET" = 1 ]; then
		l2_initrd=$WORK/l2-initrds.cpio.gz
		cat "$INITRD" ${BLK_INITRD:+"$BLK_INITRD"} ${NET_INITRD:+"$NET_INITRD"} >"$l2_initrd"
		initrd_split="BENCH_INITRD_BYTES=$(stat -c %s "$INITRD")"
		initrd_split="$initrd_split BENCH_BLK_INITRD_BYTES=$([ -n "$BLK_INITRD" ] && stat -c %s "$BLK_INITRD" || echo 0)"
		initrd_split="$initrd_split BENCH_NET_INITRD_BYTES=$([ -n "$NET_INITRD" ] && stat -c %s "$NET_INITRD" || echo 0)"
	fi
	# The in-L1 half with its settings in front: testbed.sh script passes only the file.
	user=$WORK/bench-user.sh
	{
		echo "BENCH_N=$N BENCH_MEM=$MEM BENCH_MEM_KIB=$MEM_KIB BENCH_LIMIT=$LIMIT BENCH_PERIOD_MS=$PERIOD BENCH_PVH=$PVH"
		echo "BENCH_SCRUB_MB=$SCRUB"
		echo "BENCH_CMDLINE=$(sq "$CMDLINE") BENCH_MICROVM=$(sq "$MICROVM") QEMU=/usr/bin/qemu-system-x86_64"
		echo "BENCH_BLK=$BLK BENCH_BLK_N=$BLK_N BENCH_BLK_CMDLINE=$(sq "$BLK_CMDLINE") BENCH_BLK_LIMIT=$BLK_LIMIT BENCH_BLK_MB=$BLK_MB $initrd_split"
		echo "BENCH_NET=$NET BENCH_NET_N=$NET_N BENCH_NET_CMDLINE=$(sq "$NET_CMDLINE") BENCH_NET_LIMIT=$NET_LIMIT IPERF3=/usr/bin/iperf3"
		cat "$E2E_DIR/bench-l1.sh"
	} >"$user"
	# L1 boot ~15 s, then (2 or 4)N+1 boots of ~6-25 s each after a scrub (~10 s for 384 MiB), and 2 BENCH_BLK_N
	# disk boots of ~15-30 s. (A silently frozen L1 is caught by testbed.sh's heartbeat, not by this limit.)
	# A network boot: ~10-25 s to /init, ~5 s to the first ping, 2 BENCH_NET_SECS of iperf3.
	export KVMINI_TESTBED_TIMEOUT=${KVMINI_TESTBED_TIMEOUT:-$((120 + ((2 + 2 * PVH) * N + 1) * (30 + SCRUB / 25) + BLK * 2 * BLK_N * 45 + NET * 2 * NET_N * (45 + 2 * NET_SECS)))}
	# testbed.sh's stderr too, so that its "L1 died" lines are kept in $raw for the summary.
	KVMINI_TESTBED_QEMU=1 KVMINI_TESTBED_IPERF3=$NET WORK=$WORK INITRD=$l2_initrd "$E2E_DIR/testbed.sh" script "$user" 2>&1 | show || status=$?
	testbed="nested: L1 = kernel $KERNEL_VERSION under QEMU $(qemu-system-x86_64 --version | sed -n '1s/^QEMU emulator version \([^ ]*\).*/\1/p') TCG -cpu ${KVMINI_L1_CPU:-max} -smp ${KVMINI_L1_SMP:-2} -m ${KVMINI_L1_MEM:-3G}, kvm-amd in L1 (nested SVM)"
fi

# The last complete-or-not batch: lines after the last BENCH_BEGIN (a retried L1 repeats it all).
res=$WORK/results.log
awk '/^BENCH_BEGIN/ { n = NR } { l[NR] = $0 } END { if (n) for (i = n; i <= NR; i++) print l[i] }' "$raw" >"$res"
info() { sed -n "s/^BENCH_INFO $1=//p" "$res" | head -n1; }
cpu=$(info cpu) flags=$(info flags)
virt=$(for f in $flags; do case $f in svm | npt | nrip_save | vgif | v_vmsave_vmload | vmcb_clean | flushbyasid | decodeassists | vmx | ept | x2apic | hypervisor) printf '%s ' "$f" ;; esac; done)
[ -n "$cpu" ] && testbed="$testbed; CPU seen by the VMMs: $cpu (${virt% })"
deaths=$(grep -c '^testbed: L1 died' "$raw" || true)
[ "$deaths" = 0 ] || testbed="$testbed; L1 died $deaths time(s), the batch was rerun from the start ($(grep -m1 '^testbed: L1 died' "$raw" | sed 's/^testbed: L1 died in //'))"
complete=yes
grep -q '^BENCH_END' "$res" || complete=no
date=$(date -u '+%Y-%m-%d %H:%M UTC')
kvmini_version=$(info kvmini)
qemu_version=$(info qemu)
wall=$(($(date +%s) - t_start))

# table: the markdown table and the failures below it; the goal lines go to $goal. Exit status 3 when a
# kvmini boot (bzImage or PVH) failed or is missing.
goal=$WORK/goal.md
table() {
	awk -v n="$N" -v microvm="$MICROVM" -v pvh="$PVH" -v goalf="$goal" '
	function med(a, c,   i, j, t, s) {
		for (i = 1; i <= c; i++) s[i] = a[i]
		for (i = 2; i <= c; i++) for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
		lo = s[1]; hi = s[c]
		return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
	}
	function add(vm, k, x) { val[vm, k, ++kc[vm, k]] = x }
	function cell(v, k, scale, fmt,   i, m, x, c) {
		c = kc[v, k]
		if (c == 0) return cnt[v] == 0 ? "failed" : "-"
		for (i = 1; i <= c; i++) x[i] = val[v, k, i] / scale
		m = med(x, c); mid[v, k] = m
		if (c == 1) return sprintf(fmt, m)
		return sprintf(fmt " (" fmt "–" fmt ")", m, lo, hi)
	}
	function ratio(a, b, k) {
		if (kc[a, k] == 0 || kc[b, k] == 0 || mid[b, k] == 0) return "-"
		return sprintf("%.2f", mid[a, k] / mid[b, k])
	}
	function s1(ms) { return sprintf("%.1f s", ms / 1000) }
	# verdict A B WHAT: one line on the goal (A at most half of B, exec to marker) for a like-for-like pair.
	function verdict(a, b, what,   r) {
		if (want[a] == 0) { printf "- %s: not run (BENCH_PVH=0)\n", what > goalf; return }
		if (kc[a, "marker"] == 0 || kc[b, "marker"] == 0) { printf "- %s: not measured (boots failed, see above)\n", what > goalf; return }
		r = mid[a, "marker"] / mid[b, "marker"]
		printf "- %s: %s takes %.2f of %s'\''s time to the marker (medians %s against %s): goal %s.", what, name[a], r,
			name[b], s1(mid[a, "marker"]), s1(mid[b, "marker"]), (r <= 0.5 ? "met" : "not met") > goalf
		if (kc[a, "up"] && kc[b, "up"])
			printf " Before the kernel: %s against %s (%s); kernel to /init: %s against %s (%s).", s1(mid[a, "pre"]),
				s1(mid[b, "pre"]), ratio(a, b, "pre"), s1(mid[a, "up"]), s1(mid[b, "up"]), ratio(a, b, "up") > goalf
		printf "\n" > goalf
	}
	/^BENCH_RUN/ {
		delete v
		for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		vm = v["vmm"]; runs[vm]++
		if (v["ok"] == 1) {
			cnt[vm]++
			add(vm, "marker", v["marker_ms"]); add(vm, "exit", v["exit_ms"])
			add(vm, "rss", v["maxrss_kb"]); add(vm, "guest", v["guest_kb"]); add(vm, "vmm", v["maxrss_kb"] - v["guest_kb"])
			if (v["uptime_ms"] != "" && v["uptime_ms"] >= 0) {
				add(vm, "up", v["uptime_ms"]); add(vm, "pre", v["marker_ms"] - v["uptime_ms"])
			}
		} else {
			w = $0; sub(/.* why=/, "", w)
			fails = fails sprintf("- FAILED: %s run %s: %s\n", vm, v["run"], w)
		}
	}
	END {
		split("kvmini qemu-q35 kvmini-pvh qemu-q35-pvh qemu-microvm", order, " ")
		split("kvmini|QEMU q35|kvmini-pvh|QEMU q35-pvh|QEMU microvm", names, "|")
		split("bzImage|bzImage|vmlinux (PVH)|vmlinux (PVH)|bzImage", files, "|")
		for (o = 1; o <= 5; o++) { name[order[o]] = names[o]; file[order[o]] = files[o] }
		want["kvmini"] = n; want["qemu-q35"] = n; want["qemu-microvm"] = microvm == "" ? 0 : 1
		want["kvmini-pvh"] = pvh ? n : 0; want["qemu-q35-pvh"] = pvh ? n : 0
		print "| VMM | kernel file | boots OK | exec to marker, ms | before the kernel, ms | kernel to /init, ms | exec to exit, ms | VMM footprint, MiB | peak RSS, MiB | guest RAM touched, MiB |"
		print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
		for (o = 1; o <= 5; o++) {
			vm = order[o]
			if (want[vm] == 0) continue
			if (runs[vm] < want[vm])
				fails = fails sprintf("- FAILED: %s: %d of %d boots did not run (the batch ended early)\n", vm, want[vm] - runs[vm], want[vm])
			printf "| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |\n", name[vm], file[vm], cnt[vm], want[vm],
				cell(vm, "marker", 1, "%d"), cell(vm, "pre", 1, "%d"), cell(vm, "up", 1, "%d"), cell(vm, "exit", 1, "%d"),
				cell(vm, "vmm", 1024, "%.1f"), cell(vm, "rss", 1024, "%.1f"), cell(vm, "guest", 1024, "%.1f")
		}
		# The like-for-like ratios only: the same kernel file on both sides.
		split("kvmini qemu-q35 kvmini-pvh qemu-q35-pvh kvmini qemu-microvm", pair, " ")
		split("bzImage, both|vmlinux (PVH), both|bzImage, both", pfile, "|")
		for (p = 1; p <= 3; p++) {
			a = pair[2 * p - 1]; b = pair[2 * p]
			if (want[a] == 0 || want[b] == 0) continue
			printf "| %s / %s (medians) | %s | | %s | %s | %s | %s | %s | %s | %s |\n", name[a], name[b], pfile[p],
				ratio(a, b, "marker"), ratio(a, b, "pre"), ratio(a, b, "up"), ratio(a, b, "exit"), ratio(a, b, "vmm"),
				ratio(a, b, "rss"), ratio(a, b, "guest")
		}
		printf "" > goalf
		verdict("kvmini", "qemu-q35", "bzImage on both sides")
		verdict("kvmini-pvh", "qemu-q35-pvh", "vmlinux through the PVH entry on both sides")
		close(goalf)
		if (fails != "") printf "\n%s", fails
		exit (cnt["kvmini"] < n || cnt["kvmini-pvh"] < want["kvmini-pvh"] ? 3 : 0)
	}' "$res"
}

# runs: every boot, for the record.
runs() {
	echo "| VMM | run | marker ms | before the kernel ms | kernel to /init ms | exit ms | status | peak RSS KiB | guest RAM KiB (smaps) | kvmini --stats guest KiB | smaps samples |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	awk '/^BENCH_RUN/ { delete v; for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		up = v["uptime_ms"] != "" && v["uptime_ms"] >= 0 && v["marker_ms"] >= 0
		printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s%s | %s | %s |\n", v["vmm"], v["run"], v["ok"] == 1 ? "" : " (failed)",
			v["marker_ms"], up ? v["marker_ms"] - v["uptime_ms"] : "-", up ? v["uptime_ms"] : "-", v["exit_ms"], v["status"],
			v["maxrss_kb"], v["guest_kb"], v["guest_src"] == "smaps" ? "" : " (" v["guest_src"] ")",
			v["stats_guest_kb"] == -1 ? "-" : v["stats_guest_kb"], v["samples"] }' "$res"
}

# The awk functions both throughput tables share: med (the median of a[1..c]; sets lo and hi), cell (median
# and range of val[v, k, 1..kc[v, k]] printed with fmt, or "failed"), ratio (kvmini's median over QEMU q35's).
TABLE_AWK='
	function med(a, c,   i, j, t, s) {
		for (i = 1; i <= c; i++) s[i] = a[i]
		for (i = 2; i <= c; i++) for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
		lo = s[1]; hi = s[c]
		return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
	}
	function cell(v, k,   i, m, x, c) {
		c = kc[v, k]
		if (c == 0) return "failed"
		for (i = 1; i <= c; i++) x[i] = val[v, k, i]
		m = med(x, c); mid[v, k] = m
		if (c == 1) return sprintf(fmt, m)
		return sprintf(fmt " (" fmt "–" fmt ")", m, lo, hi)
	}
	function ratio(k) {
		if (kc["kvmini", k] == 0 || kc["qemu-q35", k] == 0 || mid["qemu-q35", k] == 0) return "-"
		return sprintf("%.2f", mid["kvmini", k] / mid["qemu-q35", k])
	}
'

# blk_table: the disk phase's markdown table (medians, min-max, kvmini/QEMU ratios) and its failures; the goal
# lines go to $blk_goal. Exit status 3 when a kvmini disk boot failed or is missing.
blk_goal=$WORK/blk-goal.md
blk_table() {
	awk -v n="$BLK_N" -v goalf="$blk_goal" -v fmt=%d "$TABLE_AWK"'
	/^BENCH_BLK / {
		delete v
		for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		vm = v["vmm"]; runs[vm]++
		if (v["ok"] == 1) {
			cnt[vm]++
			for (k = 1; k <= 3; k++) val[vm, key[k], ++kc[vm, key[k]]] = v[key[k]]
		} else {
			w = $0; sub(/.* why=/, "", w)
			fails = fails sprintf("- FAILED: disk %s run %s: %s\n", vm, v["run"], w)
		}
	}
	BEGIN {
		split("seq_write_mbs seq_read_mbs rand_read_iops", key, " ")
		split("sequential write|sequential read|4 KiB random read (queue depth 1)", what, "|")
		split("MiB/s|MiB/s|IOPS", unit, "|")
	}
	END {
		split("kvmini qemu-q35", order, " ")
		name["kvmini"] = "kvmini (`-d`, virtio-mmio)"; name["qemu-q35"] = "QEMU q35 (virtio-blk-pci)"
		print "| VMM | boots OK | sequential write, MiB/s | sequential read, MiB/s | 4 KiB random read (QD 1), IOPS |"
		print "| --- | --- | --- | --- | --- |"
		for (o = 1; o <= 2; o++) {
			vm = order[o]
			if (runs[vm] < n)
				fails = fails sprintf("- FAILED: disk %s: %d of %d boots did not run (the batch ended early)\n", vm, n - runs[vm], n)
			printf "| %s | %d/%d | %s | %s | %s |\n", name[vm], cnt[vm], n, cell(vm, key[1]), cell(vm, key[2]), cell(vm, key[3])
		}
		printf "| **kvmini / QEMU q35** (medians; **above 1 = kvmini faster**) | | %s | %s | %s |\n", ratio(key[1]), ratio(key[2]), ratio(key[3])
		printf "" > goalf
		for (k = 1; k <= 3; k++) {
			if (kc["kvmini", key[k]] == 0 || kc["qemu-q35", key[k]] == 0 || mid["qemu-q35", key[k]] == 0) {
				printf "- %s: not measured (boots failed, see above)\n", what[k] > goalf
				continue
			}
			r = mid["kvmini", key[k]] / mid["qemu-q35", key[k]]
			printf "- %s: kvmini %.2f× QEMU q35 (medians %d against %d %s): goal %s.\n", what[k], r,
				mid["kvmini", key[k]], mid["qemu-q35", key[k]], unit[k], (r >= 1 ? "met" : "not met") > goalf
		}
		close(goalf)
		if (fails != "") printf "\n%s", fails
		exit (cnt["kvmini"] < n ? 3 : 0)
	}' "$res"
}

# blk_runs: every disk boot, for the record, with the figures behind the interrupts-and-exits reading.
blk_runs() {
	echo "| VMM | run | seq write MiB/s | seq read MiB/s | random read IOPS | written MiB | requests | virtio interrupts | interrupts per request | kvmini exits io / mmio | mmio exits per request | exit ms | status |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	awk '/^BENCH_BLK / { delete v; for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		r = v["reqs"] > 0
		printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v["vmm"], v["run"], v["ok"] == 1 ? "" : " (failed)",
			v["seq_write_mbs"], v["seq_read_mbs"], v["rand_read_iops"], (v["bytes"] > 0 ? v["bytes"] / 1048576 : "-"),
			(v["reqs"] >= 0 ? v["reqs"] : "-"), (v["irqs"] >= 0 ? v["irqs"] : "-"), (r && v["irqs"] >= 0 ? sprintf("%.2f", v["irqs"] / v["reqs"]) : "-"),
			(v["exits_io"] >= 0 ? v["exits_io"] " / " v["exits_mmio"] : "-"),
			(r && v["exits_mmio"] >= 0 ? sprintf("%.2f", v["exits_mmio"] / v["reqs"]) : "-"), v["exit_ms"], v["status"] }' "$res"
}

tstatus=0
tbl=$(table) || tstatus=$?
bstatus=0 btbl='' bgoal_lines='' bruns=''
if [ "$BLK" = 1 ]; then
	btbl=$(blk_table) || bstatus=$?
	bgoal_lines=$(cat "$blk_goal" 2>/dev/null || true)
	bruns=$(blk_runs)
fi
nstatus=0 ntbl='' ngoal_lines='' nruns=''
if [ "$NET" = 1 ]; then
	ntbl=$(net_table) || nstatus=$?
	ngoal_lines=$(cat "$net_goal" 2>/dev/null || true)
	nruns=$(net_runs)
fi
[ "$complete" = yes ] || tbl="$tbl"$'\n'"- the batch did not complete (no BENCH_END; see $WORK)"
goal_lines=$(cat "$goal" 2>/dev/null || true)
q35_cmd="qemu-system-x86_64 -accel kvm -M q35 -cpu host -m $MEM -smp 1 -nodefaults -no-user-config -nographic -serial stdio -kernel vmlinuz -initrd initrd -append '$CMDLINE' -no-reboot"
cmds="kvmini run -k vmlinuz -i initrd -m $MEM -a '$CMDLINE' --stats
$q35_cmd"
if [ "$PVH" = 1 ]; then
	cmds="$cmds
kvmini run -k vmlinux -i initrd -m $MEM -a '$CMDLINE' --stats
${q35_cmd/-kernel vmlinuz/-kernel vmlinux}"
fi
[ -n "$MICROVM" ] && cmds="$cmds
${q35_cmd/-M q35/-M $MICROVM}"
mv_runs="1 boot (-M $MICROVM)"
[ -n "$MICROVM" ] || mv_runs="not run (BENCH_MICROVM empty)"
# MiB of a file, one decimal.
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
kfiles="bzImage $(mib "$KERNEL") MiB"
if [ "$PVH" = 1 ]; then
	kfiles="$kfiles; vmlinux (extracted from it by tests/e2e/extract-vmlinux.sh) $(mib "$VMLINUX") MiB"
	rounds="N = $N rounds of kvmini, QEMU q35 (bzImage), kvmini-pvh, QEMU q35-pvh (vmlinux), in that order"
else
	rounds="N = $N rounds of kvmini, QEMU q35 (bzImage); the vmlinux pair not run (BENCH_PVH=0)"
fi
# The command that reproduces this run: make bench with the knobs that were set.
exact_cmd="make bench"
for var in KVMINI_E2E_MODE KVMINI_L1_CPU KVMINI_L1_SMP KVMINI_L1_MEM BENCH_PERIOD_MS BENCH_SCRUB_MB BENCH_LIMIT BENCH_MICROVM BENCH_CMDLINE BENCH_MEM BENCH_PVH BENCH_BLK BENCH_BLK_N BENCH_BLK_LIMIT BENCH_BLK_CMDLINE BENCH_NET BENCH_NET_N BENCH_NET_SECS BENCH_NET_LIMIT BENCH_NET_CMDLINE; do
	[ -n "${!var+set}" ] && exact_cmd="$var=$(sq "${!var}") $exact_cmd"
done
exact_cmd="BENCH_N=$N $exact_cmd"
[ "$status" = 0 ] || tbl="$tbl"$'\n'"- the batch ended with status $status"
summary="- testbed: $testbed
- guest kernel: $KERNEL_VERSION (Debian cloud kernel): $kfiles; guest initramfs: guest/init/init (busybox), kvmini.test=boot
- kernel command line (all VMMs): \`$CMDLINE\`
- guest: $MEM RAM, 1 vCPU; $rounds; QEMU microvm: $mv_runs
- kvmini: $kvmini_version; QEMU: $qemu_version
- date: $date; \`make bench\` wall time: $wall s"

echo
echo "bench: results ($E2E_MODE mode)"
printf '%s\n\n%s\n\n%s\n' "$summary" "$tbl" "$goal_lines"
if [ "$BLK" = 1 ]; then
	echo
	echo "bench: disk (virtio-blk in the guest; $BLK_N boots per VMM; ratios kvmini/QEMU: above 1 = kvmini faster)"
	printf '%s\n\n%s\n' "$btbl" "$bgoal_lines"
fi
if [ "$NET" = 1 ]; then
	echo
	echo "bench: network (virtio-net on a tap, iperf3 TCP; $NET_N boots per VMM; ratios kvmini/QEMU: above 1 = kvmini faster)"
	printf '%s\n\n%s\n' "$ntbl" "$ngoal_lines"
fi

# The disk phase's part of the doc: results, method, commands.
blk_doc=''
if [ "$BLK" = 1 ]; then
	if [ "$E2E_MODE" = host ]; then
		img_where="in \`$WORK/bench/disk.img\` on the host's filesystem"
	else
		img_where="in L1's \`/tmp\` (tmpfs: RAM-backed; so \`fdatasync\` costs nothing and no disk is involved)"
	fi
	blk_doc="
## Disk: virtio-blk throughput, kvmini against QEMU

The same \`make bench\` run, after all the boots above, in the same testbed: $BLK_N rounds of kvmini, QEMU q35
(alternating), each booting the same bzImage with its disk-benchmark initramfs on a fresh ${BLK_MB} MiB raw
image. Command line: \`$BLK_CMDLINE\`.

$btbl

**Here a ratio above 1 means kvmini is faster** (more MiB/s or IOPS than QEMU): the other way round from
the boot table above, where below 1 is better. Medians, min–max over the successful boots in brackets.

**Goal**: kvmini at least QEMU's throughput (ratio ≥ 1.00) in each of the three:

$bgoal_lines

Every disk boot (\`requests\`: what the guest's vda completed in the whole boot, from \`/sys/block/vda/stat\`:
reads + writes + flushes; \`virtio interrupts\`: the guest's \`/proc/interrupts\` lines of its virtio
devices; \`kvmini exits\`: \`kvmini --stats\` over the whole boot, VM exits that reached kvmini, i.e. not
those KVM handles itself such as ioeventfd kicks; kvmini's only MMIO devices are its virtio-mmio slots):

$bruns

### What runs

\`\`\`
truncate -s ${BLK_MB}M disk.img      # a fresh sparse image for every boot, deleted after it
kvmini run -k vmlinuz -i blk-initrd -m $MEM -a '$BLK_CMDLINE' -d disk.img --stats
qemu-system-x86_64 -accel kvm -M q35 -cpu host -m $MEM -smp 1 -nodefaults -no-user-config -nographic -serial stdio -kernel vmlinuz -initrd blk-initrd -append '$BLK_CMDLINE' -no-reboot -drive file=disk.img,if=none,id=d0,format=raw,cache=writeback -device virtio-blk-pci,drive=d0
\`\`\`

Each under \`tmark -t $BLK_LIMIT BLKBENCH -- CMD...\` with stdin \`/dev/null\`; the image is $img_where.
\`blk-initrd\` is the boot phase's initramfs (same \`/init\`, busybox) plus \`/bin/blkbench\`
(\`tests/e2e/blkbench.c\`, linked statically) and the kernel modules of both VMMs' disks with their
dependencies: \`virtio_mmio\` and \`virtio_blk\` (kvmini), \`virtio_pci\` (QEMU's virtio-blk-pci), with
\`virtio\`, \`virtio_ring\`, \`virtio_pci_modern_dev\` and \`virtio_pci_legacy_dev\` (the Debian cloud kernel
builds every virtio driver as a module). \`/init\` (\`kvmini.test=blkbench\`) loads the drivers by the
devices' modalias, as udev would, runs \`blkbench /dev/vda 3\`, prints the \`BLKBENCH\` and \`BLKBENCH_STATS\`
lines and powers off (\`kvmini.end=poweroff\`: ACPI S5, on which both VMMs exit 0).

### How it is measured

- In the guest, \`blkbench\` opens \`/dev/vda\` with \`O_DIRECT\` (the guest's page cache never answers)
  and times with the guest's \`CLOCK_MONOTONIC\` (kvm-clock):
  - **sequential write**: 1 MiB \`pwrite\`s from offset 0 for up to 3 s (or to the end of the image), then
    one \`fdatasync\`, which is counted: MiB written / time;
  - **sequential read**: the same bytes read back in 1 MiB \`pread\`s;
  - **4 KiB random read**: \`pread\`s of 4 KiB at random 4 KiB-aligned offsets inside what was written,
    one at a time (queue depth 1), for 3 s: requests / s.
- The same durability contract on both sides: both VMMs go through the host's (in nested mode L1's) page
  cache, kvmini with \`preadv\`/\`pwritev\` on the image, QEMU with \`cache=writeback\` (no \`O_DIRECT\`,
  write cache announced to the guest); both offer \`VIRTIO_BLK_F_FLUSH\` and complete a guest flush only
  after an \`fdatasync\` of the image returned.
- The transports differ, as each VMM's ordinary disk does: kvmini's is virtio-mmio (kick: an ioeventfd;
  completion: an edge-triggered GSI through the in-kernel IOAPIC, after which the guest's handler reads
  \`InterruptStatus\` and writes \`InterruptACK\`: two MMIO exits to kvmini per interrupt; the request runs
  in the disk's I/O thread, which waits on the ioeventfd itself); QEMU's is virtio-pci with MSI-X (kick: an
  ioeventfd; completion: an MSI through an irqfd, no status register to read; the request runs in a worker thread of QEMU's thread pool,
  \`aio=threads\`).
- Caveats: in the nested testbed the image is in RAM and every VM exit goes through an L1 emulated by TCG,
  so these numbers weigh the VMM's per-request path (exits, wake-ups, interrupts, copies), not a disk, and
  far more heavily than hardware would; the ratios matter more than the absolute numbers. The sequential
  phases run for a fixed time, so a faster VMM also moves more bytes (\`written MiB\`).
"
fi

if [ -n "$DOC" ]; then
	mkdir -p "$(dirname "$DOC")"
	{
		cat <<EOF
# Benchmarks: kvmini against QEMU

Written by \`make bench\` (\`tests/e2e/bench.sh\`); every run overwrites this file, so it holds the last
result. Command: \`$exact_cmd\`.

## Last result

$summary

$tbl

Medians, with min–max over the successful boots in brackets; a ratio below 1 means kvmini is faster or
smaller. The microvm row is a single boot (see below), so its ratios are kvmini's median against one
sample. In each boot "before the kernel" + "kernel to /init" = "exec to marker" (the medians need not
add up); see below for what each covers.

### Which comparison is which

Every ratio row compares two boots of the same kernel file with the same initramfs, memory, vCPU count
and command line; only the VMM (and the firmware it brings) differs.

- **kvmini / QEMU q35** (bzImage, both): the distribution's compressed kernel as it is shipped, each
  VMM's ordinary way of booting it. Both run the kernel's own decompressor.
- **kvmini-pvh / QEMU q35-pvh** (vmlinux, both): the ELF vmlinux inside that same bzImage (same kernel
  code, uncompressed), entered at its PVH entry point by both VMMs; neither runs a decompressor, both
  load the larger file.
- **kvmini / QEMU microvm** (bzImage, both): QEMU's minimal machine type with qboot, as a reference;
  one boot only.

Cross pairs (kvmini with the vmlinux against QEMU with the bzImage, or the reverse) are not like for
like: one side skips the decompressor because of its input, not because of the VMM. No such ratio is
given, and none counts for the goal.

**Goal**: kvmini at most half of QEMU's time from exec to \`/init\` (exec to marker, ratio ≤ 0.50),
judged only on like-for-like inputs, i.e. the first two ratio rows above:

$goal_lines

These are the medians of this one run in this testbed; the min–max brackets show how far single boots
spread on the shared machine, so a ratio near 0.50 can fall on either side in another run.

Every boot:

$(runs)

## What runs

\`\`\`
$cmds
\`\`\`

Each under \`tmark -t $LIMIT -g $MEM_KIB -p $PERIOD KVMINI_INIT_OK -- CMD...\` with stdin \`/dev/null\`.
The guest's \`/init\` prints \`KVMINI_INIT_OK\` on the console, then \`KVMINI_UPTIME=<seconds>\`, flushes
them and runs \`reboot -f\`; with \`reboot=t\` the kernel resets by a triple fault, on which kvmini exits 0
and QEMU (\`-no-reboot\`) exits 0 too. The boots alternate within each round (kvmini, q35, kvmini-pvh,
q35-pvh; then the next round), so slow phases of the shared machine hit all of them; QEMU microvm boots
once, last: repeated microvm boots have crashed L1's kernel in the nested testbed.

- bzImage, kvmini: kvmini loads it itself and enters it in 64-bit mode; the kernel decompresses itself.
- bzImage, QEMU q35: SeaBIOS (\`bios-256k.bin\`) and its \`linuxboot_dma.bin\` option ROM load the
  kernel and initrd from fw_cfg and enter the real-mode setup code; then the decompressor.
- vmlinux, kvmini (\`-k vmlinux\`): kvmini loads the ELF's segments, builds the PVH start info (memory
  map, initrd, command line) and starts the vCPU in 32-bit protected mode at the entry named by the
  \`XEN_ELFNOTE_PHYS32_ENTRY\` note.
- vmlinux, QEMU q35 (\`-kernel vmlinux\`): QEMU finds the same PVH note, loads the ELF itself and boots
  through SeaBIOS and the \`pvh.bin\` option ROM (instead of \`linuxboot_dma.bin\`), which takes the
  initrd and command line from fw_cfg and jumps to the PVH entry.
- bzImage, QEMU microvm: qboot (\`bios-microvm.bin\`, the default firmware of \`-M microvm\`: no
  \`-bios\` needed, also with ACPI on, microvm's default). microvm gets \`rtc=on\`: with KVM its default
  leaves the CMOS RTC out, and this kernel's \`rtc_cmos\` driver then spends ~13 s of guest time probing
  it before \`rtc_cmos rtc_cmos: broken or not accessible\` (plain \`-M microvm\` took 20.6 s to the
  marker in the nested testbed, against 13.1 s for q35 and 6.4 s for kvmini in the same L1); kvmini and
  q35 both give the guest an RTC.

In the nested testbed all of this runs inside L1 (\`testbed.sh script\` with \`KVMINI_TESTBED_QEMU=1\`,
which adds QEMU, its shared libraries and those firmware files, \`pvh.bin\` included, to L1's initramfs,
and \`VMLINUX\`, which adds the vmlinux), the guests being L2. Before each boot there, $SCRUB MiB of L1's
free memory are written over (one \`dd\` buffer of that size, filled from /dev/zero; \`BENCH_SCRUB_MB\`, 0
turns it off): otherwise each guest starts on L1 pages the previous guest ran code in, and QEMU's TCG pays for dropping its stale
translations of them on every first write, a cost of the testbed alone. It was worth 4-5 s: kvmini's
bzImage boot spent 6.7-6.9 s before the kernel right after another boot and 2.1-2.6 s after a scrub.

## How it is measured

- **exec to marker** (ms): \`tmark\` forks, execs the VMM with its stdout on a pipe and timestamps
  (CLOCK_MONOTONIC) the first console line containing \`KVMINI_INIT_OK\`: VMM start-up, firmware (QEMU),
  kernel decompression (bzImage) and boot, up to the first line of \`/init\`.
- **kernel to /init** (ms): the guest's \`/init\` prints \`KVMINI_UPTIME=\` with the first field of
  \`/proc/uptime\` (10 ms resolution) right after the marker: the time since the kernel's clock started.
  That clock is the kvm-clock based sched_clock (all three VMMs offer kvm-clock), which starts at 0 early
  in the kernel's \`setup_arch()\`; so this is the kernel's own boot (device probing, initramfs unpacking,
  ...) up to \`/init\`, plus the few ms \`/init\` needs to print the marker and read the uptime.
- **before the kernel** (ms) = exec to marker − kernel to /init: everything before the kernel's clock
  starts: VMM start-up (process, KVM set-up, reading kernel and initrd into guest memory), the firmware
  (QEMU: SeaBIOS and an option ROM), the bzImage's decompressor (not in the PVH boots), and the first
  moments of the kernel before its clock. It subtracts a guest clock from a host one, so it is good to
  some tens of ms.
- **exec to exit** (ms): until \`wait4\` returns: exec to marker plus \`reboot -f\` and VMM tear-down.
- **peak RSS**: \`ru_maxrss\` of the VMM process from \`wait4\`.
- **guest RAM touched**: while the VMM runs, \`tmark -g $MEM_KIB\` reads \`/proc/PID/smaps\` every
  $PERIOD ms and sums the \`Rss\` of the mappings whose \`Size\` is exactly the guest's $MEM ($MEM_KIB KiB);
  the largest sum (it only grows during a boot) is the figure. For QEMU that mapping is the RAM block
  (\`pc.ram\` / \`microvm.ram\`, one anonymous mapping of exactly -m); for kvmini it is the read-write part
  of its guest-memory reservation (\`vmm/gmem.c\`: RAM between PROT_NONE guard pages, so its own mapping of
  exactly -m). Both VMMs \`madvise(MADV_HUGEPAGE)\` that memory, so both are counted in the same
  (transparent-huge-page) granules. Each run records how many mappings matched (1 expected) and, for
  kvmini, its own \`--stats\` figure (\`guest-resident\`, mincore() over guest RAM at exit) as a
  cross-check. The last sample can be up to $PERIOD ms before exit; the guest touches little memory
  between its marker and its reset.
- **VMM footprint** = peak RSS − guest RAM touched: what the VMM process itself costs (code, libraries,
  heap, its copies of kernel and initrd, device state, thread stacks). QEMU's includes its firmware ROM
  blocks and the kernel and initrd it holds for fw_cfg or as ROM data, which is why it grows with the
  vmlinux (whose loaded segments are larger than the bzImage).

Caveats: in the nested testbed (no usable \`/dev/kvm\` on this machine) the times are those of L2 guests
under an L1 emulated by TCG, where every VM exit is slow and so is every byte the VMM copies (the
vmlinux is several times the size of the bzImage, which the PVH boots pay for before the kernel); the
ratios matter more than the absolute numbers, and a quick console or few exits weigh more than on
hardware. The machine is shared with other work, so times vary from run to run; the memory figures
hardly do.
EOF
		printf '%s' "$blk_doc"
		if [ "$NET" = 1 ]; then net_doc; fi
	} >"$DOC"
	echo "bench: written to $DOC; make bench took $wall s"
fi

if [ "$tstatus" != 0 ] || [ "$complete" = no ]; then
	echo "bench: kvmini did not complete all $N boots" >&2
	exit 1
fi
if [ "$bstatus" != 0 ]; then
	echo "bench: kvmini did not complete all $BLK_N disk boots" >&2
	exit 1
fi
if [ "$nstatus" != 0 ]; then
	echo "bench: kvmini did not complete all $NET_N network boots" >&2
	exit 1
fi
exit 0
