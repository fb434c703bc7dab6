/* runinit.h: the built-in init of `kvmini run -- CMD` (guest/runinit.c), embedded in the kvmini binary. */
#ifndef KVMINI_RUNINIT_H
#define KVMINI_RUNINIT_H

/*
 * The static guest binary build/guest/runinit, as bytes: [kvmini_runinit_start, kvmini_runinit_end). It becomes
 * /init (mode 0755) of the initramfs kvmini builds for `run -- CMD`. guest/runinit_blob.S defines both symbols
 * and is linked into build/kvmini only, not into the unit-test and fuzz builds of the library: library code
 * should take the bytes as a parameter, and only vmm/main.c name these symbols.
 */
extern const unsigned char kvmini_runinit_start[], kvmini_runinit_end[];

#endif
