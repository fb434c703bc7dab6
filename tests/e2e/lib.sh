# lib.sh: shared helpers for the e2e tests and the demo: kernel download/cache, tool builds, KVM detection.
# Sourced (not executed) by tests/e2e/run.sh, tests/e2e/testbed.sh, tests/e2e/boot-time.sh and guest/demo.sh.
# Needs bash or a POSIX sh with `local`; callers set -eu and E2E_DIR (this directory) first.
# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing scripts

# Downloads (never results) are cached outside the repo so fresh clones and CI reuse them.
KVMINI_CACHE=${KVMINI_CACHE:-${HOME:-/root}/.cache/kvmini}
# The meta package whose versioned dependency is the kernel we boot (L1 host and L2 guest alike).
KVMINI_KERNEL_META=${KVMINI_KERNEL_META:-linux-image-cloud-amd64}
KVMINI_BUILD=${KVMINI_BUILD:-build}
REPO_ROOT=$(cd "$E2E_DIR/../.." && pwd)

log() { printf '%s\n' "$*" >&2; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# need_cmds CMD:PACKAGE ...: install the Debian packages of missing commands (a fresh CI machine
# may lack them); fails with a clear line when not root or apt-get cannot help.
need_cmds() {
	local pair cmd pkg missing=""
	for pair in "$@"; do
		cmd=${pair%%:*} pkg=${pair#*:}
		if [ "${cmd#/}" != "$cmd" ]; then [ -e "$cmd" ] && continue
		else command -v "$cmd" >/dev/null 2>&1 && continue; fi
		missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (install them with apt-get)"
	log "e2e: installing missing packages:$missing"
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	apt-get install -y -q $missing >/dev/null 2>&1 || {
		apt-get update -q >/dev/null 2>&1 || true
		# shellcheck disable=SC2086
		apt-get install -y -q $missing >/dev/null || die "cannot install:$missing"
	}
}

# kernel_pkg_name: the versioned linux-image-*-cloud-amd64 package the meta package depends on.
# Runs `apt-get update` only when the package lists do not know the meta package yet.
kernel_pkg_name() {
	local name
	name=$(apt-cache depends "$KVMINI_KERNEL_META" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
	if [ -z "$name" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -q >/dev/null 2>&1 || true
		name=$(apt-cache depends "$KVMINI_KERNEL_META" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
	fi
	printf '%s\n' "$name"
}

# fetch_kernel: make sure the kernel package is downloaded and unpacked in the cache, then set
#   KERNEL          path of the bzImage (vmlinuz)
#   KERNEL_VERSION  its release string (e.g. 6.1.0-56-cloud-amd64)
#   KERNEL_MODDIR   its lib/modules/VERSION directory
# Idempotent; concurrent runs are safe because everything lands under a temporary name and is
# renamed into place (a rename that loses the race just discards its copy).
fetch_kernel() {
	local pkg dir tmp deb
	mkdir -p "$KVMINI_CACHE/kernels"
	pkg=$(kernel_pkg_name)
	if [ -z "$pkg" ]; then
		# No package lists (offline?): fall back to the newest kernel already in the cache.
		pkg=$(find "$KVMINI_CACHE/kernels" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' 2>/dev/null | sort -V | tail -n1)
		pkg=${pkg##*/}
		[ -n "$pkg" ] || die "cannot resolve $KVMINI_KERNEL_META (apt-cache) and no kernel is cached in $KVMINI_CACHE"
		log "e2e: apt-cache cannot resolve $KVMINI_KERNEL_META; using cached $pkg"
	fi
	dir=$KVMINI_CACHE/kernels/$pkg
	if [ ! -e "$dir/.complete" ]; then
		tmp=$(mktemp -d "$KVMINI_CACHE/kernels/.tmp.XXXXXX")
		log "e2e: downloading $pkg into $KVMINI_CACHE"
		# apt-get download writes into the current directory; the _apt sandbox warning is noise.
		if ! (cd "$tmp" && apt-get download -qq "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2; [ -n "$(find "$tmp" -maxdepth 1 -name '*.deb')" ]); then
			if [ "$(id -u)" = 0 ]; then
				apt-get update -q >/dev/null 2>&1 || true
				(cd "$tmp" && apt-get download -qq "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
			fi
		fi
		deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n1)
		[ -n "$deb" ] || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
		mkdir "$tmp/root"
		dpkg -x "$deb" "$tmp/root" || { rm -rf "$tmp"; die "dpkg -x $deb failed"; }
		rm -f "$deb" # the unpacked tree is all we use; the .deb would double the cache size
		: >"$tmp/root/.complete"
		# mv onto an existing directory would nest; only rename when nobody else finished first.
		if [ -e "$dir/.complete" ] || ! mv -T "$tmp/root" "$dir" 2>/dev/null; then
			[ -e "$dir/.complete" ] || { rm -rf "$tmp"; die "cannot install $dir"; }
		fi
		rm -rf "$tmp"
	fi
	KERNEL=$(find "$dir/boot" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | head -n1)
	if [ -z "$KERNEL" ] || [ ! -r "$KERNEL" ]; then die "no vmlinuz in $dir/boot"; fi
	KERNEL_VERSION=${KERNEL##*/vmlinuz-}
	KERNEL_MODDIR=$dir/lib/modules/$KERNEL_VERSION
	export KERNEL KERNEL_VERSION KERNEL_MODDIR
}

# build_guest_initrd OUT: the L2 test initramfs (guest/init/init) with the modules the cases load: the ACPI
# button and evdev (acpid case), virtio-mmio, virtio-blk and virtio-net (disk and network cases). The Debian cloud kernel builds them
# as modules; -V lets the guest load them by modalias, as udev would. Needs fetch_kernel first.
build_guest_initrd() {
	"$REPO_ROOT/guest/mkinitramfs.sh" -o "$1" -k "$KERNEL_MODDIR" -M button,evdev,virtio_mmio,virtio_blk,virtio_net -V
}

# extract_vmlinux OUT: the ELF vmlinux inside $KERNEL (for the PVH case), redone only when KERNEL is newer.
extract_vmlinux() {
	if [ ! -s "$1" ] || [ "$KERNEL" -nt "$1" ]; then
		sh "$REPO_ROOT/tests/e2e/extract-vmlinux.sh" "$KERNEL" "$1.tmp" || die "cannot extract vmlinux from $KERNEL"
		mv -f "$1.tmp" "$1"
	fi
}

# build_tool NAME [static]: compile tests/e2e/NAME.c into $KVMINI_BUILD/e2e/NAME when out of date.
# Static binaries are needed inside the L1 testbed, which has no libc besides what we copy.
build_tool() {
	local name=$1 mode=${2:-} src out
	src=$REPO_ROOT/tests/e2e/$name.c
	out=$REPO_ROOT/$KVMINI_BUILD/e2e/$name${mode:+-$mode}
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		mkdir -p "${out%/*}"
		need_cmds "${CC:-cc}:gcc"
		# shellcheck disable=SC2046 # -static or nothing
		"${CC:-cc}" -O2 -Wall -Wextra -Werror $( [ "$mode" = static ] && echo -static ) -o "$out.tmp.$$" "$src" ||
			die "cannot compile $src"
		mv -f "$out.tmp.$$" "$out"
	fi
	printf '%s\n' "$out"
}

# kvm_usable: exit 0 when /dev/kvm opens read-write and can create a VM (probed for real).
# Sets KVM_WHY to a short reason either way.
kvm_usable() {
	local probe
	if [ ! -e /dev/kvm ]; then KVM_WHY="/dev/kvm does not exist"; return 1; fi
	probe=$(build_tool kvm-probe) || { KVM_WHY="cannot build kvm-probe"; return 1; }
	if KVM_WHY=$("$probe" 2>&1); then return 0; fi
	return 1
}

# choose_mode: set E2E_MODE to host or nested and E2E_MODE_WHY to one line saying why.
choose_mode() {
	case ${KVMINI_E2E_MODE:-auto} in
	host | nested)
		E2E_MODE=$KVMINI_E2E_MODE
		E2E_MODE_WHY="forced by KVMINI_E2E_MODE=$KVMINI_E2E_MODE" ;;
	auto | "")
		if kvm_usable; then
			E2E_MODE=host E2E_MODE_WHY="/dev/kvm is usable ($KVM_WHY)"
		else
			E2E_MODE=nested E2E_MODE_WHY="/dev/kvm is not usable here: $KVM_WHY"
		fi ;;
	*) die "KVMINI_E2E_MODE must be host, nested or auto (got '$KVMINI_E2E_MODE')" ;;
	esac
}

# parse_stats FILE: the one place that reads kvmini's best-effort `--stats` line; prints
# "peak-rss=N guest-resident=N vmm=N" (KiB) or nothing. The lead may rename the line: adapt here.
parse_stats() {
	sed -n 's/^kvmini: memory: \(.*\)$/\1/p' "$1" 2>/dev/null | tail -n1 | sed 's/ KiB//g'
}
