# Makefile: builds build/kvmini, the cmocka unit tests (ASan/UBSan), and drives the e2e tests, demo and install.
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
BASEFLAGS := -std=gnu11 $(WARN) -I. -D_GNU_SOURCE -MMD -MP
LDLIBS   := -lelf -lpthread
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
PREFIX   ?= /usr/local
B        := build
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Everything but main.c goes into a library that the unit tests link against too.
LIB_SRCS := $(wildcard vmm/*.c devices/*.c firmware/*.c)
LIB_SRCS := $(filter-out vmm/main.c,$(LIB_SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(B)/san/%.o)
TESTS    := $(patsubst tests/unit/%.c,$(B)/test/%,$(filter-out tests/unit/helpers.c,$(wildcard tests/unit/test_*.c)))
FORMAT_FILES := $(wildcard vmm/*.[ch] devices/*.[ch] firmware/*.[ch] tests/unit/*.[ch] guest/*.c)

TINY     := $(patsubst guest/tiny/%.S,$(B)/guest/%.bzImage,$(wildcard guest/tiny/*.S))

.PHONY: all check unit format-check e2e test demo shell install clean guests
all: $(B)/kvmini guests

# Tiny test guests: a few lines of assembly behind a minimal bzImage header (guest/tiny/bzimage.h).
guests: $(TINY)
$(B)/guest/%.bzImage: guest/tiny/%.S guest/tiny/bzimage.h
	@mkdir -p $(dir $@)
	$(CC) -c -o $(B)/guest/$*.o $<
	objcopy -O binary -j .text $(B)/guest/$*.o $@

# The built-in init of `kvmini run -- CMD` (guest/runinit.c): a static binary that guest/runinit_blob.S embeds
# into kvmini with .incbin (symbols in vmm/runinit.h). Only build/kvmini links it: this extra prerequisite
# lands in the link rule's $^; the unit tests never see it.
$(B)/guest/runinit: guest/runinit.c guest/runinit_out.c guest/runinit.h vmm/layout.h
	@mkdir -p $(dir $@)
	$(CC) -static -Os -s -Wall -Wextra -Werror -I. -D_GNU_SOURCE -o $@ $(filter %.c,$^)
$(B)/obj/guest/runinit_blob.o: guest/runinit_blob.S $(B)/guest/runinit
	@mkdir -p $(dir $@)
	$(CC) -c -DRUNINIT_PATH='"$(B)/guest/runinit"' -o $@ $<
$(B)/kvmini: $(B)/obj/guest/runinit_blob.o

# kvmini demo: the teaching guests guest/demo/NAME.S, each a flat binary linked to run at 0x7c00
# (GUEST_DEMO_ADDR in vmm/layout.h), where kvmini enters it in real mode. guest/demo/catalog.S embeds them all
# with .incbin (found through the assembler's -I) and, like the runinit blob, is linked into build/kvmini only.
DEMOS := $(patsubst guest/demo/%.S,$(B)/guest/demo/%.bin,$(filter-out guest/demo/catalog.S,$(wildcard guest/demo/*.S)))
$(B)/guest/demo/%.bin: guest/demo/%.S guest/demo/demo.h vmm/layout.h
	@mkdir -p $(dir $@)
	$(CC) -c -I. -o $(B)/guest/demo/$*.o $<
	ld -m elf_x86_64 -N --build-id=none --no-warn-rwx-segments -Ttext=0x7c00 -e _start -o $(B)/guest/demo/$*.elf \
		$(B)/guest/demo/$*.o
	objcopy -O binary -j .text $(B)/guest/demo/$*.elf $@
$(B)/obj/guest/demo/catalog.o: guest/demo/catalog.S $(DEMOS)
	@mkdir -p $(dir $@)
	$(CC) -c -Wa,-I$(B)/guest/demo -o $@ $<
$(B)/kvmini: $(B)/obj/guest/demo/catalog.o

$(B)/kvmini: $(B)/obj/vmm/main.o $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# main.c prints the version: rebuild it when `git describe` changes (the stamp is rewritten only then).
$(B)/obj/vmm/main.o: $(B)/version.stamp
$(B)/version.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
FORCE:

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -DKVMINI_VERSION='"$(VERSION)"' -c -o $@ $<

$(B)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -O1 -g $(SAN) -DKVMINI_VERSION='"test"' -c -o $@ $<

$(B)/test/%: tests/unit/%.c $(SAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -O1 -g $(SAN) -o $@ $(filter %.c %.o,$^) -lcmocka $(LDLIBS)

# Unit tests: every tests/unit/test_*.c is one cmocka binary, built with ASan and UBSan.
unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)
	@! grep -l 'linux/kvm.h' devices/*.[ch] firmware/*.[ch] || { echo "devices/ and firmware/ must not use KVM"; exit 1; }
	@echo "format-check: ok"

check: format-check unit acpi-check

# ACPI tables: build them for a few machine shapes and have iasl disassemble and recompile each one.
.PHONY: acpi-check
acpi-check: $(B)/acpi-dump
	tests/unit/iasl-check.sh $(B)/acpi-check $(B)/acpi-dump
$(B)/acpi-dump: tests/unit/acpi-dump.c $(B)/san/firmware/acpi.o $(B)/san/firmware/aml.o
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -O1 -g $(SAN) -o $@ $(filter %.c %.o,$^)

# End-to-end tests boot real kernels: on the host where /dev/kvm works, else inside the nested QEMU testbed.
e2e: $(B)/kvmini guests
	tests/e2e/run.sh

# make test also fuzzes every target for 30 s (make fuzz-smoke) before the e2e cases.
test: check fuzz-smoke e2e

# kvmini against QEMU q35/microvm: boot time and footprint (BENCH_N boots, default 5), then virtio-blk throughput
# (BENCH_BLK_N, default 3): docs/benchmarks.md.
.PHONY: bench
bench: $(B)/kvmini
	tests/e2e/bench.sh

demo: $(B)/kvmini
	guest/demo.sh demo

shell: $(B)/kvmini
	guest/demo.sh shell

install: $(B)/kvmini
	install -D -m 0755 $(B)/kvmini $(DESTDIR)$(PREFIX)/bin/kvmini

clean:
	rm -rf $(B)

# libFuzzer targets: every tests/fuzz/fuzz_*.c is one binary build/fuzz/fuzz_*, linked with every library source
# compiled again by clang with the fuzzer's coverage and ASan/UBSan (never the gcc objects).
#   make fuzz                every target for FUZZ_SECONDS (default 60), corpus in build/fuzz/corpus/<name>
#   make fuzz-NAME           one target, e.g. fuzz-virtq (tests/fuzz/fuzz_virtq.c)
#   make fuzz-smoke          every target for 30 s; fuzz-NAME-smoke: one target for 30 s
# Crash inputs land in build/fuzz/ (replay: build/fuzz/fuzz_NAME build/fuzz/crash-...).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -Wall -Wextra -Werror -I. -D_GNU_SOURCE -MMD -MP -O1 -g -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=all -DKVMINI_VERSION='"fuzz"'
FUZZ_OBJS    := $(LIB_SRCS:%.c=$(B)/fuzz/obj/%.o)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FORMAT_FILES += $(wildcard tests/fuzz/*.[ch])
fuzz_run = mkdir -p $(B)/fuzz/corpus/$(notdir $(1)) && echo "== $(notdir $(1)): $(2) s" && \
	$(1) -max_total_time=$(2) -print_final_stats=1 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus/$(notdir $(1))

.PHONY: fuzz fuzz-smoke
$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Werror -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
fuzz: $(FUZZ_BINS)
	@set -e; $(foreach f,$^,$(call fuzz_run,$(f),$(FUZZ_SECONDS));)
fuzz-smoke: $(FUZZ_BINS)
	@set -e; $(foreach f,$^,$(call fuzz_run,$(f),30);)
fuzz-%-smoke: $(B)/fuzz/fuzz_%
	@$(call fuzz_run,$<,30)
fuzz-%: $(B)/fuzz/fuzz_%
	@$(call fuzz_run,$<,$(FUZZ_SECONDS))
.SECONDARY: $(FUZZ_OBJS)

# The sanitizer objects are only prerequisites of the test binaries: keep them (no "rm" after the results).
.SECONDARY: $(SAN_OBJS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
