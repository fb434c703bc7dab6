#!/usr/bin/env python3
"""qemu-regs.py: where a frozen L1's vCPUs are: asks QEMU's monitor (HMP on a UNIX socket) for every CPU's
registers twice, 1 s apart, and prints one line per CPU (RIP, flags, CPL, HLT, and whether RIP moved).
usage: qemu-regs.py SOCKET [KTEXT]   KTEXT: L1's kernel text as START-END (hex), to say whether RIP is in it.
The full dumps go to stdout after the summary lines, prefixed with '#'."""
import re
import socket
import sys
import time


def dump(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    s.connect(path)
    s.sendall(b"info registers -a\n")
    out, end = b"", time.time() + 3
    while time.time() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
        if out.count(b"RIP=") and out.rstrip().endswith(b"(qemu)"):
            break
    s.close()
    return out.decode("latin-1")


def cpus(text):
    res = {}
    for m in re.finditer(r"CPU#(\d+)(.*?)(?=CPU#\d+|\Z)", text, re.S):
        body = m.group(2)
        f = dict(re.findall(r"\b(RIP|RFL|CPL|HLT|II)=([0-9a-fx]+)", body))
        res[int(m.group(1))] = f
    return res


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lo = hi = None
    if len(sys.argv) > 2 and "-" in sys.argv[2]:
        a, b = sys.argv[2].split("-", 1)
        lo, hi = int(a, 16), int(b, 16)
    try:
        first = dump(sys.argv[1])
        time.sleep(1)
        second = dump(sys.argv[1])
    except OSError as e:
        print(f"no answer from QEMU's monitor: {e}")
        return
    a, b = cpus(first), cpus(second)
    for n in sorted(b):
        r1, r2 = a.get(n, {}).get("RIP"), b[n].get("RIP")
        where = ""
        if lo is not None and r2:
            rip = int(r2, 16)
            where = " (in L1's kernel text)" if lo <= rip < hi else " (not L1's kernel text: L2, a module or user)"
        moved = "moved" if r1 != r2 else "same RIP 1 s later"
        print(f"CPU#{n} RIP={r2}{where} RFL={b[n].get('RFL')} CPL={b[n].get('CPL')} HLT={b[n].get('HLT')}: {moved}")
    for line in second.splitlines():
        print("# " + line.rstrip())


main()
