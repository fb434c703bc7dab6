/* runcmd.c: `kvmini run -- CMD`: the generated initramfs, the failure report and the --result JSON. */
#include "vmm/runcmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/cpio.h"
#include "vmm/initramfs.h"

/* Modules the built-in init loads when --modules names a directory (those the kernel has built in are skipped):
 * the power button and its event device (SIGTERM to kvmini ends CMD in order), virtio for disks and NICs. */
static unsigned runcmd_modules(const struct opts *o, const char **m)
{
	unsigned n = 0;

	m[n++] = "button";
	m[n++] = "evdev";
	if (o->ndisks || o->nnets)
		m[n++] = "virtio_mmio";
	if (o->ndisks)
		m[n++] = "virtio_blk";
	if (o->nnets)
		m[n++] = "virtio_net";
	return n;
}

int runcmd_initrd(const struct opts *o, const void *init, size_t init_len, int *fd, uint64_t *size, char *why,
		  size_t whylen)
{
	struct initramfs_add adds[OPTS_MAX_FILES];
	char hosts[OPTS_MAX_FILES][4096];
	const char *mods[8];
	struct initramfs_spec s = {.init = init,
				   .init_len = init_len,
				   .argv = o->cmd,
				   .argc = o->ncmd,
				   .adds = adds,
				   .nadds = o->nadds,
				   .bins = o->bins,
				   .nbins = o->nbins,
				   .moddir = o->modules,
				   .modules = mods};
	struct cpio c;
	int err;

	/* --add HOST[:GUEST]: the last ':' splits, so a host path may hold one as long as GUEST is given. */
	for (unsigned i = 0; i < o->nadds; i++) {
		const char *colon = strrchr(o->adds[i], ':');
		size_t hl = colon ? (size_t)(colon - o->adds[i]) : strlen(o->adds[i]);

		if (hl == 0 || hl >= sizeof(hosts[i]) || (colon && colon[1] != '/')) {
			snprintf(why, whylen, "bad --add '%s' (HOST_PATH or HOST_PATH:/GUEST_PATH)", o->adds[i]);
			return -EINVAL;
		}
		memcpy(hosts[i], o->adds[i], hl);
		hosts[i][hl] = '\0';
		adds[i] = (struct initramfs_add){.host = hosts[i], .guest = colon ? colon + 1 : NULL};
	}
	s.nmodules = runcmd_modules(o, mods);
	cpio_init(&c);
	err = initramfs_build(&s, &c, why, whylen);
	if (!err)
		err = cpio_finish(&c);
	if (err < 0) {
		if (!*why)
			snprintf(why, whylen, "cannot build the initramfs: %s", strerror(-err));
		cpio_free(&c);
		return err;
	}
	/* A memfd: boot_load reads the initrd from a descriptor, like a file the user gave. */
	*fd = memfd_create("kvmini-initramfs", MFD_CLOEXEC);
	if (*fd < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot create the initramfs: %s", strerror(errno));
		cpio_free(&c);
		return err;
	}
	for (size_t off = 0; off < c.len;) {
		ssize_t n = write(*fd, c.buf + off, c.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			snprintf(why, whylen, "cannot write the initramfs: %s", strerror(-err));
			close(*fd);
			cpio_free(&c);
			return err;
		}
		off += (size_t)n;
	}
	*size = c.len;
	cpio_free(&c);
	return 0;
}

void runcmd_report(const struct vm *vm, const char *console_path)
{
	const char *lines[TAIL_LINES + 1];
	unsigned n = tail_lines(&vm->con.tail, lines, TAIL_LINES + 1);

	if (vm->con.tail.panicked) /* the line that says why; the last lines are the end of the trace after it */
		fprintf(stderr, "kvmini: %s\n", vm->con.tail.panic);
	if (console_path)
		fprintf(stderr, "kvmini: %s; the console's last %u lines (all of it in %s):\n", vm->exit_reason, n,
			console_path);
	else
		fprintf(stderr, "kvmini: %s; the console's last %u lines:\n", vm->exit_reason, n);
	for (unsigned i = 0; i < n; i++)
		fprintf(stderr, "  | %s\n", lines[i]);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_ms(FILE *f, const char *key, uint64_t t, uint64_t t0, const char *sep)
{
	if (t && t >= t0)
		fprintf(f, "\"%s\": %.1f%s", key, (double)(t - t0) / 1e6, sep);
	else
		fprintf(f, "\"%s\": null%s", key, sep);
}

int runcmd_result(const struct vm *vm, const char *path, const char *console_path)
{
	FILE *f = fopen(path, "w");
	const struct vm_stats *st = &vm->stats;
	int err = 0;

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"exit_code\": %d,\n  \"reason\": ", vm->exit_status);
	json_str(f, vm->exit_reason);
	fputs(",\n  \"guest_status\": ", f);
	if (vm->run.guest_status >= 0)
		fprintf(f, "%lld", (long long)vm->run.guest_status);
	else
		fputs("null", f);
	fputs(",\n  \"times_ms\": {", f);
	json_ms(f, "kernel_entry", st->t_first_run_ns, st->t_start_ns, ", ");
	json_ms(f, "init_ready", st->t_ready_ns, st->t_start_ns, ", ");
	json_ms(f, "end", st->t_end_ns, st->t_start_ns, "");
	fprintf(f, "},\n  \"timed_out\": %s,\n  \"panic\": ", vm->exit_status == EXIT_TIMEOUT ? "true" : "false");
	if (vm->con.tail.panicked) {
		const char *lines[TAIL_LINES + 1];
		unsigned n = tail_lines(&vm->con.tail, lines, TAIL_LINES + 1);

		fputs("{\"line\": ", f);
		json_str(f, vm->con.tail.panic);
		fputs(", \"last_lines\": [", f);
		for (unsigned i = 0; i < n; i++) {
			fputs(i ? ", " : "", f);
			json_str(f, lines[i]);
		}
		fputs("]}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\n  \"console_log\": ", f);
	json_str(f, console_path);
	fprintf(f,
		",\n  \"exits\": {\"io\": %llu, \"mmio\": %llu, \"other\": %llu},\n"
		"  \"program_output_bytes\": {\"stdout\": %llu, \"stderr\": %llu, \"dropped\": %llu}\n}\n",
		(unsigned long long)st->exits_io, (unsigned long long)st->exits_mmio,
		(unsigned long long)st->exits_other, (unsigned long long)vm->run.out_bytes[1],
		(unsigned long long)vm->run.out_bytes[2],
		(unsigned long long)(vm->run.out_dropped[1] + vm->run.out_dropped[2]));
	if (ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}
