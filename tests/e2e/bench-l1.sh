#!/bin/sh
# bench-l1.sh: the measuring half of `make bench`: boots one guest under kvmini and QEMU, prints one BENCH_RUN line per boot.
# Then the disk phase: a guest disk benchmark (blkbench) on virtio-blk under both VMMs, one BENCH_BLK line per boot.
# Then the network phase: iperf3 between the guest and this host over a tap under both VMMs, one BENCH_NET line per boot.
# Run by tests/e2e/bench.sh, directly on the host (host mode) or inside the nested testbed's L1 as
# `testbed.sh script` (then bench.sh prepends the BENCH_* settings to a copy of this file). POSIX sh:
# dash on the host, busybox ash in L1.
# env: KVMINI, KERNEL, INITRD, WORK, TMARK (as for cases.sh), QEMU (qemu-system-x86_64), VMLINUX (the ELF
#      vmlinux of KERNEL, for the PVH pair), BENCH_PVH (1: also boot VMLINUX under kvmini and QEMU q35;
#      0: do not), BENCH_N (boots per VMM; each round boots kvmini, QEMU q35, kvmini-pvh, QEMU q35-pvh
#      in that order), BENCH_MEM (e.g. 256M) and BENCH_MEM_KIB
#      (the same in KiB: the size of the guest-RAM mapping tmark -g looks for), BENCH_CMDLINE,
#      BENCH_LIMIT (s per boot), BENCH_PERIOD_MS (smaps sampling period), BENCH_MICROVM (-M value of
#      the single microvm boot; empty: none), BENCH_SCRUB_MB (0: none; see scrub below).
#      Disk phase: BENCH_BLK (1; 0: skip it), BENCH_BLK_N (boots per VMM, alternating kvmini, QEMU q35),
#      BENCH_BLK_INITRD (the guest initramfs with /bin/blkbench and the virtio modules), BENCH_BLK_CMDLINE,
#      BENCH_BLK_LIMIT (s per boot), BENCH_BLK_MB (image size, MiB).
#      Network phase: BENCH_NET (1; 0: skip it), BENCH_NET_N (boots per VMM, alternating kvmini, QEMU q35),
#      BENCH_NET_INITRD (the guest initramfs with iperf3 and the virtio-net modules), BENCH_NET_CMDLINE,
#      BENCH_NET_LIMIT (s per boot), IPERF3 (iperf3; the server on this host), BENCH_NET_TAP (kvbench0).
#      In the nested testbed L1 has only one L2 initramfs file: there bench.sh sets BENCH_INITRD_BYTES,
#      BENCH_BLK_INITRD_BYTES and BENCH_NET_INITRD_BYTES, and INITRD is the boot initramfs followed by the
#      disk phase's and the network phase's (each present when its size is not 0); split here.
# Output lines (everything else is information):
#   BENCH_BEGIN / BENCH_END                 frame one complete batch (a retried L1 prints two BEGINs)
#   BENCH_INFO KEY=VALUE                    cpu, flags, uname, kvmini and qemu versions, pvh (0/1)
#   BENCH_RUN vmm=V run=I ok=0|1 marker_ms=N exit_ms=N uptime_ms=N status=N maxrss_kb=N guest_kb=N
#             guest_src=S guest_maps=N samples=N stats_guest_kb=N why=TEXT
#   V is kvmini, qemu-q35, kvmini-pvh, qemu-q35-pvh or qemu-microvm; uptime_ms is the guest's
#   KVMINI_UPTIME line (/proc/uptime as /init starts: time since the kernel's clock started), -1 if none.
#   BENCH_BLK vmm=V run=I ok=0|1 seq_write_mbs=N seq_read_mbs=N rand_read_iops=N bytes=N reqs=N irqs=N
#             exits_io=N exits_mmio=N exit_ms=N status=N why=TEXT
#   V is kvmini or qemu-q35; the first four numbers are the guest's BLKBENCH line, reqs and irqs its
#   BLKBENCH_STATS line (requests vda completed, virtio interrupts), exits_* kvmini's --stats (-1: none).
#   BENCH_NET vmm=V run=I ok=0|1 tx_mbps=N rx_mbps=N tx_retr=N rx_retr=N tx_cpu=N rx_cpu=N irqs=N features=BITS
#             exits_io=N exits_mmio=N eth_tx_frames=N eth_waited=N eth_rx_frames=N eth_stalls=N exit_ms=N status=N why=TEXT
#   V is kvmini or qemu-q35; tx = guest to host, rx = host to guest (Mbit/s the receiver got, iperf3's
#   end.sum_received), retransmits and the guest's CPU % (the guest's NETBENCH line), its virtio interrupts and
#   eth0's negotiated virtio feature bits (NETBENCH_STATS); exits_* and eth_*
#   kvmini's --stats (-1: none).
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
BLK=${BENCH_BLK:-1}
BLK_N=${BENCH_BLK_N:-3}
BLK_INITRD=${BENCH_BLK_INITRD:-}
BLK_CMDLINE=${BENCH_BLK_CMDLINE:-console=ttyS0 reboot=t panic=-1 quiet kvmini.test=blkbench kvmini.end=poweroff}
BLK_LIMIT=${BENCH_BLK_LIMIT:-120}
BLK_MB=${BENCH_BLK_MB:-256}
NET=${BENCH_NET:-1}
NET_N=${BENCH_NET_N:-3}
NET_INITRD=${BENCH_NET_INITRD:-}
NET_CMDLINE=${BENCH_NET_CMDLINE:-console=ttyS0 reboot=t panic=-1 quiet kvmini.test=netbench kvmini.end=poweroff kvmini.net_secs=10}
NET_LIMIT=${BENCH_NET_LIMIT:-180}
NET_TAP=${BENCH_NET_TAP:-kvbench0}
IPERF3=${IPERF3:-iperf3}
MARKER=KVMINI_INIT_OK
OUT=$WORK/bench
rm -rf "$OUT"
mkdir -p "$OUT"
# Nested testbed: the initramfs images arrive as one file (see above).
if [ -n "${BENCH_INITRD_BYTES:-}" ]; then
	head -c "$BENCH_INITRD_BYTES" "$INITRD" >"$OUT/boot-initrd.cpio.gz"
	tail -c +$((BENCH_INITRD_BYTES + 1)) "$INITRD" >"$OUT/rest.cpio.gz"
	bb=${BENCH_BLK_INITRD_BYTES:-$(wc -c <"$OUT/rest.cpio.gz")} nb=${BENCH_NET_INITRD_BYTES:-0}
	if [ "$bb" -gt 0 ]; then
		head -c "$bb" "$OUT/rest.cpio.gz" >"$OUT/blk-initrd.cpio.gz"
		BLK_INITRD=$OUT/blk-initrd.cpio.gz
	fi
	if [ "$nb" -gt 0 ]; then
		tail -c +$((bb + 1)) "$OUT/rest.cpio.gz" | head -c "$nb" >"$OUT/net-initrd.cpio.gz"
		NET_INITRD=$OUT/net-initrd.cpio.gz
	fi
	rm -f "$OUT/rest.cpio.gz"
	INITRD=$OUT/boot-initrd.cpio.gz
fi

# key FILE NAME: a number from tmark's report line (-1 when absent)
key() {
	v=$(sed -n "s/.*[ :]$2=\\(-*[0-9]*\\).*/\\1/p" "$1" 2>/dev/null | tail -n1)
	echo "${v:--1}"
}

# scrub: before each boot in the nested testbed (BENCH_SCRUB_MB, set by bench.sh), write that much through L1's
# free memory: dd's one buffer of that size, filled from /dev/zero, freed when dd exits. Otherwise L1's next
# guest gets pages the previous guest ran code in, and QEMU's TCG then invalidates its stale translations of
# them on each first write, a cost hardware does not have:
# kvmini's time before the kernel (the bzImage's decompressor writing ~50 MB) measured 6.7-6.9 s right after a
# boot and 2.1-2.6 s after a 900 MiB scrub, 3 times each. Both VMMs get the same scrub.
scrub() {
	[ "${BENCH_SCRUB_MB:-0}" -gt 0 ] || return 0
	dd if=/dev/zero of=/dev/null bs="${BENCH_SCRUB_MB}M" count=1 2>/dev/null
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
	scrub
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
	[ "$ok" = 1 ] || tail_of "$vmm run $run" "$d"
}

# tail_of NAME D: the end of a failed run's console and stderr, as "#   | " lines.
tail_of() {
	for f in "$2/out" "$2/err"; do
		[ -s "$f" ] || continue
		echo "#   --- last lines of $1 ${f##*/}:"
		# Control characters out (SeaBIOS clears the screen), and a newline after the last line
		# even when the console output ends without one.
		tail -n 8 "$f" | tr -d '\000-\010\013-\037' | awk '{ print "#   | " $0 }'
	done
}

# blk VMM I: one disk-benchmark boot on a fresh sparse image of BLK_MB MiB; prints its BENCH_BLK line.
# Both VMMs use the image through the host's page cache and turn the guest's flushes into fdatasync:
# kvmini always does; QEMU with cache=writeback (its default, spelt out).
blk() {
	vmm=$1 run=$2 d=$OUT/blk-$1.$2 img=$OUT/disk.img
	mkdir -p "$d"
	rm -f "$img"
	truncate -s $((BLK_MB * 1048576)) "$img"
	case $vmm in
	kvmini)
		set -- "$KVMINI" run -k "$KERNEL" -i "$BLK_INITRD" -m "$MEM" -a "$BLK_CMDLINE" -d "$img" --stats ;;
	qemu-q35)
		set -- "$QEMU" -accel kvm -M q35 -cpu host -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
			-serial stdio -kernel "$KERNEL" -initrd "$BLK_INITRD" -append "$BLK_CMDLINE" -no-reboot \
			-drive "file=$img,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0 ;;
	esac
	"$TMARK" -t "$BLK_LIMIT" -r "$d/rep" BLKBENCH -- "$@" </dev/null >"$d/out" 2>"$d/err"
	rm -f "$img"
	exit_ms=$(key "$d/rep" exit_ms) st=$(key "$d/rep" status) to=$(key "$d/rep" timed_out)
	res=$(tr -d '\r' <"$d/out" | sed -n 's/.*BLKBENCH seq_write_mbs=\([0-9]*\) seq_read_mbs=\([0-9]*\) rand_read_iops=\([0-9]*\) bytes=\([0-9]*\).*/seq_write_mbs=\1 seq_read_mbs=\2 rand_read_iops=\3 bytes=\4/p' | head -n1)
	bstats=$(tr -d '\r' <"$d/out" | sed -n 's/.*BLKBENCH_STATS reqs=\([0-9]*\) irqs=\([0-9]*\).*/reqs=\1 irqs=\2/p' | head -n1)
	eio=$(sed -n 's/^kvmini: exits: io=\([0-9]*\) mmio=\([0-9]*\).*/\1/p' "$d/err" | tail -n1)
	emmio=$(sed -n 's/^kvmini: exits: io=\([0-9]*\) mmio=\([0-9]*\).*/\2/p' "$d/err" | tail -n1)
	ok=1 why=
	if [ "$to" = 1 ]; then
		ok=0 why="no exit within $BLK_LIMIT s"
	elif [ "$st" != 0 ]; then
		ok=0 why="exit status $st"
	elif [ -z "$res" ]; then
		ok=0 why="no BLKBENCH line on the console"
	fi
	e=$(tr -d '\r' <"$d/out" | grep -a -m1 'KVMINI_INIT_ERROR' | cut -c1-100)
	[ -n "$e" ] && why="${why:+$why; }guest: $e"
	if [ "$ok" = 0 ]; then
		e=$(grep -av '^kvmini: \(exits\|memory\|time\):' "$d/err" 2>/dev/null | head -n1 | cut -c1-120)
		[ -n "$e" ] && why="$why; stderr: $e"
	fi
	[ -n "$res" ] || res="seq_write_mbs=-1 seq_read_mbs=-1 rand_read_iops=-1 bytes=-1"
	echo "BENCH_BLK vmm=$vmm run=$run ok=$ok $res ${bstats:-reqs=-1 irqs=-1} exits_io=${eio:--1} exits_mmio=${emmio:--1}" \
		"exit_ms=$exit_ms status=$st why=$why"
	[ "$ok" = 1 ] || tail_of "$vmm run $run" "$d"
}

# net VMM I: one network-benchmark boot; prints its BENCH_NET line. Before the VMM starts: a persistent tap,
# made here (iproute2's ip tuntap on a host, busybox tunctl in L1, whose ip has no tuntap), at 192.0.2.1/24
# (TEST-NET-1) and up, and an iperf3 server on that address; both VMMs attach to the existing tap. The guest
# takes 192.0.2.2, waits for ping, runs iperf3 -c both ways and powers off. vhost=off: L1 has no vhost-net.
net() {
	vmm=$1 run=$2 d=$OUT/net-$1.$2
	mkdir -p "$d"
	ip link del "$NET_TAP" 2>/dev/null
	{ ip tuntap add dev "$NET_TAP" mode tap 2>/dev/null || busybox tunctl -t "$NET_TAP" >/dev/null; } 2>"$d/ip.err" &&
		ip addr add 192.0.2.1/24 dev "$NET_TAP" 2>>"$d/ip.err" && ip link set "$NET_TAP" up 2>>"$d/ip.err"
	"$IPERF3" -s -B 192.0.2.1 >"$d/iperf3-server.log" 2>&1 &
	spid=$!
	case $vmm in
	kvmini)
		set -- "$KVMINI" run -k "$KERNEL" -i "$NET_INITRD" -m "$MEM" -a "$NET_CMDLINE" -n "tap:$NET_TAP" --stats ;;
	qemu-q35)
		set -- "$QEMU" -accel kvm -M q35 -cpu host -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
			-serial stdio -kernel "$KERNEL" -initrd "$NET_INITRD" -append "$NET_CMDLINE" -no-reboot \
			-netdev "tap,id=n0,ifname=$NET_TAP,script=no,downscript=no,vhost=off" -device virtio-net-pci,netdev=n0 ;;
	esac
	"$TMARK" -t "$NET_LIMIT" -r "$d/rep" NETBENCH -- "$@" </dev/null >"$d/out" 2>"$d/err"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	ip link del "$NET_TAP" 2>/dev/null || busybox tunctl -d "$NET_TAP" >/dev/null 2>&1
	exit_ms=$(key "$d/rep" exit_ms) st=$(key "$d/rep" status) to=$(key "$d/rep" timed_out)
	res=$(tr -d '\r' <"$d/out" | sed -n 's/.*NETBENCH \(tx_mbps=[-0-9.]* rx_mbps=[-0-9.]* tx_retr=[-0-9]* rx_retr=[-0-9]* tx_cpu=[-0-9]* rx_cpu=[-0-9]*\).*/\1/p' | head -n1)
	eio=$(sed -n 's/^kvmini: exits: io=\([0-9]*\) mmio=\([0-9]*\).*/\1/p' "$d/err" | tail -n1)
	emmio=$(sed -n 's/^kvmini: exits: io=\([0-9]*\) mmio=\([0-9]*\).*/\2/p' "$d/err" | tail -n1)
	nstats=$(tr -d '\r' <"$d/out" | sed -n 's/.*NETBENCH_STATS irqs=\([0-9]*\) features=\([01]*\).*/irqs=\1 features=\2/p' | head -n1)
	eth=$(sed -n 's/^kvmini: eth0: tx frames=\([0-9]*\) .*waited=\([0-9]*\); rx frames=\([0-9]*\) .*stalls=\([0-9]*\).*/eth_tx_frames=\1 eth_waited=\2 eth_rx_frames=\3 eth_stalls=\4/p' "$d/err" | tail -n1)
	ok=1 why=
	if [ "$to" = 1 ]; then
		ok=0 why="no exit within $NET_LIMIT s"
	elif [ "$st" != 0 ]; then
		ok=0 why="exit status $st"
	elif [ -z "$res" ]; then
		ok=0 why="no NETBENCH line on the console"
	else
		case " $res " in *"_mbps=-1 "*) ok=0 why="iperf3 measured nothing in one direction" ;; esac
	fi
	e=$(tr -d '\r' <"$d/out" | grep -a 'KVMINI_INIT_ERROR' | head -n2 | cut -c1-100 | tr '\n' ' ')
	[ -n "$e" ] && why="${why:+$why; }guest: $e"
	[ -s "$d/ip.err" ] && why="${why:+$why; }tap: $(head -n1 "$d/ip.err" | cut -c1-80)"
	if [ "$ok" = 0 ]; then
		e=$(grep -av '^kvmini: \(exits\|memory\|time\|eth[0-9]\):' "$d/err" 2>/dev/null | head -n1 | cut -c1-120)
		[ -n "$e" ] && why="$why; stderr: $e"
	fi
	[ -n "$res" ] || res="tx_mbps=-1 rx_mbps=-1 tx_retr=-1 rx_retr=-1 tx_cpu=-1 rx_cpu=-1"
	echo "BENCH_NET vmm=$vmm run=$run ok=$ok $res ${nstats:-irqs=-1 features=-} exits_io=${eio:--1} exits_mmio=${emmio:--1}" \
		"${eth:-eth_tx_frames=-1 eth_waited=-1 eth_rx_frames=-1 eth_stalls=-1} exit_ms=$exit_ms status=$st why=$why"
	[ "$ok" = 1 ] || { tail_of "$vmm run $run" "$d"; tail -n 3 "$d/iperf3-server.log" 2>/dev/null | awk '{ print "#   | server: " $0 }'; }
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
if [ "$BLK" != 0 ] && { [ -z "$BLK_INITRD" ] || [ ! -s "$BLK_INITRD" ]; }; then
	echo "bench: no BENCH_BLK_INITRD ('$BLK_INITRD'): the disk phase is skipped"
	BLK=0
fi
echo "BENCH_INFO blk=$BLK"
if [ "$NET" != 0 ] && { [ -z "$NET_INITRD" ] || [ ! -s "$NET_INITRD" ]; }; then
	echo "bench: no BENCH_NET_INITRD ('$NET_INITRD'): the network phase is skipped"
	NET=0
fi
if [ "$NET" != 0 ] && ! command -v "$IPERF3" >/dev/null 2>&1; then
	echo "bench: no $IPERF3 here: the network phase is skipped"
	NET=0
fi
echo "BENCH_INFO net=$NET"
[ "$NET" != 0 ] && echo "BENCH_INFO iperf3=$("$IPERF3" --version 2>&1 | head -n1)"
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
# The disk phase, after all the boots above so that it cannot change them.
if [ "$BLK" != 0 ]; then
	i=1
	while [ "$i" -le "$BLK_N" ]; do
		blk kvmini "$i"
		blk qemu-q35 "$i"
		i=$((i + 1))
	done
fi
# The network phase, last too.
if [ "$NET" != 0 ]; then
	i=1
	while [ "$i" -le "$NET_N" ]; do
		net kvmini "$i"
		net qemu-q35 "$i"
		i=$((i + 1))
	done
fi
echo BENCH_END
