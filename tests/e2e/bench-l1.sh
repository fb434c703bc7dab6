#!/bin/sh
# bench-l1.sh: the measuring half of `make bench`: boots one guest under kvmini and QEMU, prints one BENCH_RUN line per boot.
# Run by tests/e2e/bench.sh, directly on the host (host mode) or inside the nested testbed's L1 as
# `testbed.sh script` (then bench.sh prepends the BENCH_* settings to a copy of this file). POSIX sh:
# dash on the host, busybox ash in L1.
# env: KVMINI, KERNEL, INITRD, WORK, TMARK (as for cases.sh), QEMU (qemu-system-x86_64), VMLINUX (the ELF
#      vmlinux of KERNEL, for the PVH pair), BENCH_PVH (1: also boot VMLINUX under kvmini and QEMU q35;
#      0: do not), BENCH_N (boots per VMM; each round boots kvmini, QEMU q35, kvmini-pvh, QEMU q35-pvh
#      in that order), BENCH_MEM (e.g. 256M) and BENCH_MEM_KIB
#      (the same in KiB: the size of the guest-RAM mapping tmark -g looks for), BENCH_CMDLINE,
#      BENCH_LIMIT (s per boot), BENCH_PERIOD_MS (smaps sampling period), BENCH_MICROVM (-M value of
#      the single microvm boot; empty: none).
# Output lines (everything else is information):
#   BENCH_BEGIN / BENCH_END                 frame one complete batch (a retried L1 prints two BEGINs)
#   BENCH_INFO KEY=VALUE                    cpu, flags, uname, kvmini and qemu versions, pvh (0/1)
#   BENCH_RUN vmm=V run=I ok=0|1 marker_ms=N exit_ms=N uptime_ms=N status=N maxrss_kb=N guest_kb=N
#             guest_src=S guest_maps=N samples=N stats_guest_kb=N why=TEXT
#   V is kvmini, qemu-q35, kvmini-pvh, qemu-q35-pvh or qemu-microvm; uptime_ms is the guest's
#   KVMINI_UPTIME line (/proc/uptime as /init starts: time since the kernel's clock started), -1 if none.
#   followed, for a failed boot, by "#   | " lines: the end of its console and stderr.
set -u

: "${KVMINI:?}" "${KERNEL:?}" "${INITRD:?}" "${WORK:?}" "${TMARK:?}" "${BENCH_MEM_KIB:?}"
QEMU=${QEMU:-qemu-system-x86_64}
N=${BENCH_N:-5}
MEM=${BENCH_MEM:-256M}
CMDLINE=${BENCH_CMDLINE:-console=ttyS0 reboot=t panic=-1 quiet kvmini.test=boot}
LIMIT=${BENCH_LIMIT:-60}
PERIOD=${BENCH_PERIOD_MS:-100}
MICROVM=${BENCH_MICROVM-microvm,rtc=on}
PVH=${BENCH_PVH:-1}
VMLINUX=${VMLINUX:-}
MARKER=KVMINI_INIT_OK
OUT=$WORK/bench
rm -rf "$OUT"
mkdir -p "$OUT"

# key FILE NAME: a number from tmark's report line (-1 when absent)
key() {
	v=$(sed -n "s/.*[ :]$2=\\(-*[0-9]*\\).*/\\1/p" "$1" 2>/dev/null | tail -n1)
	echo "${v:--1}"
}

# boot VMM I: one measured boot; prints its BENCH_RUN line.
boot() {
	vmm=$1 run=$2 d=$OUT/$1.$2
	mkdir -p "$d"
	case $vmm in
	kvmini)
		# --stats only adds kvmini's own memory line at exit (a cross-check of the smaps figure).
		set -- "$KVMINI" run -k "$KERNEL" -i "$INITRD" -m "$MEM" -a "$CMDLINE" --stats ;;
	qemu-q35)
		set -- "$QEMU" -accel kvm -M q35 -cpu host -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
			-serial stdio -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" -no-reboot ;;
	# The same two with the ELF vmlinux: kvmini enters its PVH entry itself, QEMU through pvh.bin.
	kvmini-pvh)
		set -- "$KVMINI" run -k "$VMLINUX" -i "$INITRD" -m "$MEM" -a "$CMDLINE" --stats ;;
	qemu-q35-pvh)
		set -- "$QEMU" -accel kvm -M q35 -cpu host -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
			-serial stdio -kernel "$VMLINUX" -initrd "$INITRD" -append "$CMDLINE" -no-reboot ;;
	qemu-microvm)
		set -- "$QEMU" -accel kvm -M "$MICROVM" -cpu host -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
			-serial stdio -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" -no-reboot ;;
	esac
	"$TMARK" -t "$LIMIT" -r "$d/rep" -g "$BENCH_MEM_KIB" -p "$PERIOD" "$MARKER" -- "$@" </dev/null >"$d/out" 2>"$d/err"
	marker=$(key "$d/rep" marker_ms) exit_ms=$(key "$d/rep" exit_ms) st=$(key "$d/rep" status)
	rss=$(key "$d/rep" maxrss_kb) to=$(key "$d/rep" timed_out) guest=$(key "$d/rep" guest_rss_kb)
	stats=$(sed -n 's/^kvmini: memory: .*guest-resident=\([0-9]*\).*/\1/p' "$d/err" | tail -n1)
	# KVMINI_UPTIME=12.34 (seconds, two decimals) -> ms; -1 when the line is missing.
	up=$(tr -d '\r' <"$d/out" | sed -n 's/.*KVMINI_UPTIME=\([0-9][0-9]*\(\.[0-9]*\)\{0,1\}\).*/\1/p' | head -n1)
	up=$(awk -v u="$up" 'BEGIN { if (u == "") print -1; else printf "%d\n", u * 1000 + 0.5 }')
	src=smaps
	if [ "$guest" -le 0 ] && [ -n "$stats" ]; then guest=$stats src=stats; fi
	ok=1 why=
	if [ "$to" = 1 ]; then
		ok=0 why="no exit within $LIMIT s"
	elif [ "$st" != 0 ]; then
		ok=0 why="exit status $st"
	elif [ "$marker" = -1 ]; then
		ok=0 why="no $MARKER on the console"
	elif [ "$guest" -le 0 ]; then
		ok=0 why="no guest-RAM mapping of $BENCH_MEM_KIB KiB in /proc/PID/smaps"
	fi
	if [ "$ok" = 0 ]; then
		p=$(grep -a -m1 -E 'Kernel panic|BUG:|Oops' "$d/out" 2>/dev/null | tr -d '\r' | cut -c1-100)
		[ -n "$p" ] && why="$why; guest: $p"
		e=$(grep -av '^kvmini: \(exits\|memory\):' "$d/err" 2>/dev/null | head -n1 | cut -c1-120)
		[ -n "$e" ] && why="$why; stderr: $e"
	fi
	echo "BENCH_RUN vmm=$vmm run=$run ok=$ok marker_ms=$marker exit_ms=$exit_ms uptime_ms=$up status=$st maxrss_kb=$rss" \
		"guest_kb=$guest guest_src=$src guest_maps=$(key "$d/rep" guest_maps) samples=$(key "$d/rep" samples)" \
		"stats_guest_kb=${stats:--1} why=$why"
	if [ "$ok" = 0 ]; then
		for f in "$d/out" "$d/err"; do
			[ -s "$f" ] || continue
			echo "#   --- last lines of $vmm run $run ${f##*/}:"
			# Control characters out (SeaBIOS clears the screen), and a newline after the last line
			# even when the console output ends without one.
			tail -n 8 "$f" | tr -d '\000-\010\013-\037' | awk '{ print "#   | " $0 }'
		done
	fi
}

echo BENCH_BEGIN
echo "BENCH_INFO cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "BENCH_INFO flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "BENCH_INFO uname=$(uname -r)"
echo "BENCH_INFO kvmini=$("$KVMINI" --version 2>&1 | head -n1)"
echo "BENCH_INFO qemu=$("$QEMU" --version 2>&1 | head -n1)"
if [ "$PVH" != 0 ] && { [ -z "$VMLINUX" ] || [ ! -r "$VMLINUX" ]; }; then
	echo "bench: no readable VMLINUX ('$VMLINUX'): the PVH boots are skipped"
	PVH=0
fi
echo "BENCH_INFO pvh=$PVH"
i=1
while [ "$i" -le "$N" ]; do
	boot kvmini "$i"
	boot qemu-q35 "$i"
	if [ "$PVH" != 0 ]; then
		boot kvmini-pvh "$i"
		boot qemu-q35-pvh "$i"
	fi
	i=$((i + 1))
done
# microvm once, last: repeated microvm boots have crashed L1's kernel in the testbed.
[ -n "$MICROVM" ] && boot qemu-microvm 1
echo BENCH_END
