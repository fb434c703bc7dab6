/* runcmd.h: `kvmini run -- CMD`: the generated initramfs, the failure report and the --result JSON. */
#ifndef KVMINI_RUNCMD_H
#define KVMINI_RUNCMD_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/opts.h"
#include "vmm/vm.h"

/* Build the initramfs for o->cmd (the built-in init, --add, --add-bin, --modules) into a sealed memfd.
 * 0 with *fd and *size set, or -errno with a one-line reason in why. */
int runcmd_initrd(const struct opts *o, const void *init, size_t init_len, int *fd, uint64_t *size, char *why,
		  size_t whylen);
/* On a time-out or a panic: the reason and the console's last lines on stderr. */
void runcmd_report(const struct vm *vm, const char *console_path);
/* Write --result FILE.json. 0 or -errno. */
int runcmd_result(const struct vm *vm, const char *path, const char *console_path);

#endif
