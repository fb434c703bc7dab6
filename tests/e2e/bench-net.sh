# bench-net.sh: the network phase of `make bench` on the host side: its guest initramfs, progress lines, tables
# and section of docs/benchmarks.md. Sourced by tests/e2e/bench.sh (bash), which sets REPO_ROOT, KERNEL_MODDIR,
# WORK, E2E_MODE, MEM, NET_N, NET_SECS, NET_CMDLINE, NET_LIMIT and res (the batch's result lines); the measuring
# half is net() in tests/e2e/bench-l1.sh (BENCH_NET lines).
# shellcheck shell=bash disable=SC2154 # the variables above come from bench.sh

# net_initrd OUT: the boot phase's initramfs (same /init, busybox) plus iperf3 with its shared libraries and the
# loader at the paths ldd names, and the modules of both VMMs' NICs with their dependencies (kvmini: virtio_mmio,
# QEMU q35: virtio_pci; virtio_net and its failover modules), loaded by the guest's coldplug by modalias (-V).
net_initrd() {
	local bin lib files=()
	bin=$(command -v iperf3) || die "no iperf3 (apt-get install iperf3)"
	files+=(-f "$(readlink -f "$bin"):/usr/bin/iperf3")
	while read -r lib; do
		files+=(-f "$(readlink -f "$lib"):$lib")
	done < <(ldd "$bin" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
	"$REPO_ROOT/guest/mkinitramfs.sh" -o "$1" -k "$KERNEL_MODDIR" -M virtio_mmio,virtio_net,virtio_pci -V "${files[@]}"
}

# net_progress: a BENCH_NET line on stdin as one short progress line.
net_progress() {
	awk '{ for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["ok"] == 1)
			printf "bench: net %-8s run %s: guest to host %7.1f Mbit/s, host to guest %7.1f Mbit/s (retransmits %s / %s, guest CPU %s%% / %s%%)\n",
				v["vmm"], v["run"], v["tx_mbps"], v["rx_mbps"], v["tx_retr"], v["rx_retr"], v["tx_cpu"], v["rx_cpu"]
		else { sub(/.* why=/, ""); printf "bench: net %-8s run %s: FAILED: %s\n", v["vmm"], v["run"], $0 } }'
}

# net_table: the network phase's markdown table (medians, min-max, kvmini/QEMU ratios) and its failures; the goal
# lines go to $net_goal. Exit status 3 when a kvmini network boot failed or is missing.
net_goal=${WORK:-.}/net-goal.md
net_table() {
	awk -v n="$NET_N" -v goalf="$net_goal" -v fmt=%.1f "$TABLE_AWK"'
	BEGIN {
		split("tx_mbps rx_mbps", key, " ")
		split("guest to host (TCP)|host to guest (TCP)", what, "|")
	}
	/^BENCH_NET / {
		delete v
		for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		vm = v["vmm"]; runs[vm]++
		if (v["ok"] == 1) {
			cnt[vm]++
			for (k = 1; k <= 2; k++) val[vm, key[k], ++kc[vm, key[k]]] = v[key[k]]
		} else {
			w = $0; sub(/.* why=/, "", w)
			fails = fails sprintf("- FAILED: network %s run %s: %s\n", vm, v["run"], w)
		}
	}
	END {
		split("kvmini qemu-q35", order, " ")
		name["kvmini"] = "kvmini (`-n tap:`, virtio-mmio)"; name["qemu-q35"] = "QEMU q35 (virtio-net-pci, tap, vhost=off)"
		print "| VMM | boots OK | guest to host, Mbit/s | host to guest, Mbit/s |"
		print "| --- | --- | --- | --- |"
		for (o = 1; o <= 2; o++) {
			vm = order[o]
			if (runs[vm] < n)
				fails = fails sprintf("- FAILED: network %s: %d of %d boots did not run (the batch ended early)\n", vm, n - runs[vm], n)
			printf "| %s | %d/%d | %s | %s |\n", name[vm], cnt[vm], n, cell(vm, key[1]), cell(vm, key[2])
		}
		printf "| **kvmini / QEMU q35** (medians; **above 1 = kvmini faster**) | | %s | %s |\n", ratio(key[1]), ratio(key[2])
		printf "" > goalf
		for (k = 1; k <= 2; k++) {
			if (kc["kvmini", key[k]] == 0 || kc["qemu-q35", key[k]] == 0 || mid["qemu-q35", key[k]] == 0) {
				printf "- %s: not measured (boots failed, see above)\n", what[k] > goalf
				continue
			}
			r = mid["kvmini", key[k]] / mid["qemu-q35", key[k]]
			printf "- %s: kvmini %.2f× QEMU q35 (medians %.1f against %.1f Mbit/s): goal %s.\n", what[k], r,
				mid["kvmini", key[k]], mid["qemu-q35", key[k]], (r >= 1 ? "met" : "not met") > goalf
		}
		close(goalf)
		if (fails != "") printf "\n%s", fails
		exit (cnt["kvmini"] < n ? 3 : 0)
	}' "$res"
}

# net_runs: every network boot, for the record, with kvmini's own counters.
net_runs() {
	echo "| VMM | run | guest to host Mbit/s | host to guest Mbit/s | retransmits (g→h / h→g) | guest CPU % (g→h / h→g) | virtio interrupts | offloads negotiated | kvmini exits io / mmio | kvmini eth0 tx frames / waited | kvmini eth0 rx frames / stalls | exit ms | status |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	awk 'function n(x) { return x == "" || x < 0 ? "-" : x }
	# The offload-related virtio-net feature bits the guest driver negotiated (virtio 1.2, 5.1.3).
	function offl(b,   i, s) {
		if (b !~ /^[01]+$/) return "-"
		for (i = 1; i <= nb; i++) if (substr(b, bit[i] + 1, 1) == "1") s = s (s == "" ? "" : " ") bname[i]
		return s == "" ? "none" : s
	}
	BEGIN { nb = split("0 1 7 8 11 12 15 28 29", bit, " ")
		split("CSUM GUEST_CSUM GUEST_TSO4 GUEST_TSO6 HOST_TSO4 HOST_TSO6 MRG_RXBUF INDIRECT_DESC EVENT_IDX", bname, " ") }
	/^BENCH_NET / { delete v; for (i = 2; i <= NF; i++) { if ($i ~ /^why=/) break; split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "| %s | %s%s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s |\n", v["vmm"], v["run"], v["ok"] == 1 ? "" : " (failed)",
			n(v["tx_mbps"]), n(v["rx_mbps"]), n(v["tx_retr"]), n(v["rx_retr"]), n(v["tx_cpu"]), n(v["rx_cpu"]), n(v["irqs"]), offl(v["features"]),
			(v["exits_io"] >= 0 ? v["exits_io"] " / " v["exits_mmio"] : "-"),
			(v["eth_tx_frames"] >= 0 ? v["eth_tx_frames"] " / " v["eth_waited"] : "-"),
			(v["eth_rx_frames"] >= 0 ? v["eth_rx_frames"] " / " v["eth_stalls"] : "-"), v["exit_ms"], v["status"] }' "$res"
}

# net_doc: the network phase's section of docs/benchmarks.md, on stdout.
net_doc() {
	local where
	if [ "$E2E_MODE" = host ]; then
		where="this host"
	else
		where="L1 (the nested testbed's Linux, with its 2 vCPUs, under TCG)"
	fi
	cat <<EOF

## Network: virtio-net TCP throughput, kvmini against QEMU

The same \`make bench\` run, after the phases above, in the same testbed: $NET_N rounds of kvmini, QEMU q35
(alternating), each booting the same bzImage with its network-benchmark initramfs and one NIC on a tap in
$where. Command line: \`$NET_CMDLINE\`.

$ntbl

**A ratio above 1 means kvmini is faster** (more Mbit/s than QEMU). Medians, min–max over the successful
boots in brackets. Mbit/s are what the receiving side got (iperf3's \`end.sum_received.bits_per_second\`).

**Goal**: kvmini at least QEMU's throughput (ratio ≥ 1.00) in both directions:

$ngoal_lines

Every network boot (retransmits: the sending side's TCP retransmissions; guest CPU: iperf3's
\`cpu_utilization_percent.host_total\` in the guest; virtio interrupts: the guest's \`/proc/interrupts\` lines
of its virtio devices over the whole boot; offloads: the checksum, TSO, mergeable-buffer and ring feature bits
eth0's driver negotiated, from \`/sys/class/net/eth0/device/features\`; kvmini's figures from \`kvmini --stats\` over the whole
boot: VM exits that reached kvmini, frames through its eth0, \`waited\`: tap writes that had to wait for room,
\`stalls\`: times a frame from the tap waited for a guest receive buffer):

$nruns

### What runs

\`\`\`
tunctl -t kvbench0 (ip tuntap add dev kvbench0 mode tap on a host); ip addr add 192.0.2.1/24 dev kvbench0; ip link set kvbench0 up
iperf3 -s -B 192.0.2.1 &
kvmini run -k vmlinuz -i net-initrd -m $MEM -a '$NET_CMDLINE' -n tap:kvbench0 --stats
qemu-system-x86_64 -accel kvm -M q35 -cpu host -m $MEM -smp 1 -nodefaults -no-user-config -nographic -serial stdio -kernel vmlinuz -initrd net-initrd -append '$NET_CMDLINE' -no-reboot -netdev tap,id=n0,ifname=kvbench0,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0
# in the guest, after ping 192.0.2.1 answers:
iperf3 -c 192.0.2.1 -t $NET_SECS -J        # guest to host
iperf3 -c 192.0.2.1 -t $NET_SECS -R -J     # host to guest
\`\`\`

Each VMM under \`tmark -t $NET_LIMIT NETBENCH -- CMD...\` with stdin \`/dev/null\`. For every boot a fresh
persistent tap is made and configured before the VMM starts, the iperf3 server is started on it, and both are
removed after the VMM exits; both VMMs attach to that existing tap (\`IFF_TAP | IFF_NO_PI | IFF_VNET_HDR\`) and
set its offloads to what their guest negotiated. Addresses are TEST-NET-1 only (192.0.2.1 the host side, 192.0.2.2
the guest); in the nested testbed L1's QEMU runs with \`-nic none\`, so nothing leaves. \`net-initrd\` is the boot
phase's initramfs plus \`iperf3\` (Debian's package, the same binary as on the host side, with its shared
libraries: libiperf, libcrypto, libsctp, libm, libc and the loader) and the kernel modules of both VMMs' NICs
with their dependencies: \`virtio_mmio\` (kvmini), \`virtio_pci\` (QEMU's virtio-net-pci), \`virtio_net\` with
\`net_failover\` and \`failover\`, and \`virtio\`, \`virtio_ring\`. \`/init\` (\`kvmini.test=netbench\`) loads
the drivers by the devices' modalias, takes 192.0.2.2/24 on eth0, waits until 192.0.2.1 answers ping, runs
the two iperf3 clients for $NET_SECS s each (one TCP stream, iperf3's defaults: 128 KiB writes, the kernel's
congestion control), prints one \`NETBENCH\` line and powers off.

### How it is measured

- Both directions are the guest's iperf3 client against one server on the tap's host side: guest to host
  the guest sends, host to guest (\`-R\`) the host sends; the figure is the receiver's byte count over the
  test's duration.
- The transports differ, as each VMM's ordinary NIC does: kvmini's is virtio-mmio (kick: an ioeventfd;
  completion: an edge-triggered GSI, after which the guest reads \`InterruptStatus\` and writes
  \`InterruptACK\`: two MMIO exits to kvmini per interrupt; frames move between the tap and guest memory in
  kvmini's event-loop thread); QEMU's is virtio-net-pci with MSI-X, its frames moved by QEMU's main loop
  (\`vhost=off\`: L1's kernel has no \`vhost_net\` module, so QEMU's in-kernel data path is not available;
  on a real host QEMU would normally use vhost-net).
- Caveats: in the nested testbed every VM exit and every interrupt goes through an L1 emulated by TCG, and the
  iperf3 server shares L1's 2 vCPUs with the VMM; the numbers weigh the per-frame and per-interrupt costs far
  more heavily than hardware would, and the machine is shared with other work, so the spread between boots is
  large; the ratios matter more than the absolute numbers.
EOF
}
