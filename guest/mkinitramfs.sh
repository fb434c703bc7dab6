#!/bin/sh
# mkinitramfs.sh: build a deterministic newc cpio initramfs from busybox-static, an init script, files and kernel modules.
# usage: guest/mkinitramfs.sh -o OUT [-i INIT] [-f SRC:DEST]... [-k MODDIR -M MOD[,MOD...] [-V]] [-z gzip|none] [-B BUSYBOX]
#   -o OUT     output file (written atomically)
#   -i INIT    becomes /init (default guest/init/init)
#   -f SRC:DEST  copy file SRC to DEST inside the image (directories are created; mode kept)
#   -k MODDIR  the kernel's lib/modules/VERSION directory; -M names modules to include: they and
#              their dependencies (read from each .ko's depends= field) go to /lib/modules/, and
#              /lib/modules/load-order lists them dependencies first, one file name a line.
#   -V         modprobe layout: the modules go to /lib/modules/VERSION/ (VERSION = MODDIR's name) with
#              modules.dep and modules.alias from busybox depmod, so the guest can load drivers by the
#              devices' modalias as udev would; load-order then names VERSION/FILE.
#   -z         compression (default gzip)
#   -B         busybox binary (default /bin/busybox, must be static)
# Needs no root: no device nodes are stored (the init mounts devtmpfs), and owners are set to 0:0
# by cpio. Same inputs give the same bytes (sorted list, fixed mtimes, gzip -n).
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
out="" init="$here/init/init" moddir="" mods="" comp=gzip busybox=/bin/busybox versioned=0
files=""
nl='
'
while getopts o:i:f:k:M:z:B:V opt; do
	case $opt in
	o) out=$OPTARG ;;
	i) init=$OPTARG ;;
	f) files="$files$OPTARG$nl" ;;
	k) moddir=$OPTARG ;;
	M) mods="$mods $(printf '%s' "$OPTARG" | tr , ' ')" ;;
	z) comp=$OPTARG ;;
	B) busybox=$OPTARG ;;
	V) versioned=1 ;;
	*) echo "usage: $0 -o OUT [-i INIT] [-f SRC:DEST]... [-k MODDIR -M MODS] [-z gzip|none]" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || { echo "mkinitramfs: -o OUT is required" >&2; exit 2; }
[ -x "$busybox" ] || { echo "mkinitramfs: no busybox at $busybox (apt-get install busybox-static)" >&2; exit 1; }
# A dynamic busybox would need a libc in the image; refuse early with a clear message.
if command -v file >/dev/null 2>&1 && file -L "$busybox" | grep -q 'dynamically linked'; then
	echo "mkinitramfs: $busybox is dynamically linked; install busybox-static" >&2; exit 1
fi
[ -r "$init" ] || { echo "mkinitramfs: cannot read init script $init" >&2; exit 1; }
[ -z "$mods" ] || [ -d "$moddir" ] || { echo "mkinitramfs: -M needs -k MODDIR (a lib/modules/VERSION dir)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM

mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/etc" "$stage/proc" \
	"$stage/sys" "$stage/dev" "$stage/tmp" "$stage/root" "$stage/lib/modules"
cp "$busybox" "$stage/bin/busybox"
# Applet links at build time, so /init needs no `busybox --install` and boots a little faster.
"$busybox" --list-full | while read -r applet; do
	case $applet in linuxrc | */busybox | "") continue ;; esac
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
cp "$init" "$stage/init"
chmod 0755 "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

# Extra files: SRC:DEST, DEST absolute inside the image.
printf '%s' "$files" | while IFS= read -r spec; do
	[ -n "$spec" ] || continue
	src=${spec%%:*} dest=${spec#*:}
	[ -r "$src" ] || { echo "mkinitramfs: cannot read $src" >&2; exit 1; }
	mkdir -p "$stage$(dirname "/$dest")"
	cp "$src" "$stage/$dest"
done

# Kernel modules with their dependencies, in load order.
mod_file() { # NAME -> path of NAME.ko[.xz|.zst] under $moddir ('-' and '_' are the same)
	n1=$(printf '%s' "$1" | tr _ -) n2=$(printf '%s' "$1" | tr - _)
	find "$moddir" \( -name "$n1.ko" -o -name "$n2.ko" -o -name "$n1.ko.xz" -o -name "$n2.ko.xz" \
		-o -name "$n1.ko.zst" -o -name "$n2.ko.zst" \) -print | head -n1
}
mod_cat() { # decompressed module on stdout
	case $1 in *.xz) xz -dc "$1" ;; *.zst) zstd -dcq "$1" ;; *) cat "$1" ;; esac
}
mod_deps() { # FILE -> dependency names from the .modinfo depends= string
	mod_cat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1 | tr , ' '
}
order=""
add_mod() { # depth-first: dependencies before the module; each module once
	case " $order " in *" $1 "*) return 0 ;; esac
	f=$(mod_file "$1")
	[ -n "$f" ] || { echo "mkinitramfs: module $1 not found under $moddir" >&2; exit 1; }
	for d in $(mod_deps "$f"); do add_mod "$d"; done
	order="$order $1"
}
if [ -n "$mods" ]; then
	for m in $mods; do add_mod "$m"; done
	sub=""
	if [ "$versioned" = 1 ]; then
		sub="$(basename "$moddir")/"
		mkdir -p "$stage/lib/modules/$sub"
	fi
	for m in $order; do
		f=$(mod_file "$m")
		base=$(basename "$f" | sed 's/\.ko\..*$/.ko/') # the file's own name, without .xz/.zst
		mod_cat "$f" >"$stage/lib/modules/$sub$base"
		echo "$sub$base" >>"$stage/lib/modules/load-order"
	done
	[ -z "$sub" ] || "$busybox" depmod -b "$stage" "${sub%/}"
fi

# Deterministic archive: fixed mtimes, sorted names, owners 0:0, no gzip timestamp.
find "$stage" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
tmp="$out.tmp.$$"
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$tmp.cpio"
case $comp in
gzip) gzip -n -6 <"$tmp.cpio" >"$tmp" && rm -f "$tmp.cpio" ;;
none) mv "$tmp.cpio" "$tmp" ;;
*) rm -f "$tmp.cpio"; echo "mkinitramfs: unknown compression $comp" >&2; exit 2 ;;
esac
mv -f "$tmp" "$out"
