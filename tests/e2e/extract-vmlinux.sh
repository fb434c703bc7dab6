#!/bin/sh
# extract-vmlinux.sh: pull the ELF vmlinux out of a bzImage's compressed payload, for the PVH boot tests.
# usage: tests/e2e/extract-vmlinux.sh BZIMAGE OUT
# The boot header gives setup_sects (0x1f1; 0 means 4), payload_offset (0x248) and payload_length (0x24c);
# the payload starts at (setup_sects + 1) * 512 + payload_offset. It is decompressed by its magic; every format
# but gzip carries the decompressed size in its last 4 bytes (little-endian), which is checked. Exit status 0,
# or 1 with one line on stderr.
set -eu

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: ${0##*/} BZIMAGE OUT"
bz=$1 out=$2
{ [ -f "$bz" ] && [ -r "$bz" ]; } || die "$bz: not a readable file"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/extract-vmlinux.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# bytes FILE OFFSET COUNT: the bytes there as two-digit lowercase hex, space-separated ("" past the end).
bytes() {
	od -An -v -t x1 -j "$2" -N "$3" "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

# le FILE OFFSET COUNT: an unsigned little-endian integer (COUNT <= 4), or fail when the file ends first.
le() {
	set -- "$(bytes "$1" "$2" "$3")" "$3"
	n=0 shift_=0 cnt=0
	for b in $1; do
		n=$((n + (0x$b << shift_)))
		shift_=$((shift_ + 8)) cnt=$((cnt + 1))
	done
	[ "$cnt" -eq "$2" ] || return 1
	echo "$n"
}

size=$(wc -c <"$bz" | tr -d ' ')
[ "$(bytes "$bz" 514 4)" = "48 64 72 53" ] || die "$bz: not a bzImage (no HdrS boot header signature)"
version=$(le "$bz" 518 2) || die "$bz: truncated boot header"
[ "$version" -ge 520 ] || die "$bz: boot protocol $version too old (payload fields need 2.08)"
setup_sects=$(le "$bz" 497 1) || die "$bz: truncated boot header"
[ "$setup_sects" -ne 0 ] || setup_sects=4
payload_offset=$(le "$bz" 584 4) || die "$bz: truncated boot header"
payload_length=$(le "$bz" 588 4) || die "$bz: truncated boot header"
start=$(((setup_sects + 1) * 512 + payload_offset))
[ "$payload_length" -gt 4 ] || die "$bz: empty payload (payload_length $payload_length)"
[ $((start + payload_length)) -le "$size" ] || die "$bz: payload runs past the end of the file (truncated?)"

# The payload, exactly: skip with tail (POSIX, byte-exact), cut with one dd block read from a regular file.
tail -c +$((start + 1)) "$bz" >"$tmp/rest" || die "$bz: cannot read the payload"
dd if="$tmp/rest" of="$tmp/payload" bs="$payload_length" count=1 2>/dev/null || die "$bz: cannot read the payload"
[ "$(wc -c <"$tmp/payload" | tr -d ' ')" -eq "$payload_length" ] || die "$bz: short payload"

magic=$(bytes "$tmp/payload" 0 6)
case $magic in
"1f 8b"*) fmt=gzip tool=gzip ;;
"fd 37 7a 58 5a 00") fmt=xz tool=xz ;;
"28 b5 2f fd"*) fmt=zstd tool=zstd ;;
"02 21 4c 18"*) fmt=lz4 tool=lz4 ;;
"42 5a 68"*) fmt=bzip2 tool=bzip2 ;;
"5d 00 00"*) fmt=lzma tool=lzma ;;
"89 4c 5a 4f"*) fmt=lzo tool=lzop ;;
*) die "$bz: unknown payload compression (magic $magic)" ;;
esac
command -v "$tool" >/dev/null 2>&1 || die "$bz: $fmt payload, but $tool is not installed"

# Every format but gzip ends with the decompressed size (4 bytes, little-endian): strip it, check it after.
want=""
if [ "$fmt" != gzip ]; then
	want=$(le "$tmp/payload" $((payload_length - 4)) 4) || die "$bz: cannot read the payload's size trailer"
	dd if="$tmp/payload" of="$tmp/stream" bs=$((payload_length - 4)) count=1 2>/dev/null ||
		die "$bz: cannot read the payload"
else
	mv "$tmp/payload" "$tmp/stream"
fi
case $fmt in
gzip) gzip -dc <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
xz) xz -dc <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
lzma) lzma -dc <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
zstd) zstd -dcq <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
lz4) lz4 -dcq <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
bzip2) bzip2 -dc <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
lzo) lzop -dc <"$tmp/stream" >"$tmp/vmlinux" 2>/dev/null ;;
esac || die "$bz: $fmt decompression of the payload failed"

got=$(wc -c <"$tmp/vmlinux" | tr -d ' ')
[ -z "$want" ] || [ "$got" -eq "$want" ] || die "$bz: decompressed $got bytes, the payload says $want"
[ "$(bytes "$tmp/vmlinux" 0 4)" = "7f 45 4c 46" ] || die "$bz: the decompressed payload is not an ELF file"
mv "$tmp/vmlinux" "$out" 2>/dev/null || cp "$tmp/vmlinux" "$out" 2>/dev/null || die "$out: cannot write"
