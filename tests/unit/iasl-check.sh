#!/bin/bash
# iasl-check.sh: have iasl disassemble and recompile every ACPI table acpi-dump writes; any complaint fails.
#
# usage: iasl-check.sh DIR [ACPI_DUMP]
#   With ACPI_DUMP, DIR is emptied and refilled by `ACPI_DUMP DIR` first; without, the tables already in
#   DIR/*/ are checked (handy for a scratch copy with a deliberately broken byte).
# Per table: `iasl -d` must exit 0 and print no error or warning (a bad checksum is a "Firmware Warning"),
# and its disassembly must carry no "****" / "Incorrect" / "Invalid" marks. Then the disassembly is
# recompiled, again without errors or warnings; a data table must come back byte for byte, except the
# compiler ID, compiler revision and checksum that iasl writes itself. iasl cannot disassemble a binary
# RSDP: its fields are written out as iasl data-table source and compiled, and the result (both checksums
# computed by iasl) must equal ours exactly.
set -u

die() {
	echo "iasl-check: $*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	die "usage: $0 DIR [ACPI_DUMP]"
fi
command -v iasl >/dev/null 2>&1 || die "iasl not found: install acpica-tools (Debian: apt-get install acpica-tools)"
top=$1
if [ $# -eq 2 ]; then
	rm -rf "$top"
	mkdir -p "$top" || die "cannot create $top"
	"$2" "$top" >"$top/acpi-dump.log" 2>&1 || {
		cat "$top/acpi-dump.log" >&2
		die "$2 failed"
	}
fi

failures=0
checked=0

# Run iasl with the given arguments inside directory $1; log to $1/$2. Fails on a nonzero status or on any
# line mentioning an error or a warning other than iasl's "0 Errors, 0 Warnings" summary.
run_iasl() {
	local dir=$1 log=$2
	shift 2
	(cd "$dir" && iasl "$@") >"$dir/$log" 2>&1
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "iasl $* exited with status $rc"
		return 1
	fi
	if grep -Ei 'error|warning' "$dir/$log" | grep -Eqv '^Compilation (successful|complete)\. 0 Errors, 0 Warnings'; then
		grep -Ei 'error|warning' "$dir/$log" | grep -Ev '^Compilation (successful|complete)\. 0 Errors, 0 Warnings' |
			head -1
		return 1
	fi
	return 0
}

# Differences between two table files; with $3 = header, not in the checksum (byte 9) or the compiler ID and
# revision (bytes 28-35), which iasl writes itself.
table_diff() {
	local a=$1 b=$2 skip=${3:-}
	[ "$(stat -c %s "$a")" = "$(stat -c %s "$b")" ] || {
		echo "size $(stat -c %s "$a"), iasl makes $(stat -c %s "$b")"
		return 1
	}
	# cmp -l prints 1-based positions and octal byte values.
	cmp -l "$a" "$b" | awk -v skip="$skip" '
		function oct(s, v, i) { for (i = 1; i <= length(s); i++) v = v * 8 + substr(s, i, 1); return v }
		skip == "" || ($1 != 10 && ($1 < 29 || $1 > 36)) {
			printf "byte %d: 0x%02x, iasl makes 0x%02x; ", $1 - 1, oct($2), oct($3); bad = 1 }
		END { exit bad }'
}

check_table() {
	local dir=$1 t=$2 why
	if ! why=$(run_iasl "$dir" "$t.d.log" -d "$t.dat"); then
		report "$dir" "$t" "disassembly: $why"
		return
	fi
	if why=$(grep -m1 -E '\*\*\*\*|Incorrect|Invalid' "$dir/$t.dsl"); then
		report "$dir" "$t" "disassembly marks: $why"
		return
	fi
	if ! why=$(run_iasl "$dir" "$t.c.log" -p "re-$t" "$t.dsl"); then
		report "$dir" "$t" "recompiling the disassembly: $why"
		return
	fi
	if [ "$t" != dsdt ] && ! why=$(table_diff "$dir/$t.dat" "$dir/re-$t.aml" header); then
		report "$dir" "$t" "recompiled table differs: $why"
		return
	fi
	report "$dir" "$t" ""
}

check_rsdp() {
	local dir=$1 f=$1/rsdp.dat why
	local -a B
	[ "$(stat -c %s "$f")" = 36 ] || {
		report "$dir" rsdp "size $(stat -c %s "$f"), not 36"
		return
	}
	read -r -a B < <(od -An -v -tx1 "$f" | tr '\n' ' ')
	str() {
		local s="" i
		for ((i = $1; i < $1 + $2; i++)); do s+=$(printf '%b' "\\x${B[i]}"); done
		printf '%s' "$s"
	}
	hex() {
		local s="" i
		for ((i = $1 + $2 - 1; i >= $1; i--)); do s+=${B[i]^^}; done
		printf '%s' "$s"
	}
	cat >"$dir/rsdp.dsl" <<-EOF
		[0008]                          Signature : "$(str 0 8)"
		[0001]                           Checksum : $(hex 8 1)
		[0006]                             Oem ID : "$(str 9 6)"
		[0001]                           Revision : $(hex 15 1)
		[0004]                       RSDT Address : $(hex 16 4)
		[0004]                             Length : $(hex 20 4)
		[0008]                       XSDT Address : $(hex 24 8)
		[0001]                  Extended Checksum : $(hex 32 1)
		[0003]                           Reserved : $(hex 33 3)
	EOF
	if ! why=$(run_iasl "$dir" rsdp.c.log -p re-rsdp rsdp.dsl); then
		report "$dir" rsdp "compiling its fields: $why"
	elif ! why=$(table_diff "$f" "$dir/re-rsdp.aml"); then
		report "$dir" rsdp "differs from what iasl builds from its fields: $why"
	else
		report "$dir" rsdp ""
	fi
}

report() {
	local dir=$1 t=$2 why=$3
	checked=$((checked + 1))
	if [ -z "$why" ]; then
		echo "iasl-check: $(basename "$dir")/${t^^}: ok"
	else
		failures=$((failures + 1))
		echo "iasl-check: $(basename "$dir")/${t^^}: FAIL: $why"
	fi
}

shopt -s nullglob
dirs=("$top"/*/)
[ ${#dirs[@]} -gt 0 ] || die "no table directories under $top"
for dir in "${dirs[@]}"; do
	dir=${dir%/}
	for t in rsdp xsdt facp apic dsdt; do
		if [ ! -f "$dir/$t.dat" ]; then
			report "$dir" "$t" "missing $t.dat"
		elif [ $t = rsdp ]; then
			check_rsdp "$dir"
		else
			check_table "$dir" $t
		fi
	done
done
[ $checked -gt 0 ] || die "no tables found under $top"
if [ $failures -ne 0 ]; then
	echo "iasl-check: $failures of $checked tables FAILED (logs in $top)" >&2
	exit 1
fi
echo "iasl-check: all $checked tables ok"
