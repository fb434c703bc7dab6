/* kmod.c: index a modules directory, read each needed module's .modinfo with libelf, order them by dependency. */
#include "vmm/kmod.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/io.h"

#define MODINFO_MAX (1 << 20) /* bytes of .modinfo: real ones are a few KiB */
#define MAX_DEPS    1024      /* names in one depends= */

struct kmod {
	char *name; /* the file name without .ko, '-' made '_': what depends= and modprobe say */
	char *path; /* host path */
	char **deps;
	unsigned ndeps;
	int state; /* 0 not visited, 1 on the current dependency path, 2 ordered */
};

struct kmods {
	struct kmod *m;
	unsigned n, cap, seen;
	unsigned *order; /* indices, each after its dependencies */
	unsigned norder;
	char *why;
	size_t whylen;
};

static int say(struct kmods *k, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(struct kmods *k, int err, const char *fmt, ...)
{
	va_list ap;

	if (k->why && k->whylen) {
		va_start(ap, fmt);
		vsnprintf(k->why, k->whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void name_norm(char *s)
{
	for (; *s; s++) {
		if (*s == '-')
			*s = '_';
	}
}

static int find(const struct kmods *k, const char *name)
{
	for (unsigned i = 0; i < k->n; i++) {
		if (!strcmp(k->m[i].name, name))
			return (int)i;
	}
	return -1;
}

/* Only uncompressed modules are taken: a .ko.xz or .ko.zst would need a decompressor here, and the guest's init
 * loads what it gets with finit_module as is. Debian's linux-image packages ship .ko files (bookworm). */
static int index_file(struct kmods *k, const char *path, const char *file)
{
	size_t len = strlen(file);
	struct kmod *n;
	char *name;

	if (len <= 3 || strcmp(file + len - 3, ".ko"))
		return 0;
	if (!(name = strndup(file, len - 3)))
		return -ENOMEM;
	name_norm(name);
	/* The same module twice (an updates/ copy, say): the first one in sorted order is kept. */
	if (find(k, name) >= 0) {
		free(name);
		return 0;
	}
	if (k->n == k->cap) {
		unsigned cap = k->cap ? k->cap * 2 : 256;

		if (!(n = realloc(k->m, cap * sizeof(*n)))) {
			free(name);
			return -ENOMEM;
		}
		k->m = n;
		k->cap = cap;
	}
	k->m[k->n] = (struct kmod){.name = name, .path = strdup(path)};
	if (!k->m[k->n].path) {
		free(name);
		return -ENOMEM;
	}
	k->n++;
	return 0;
}

/* Every *.ko under dir, in sorted order (the same archive from the same tree), without following symlinks. */
static int index_dir(struct kmods *k, const char *dir, unsigned depth)
{
	struct dirent **list;
	int n, err = 0;

	if (depth > KMOD_MAX_DEPTH)
		return say(k, -ELOOP, "--modules: %s: directories nested too deep", dir);
	if ((n = scandir(dir, &list, NULL, alphasort)) < 0)
		return say(k, -errno, "--modules %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *f = list[i]->d_name;
		char path[PATH_MAX];
		struct stat st;

		if (err || !strcmp(f, ".") || !strcmp(f, ".."))
			continue;
		if (++k->seen > KMOD_MAX_FILES)
			err = say(k, -E2BIG, "--modules: more than %d files under the directory", KMOD_MAX_FILES);
		else if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, f) >= sizeof(path))
			err = say(k, -ENAMETOOLONG, "--modules: %s/%s: path too long", dir, f);
		else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			err = index_dir(k, path, depth + 1);
		else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			err = index_file(k, path, f);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (err == -ENOMEM)
		say(k, err, "--modules: out of memory");
	return err;
}

/* "depends=a,b-c": the names, normalized. */
static int parse_depends(struct kmod *m, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t e = i;
		char **d;

		while (e < len && s[e] != ',')
			e++;
		if (e > i) {
			if (m->ndeps == MAX_DEPS)
				return -E2BIG;
			if (!(d = realloc(m->deps, (m->ndeps + 1) * sizeof(*d))))
				return -ENOMEM;
			m->deps = d;
			if (!(d[m->ndeps] = strndup(s + i, e - i)))
				return -ENOMEM;
			name_norm(d[m->ndeps++]);
		}
		i = e + 1;
	}
	return 0;
}

/* The .modinfo section: NUL-separated "key=value" strings; a module without one depends on nothing. */
static int read_modinfo(struct kmod *m, Elf *e, uint64_t fsize, const char **why)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(e, &shstrndx) < 0)
		return *why = "malformed ELF (section names)", -ENOEXEC;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name, *b;
		uint64_t end;
		Elf_Data *d;
		int err;

		if (!gelf_getshdr(scn, &sh))
			return *why = "malformed ELF (a section header)", -ENOEXEC;
		if (!(name = elf_strptr(e, shstrndx, sh.sh_name)) || strcmp(name, ".modinfo"))
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_size > MODINFO_MAX ||
		    __builtin_add_overflow(sh.sh_offset, sh.sh_size, &end) || end > fsize ||
		    !(d = elf_getdata_rawchunk(e, (int64_t)sh.sh_offset, sh.sh_size, ELF_T_BYTE)))
			return *why = "truncated or malformed .modinfo section", -ENOEXEC;
		b = d->d_buf;
		for (size_t i = 0; i < d->d_size;) {
			const char *z = memchr(b + i, 0, d->d_size - i);
			size_t len = z ? (size_t)(z - (b + i)) : d->d_size - i;

			if (len >= 8 && !memcmp(b + i, "depends=", 8) && (err = parse_depends(m, b + i + 8, len - 8)))
				return *why = err == -ENOMEM ? "out of memory" : "too many dependencies", err;
			i += len + 1;
		}
		return 0;
	}
	return 0;
}

/* libelf quietly shows no sections when their table lies beyond the end of the file: a cut-off module would then
 * seem to depend on nothing. A module always has sections. */
static bool sh_inside(const GElf_Ehdr *eh, uint64_t fsize)
{
	uint64_t end;

	return eh->e_shnum > 0 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
	       !__builtin_add_overflow(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), &end) && end <= fsize;
}

static int read_deps(struct kmods *k, struct kmod *m)
{
	unsigned char id[EI_NIDENT];
	const char *why = NULL;
	GElf_Ehdr eh;
	struct stat st;
	Elf *e = NULL;
	int fd, err = -ENOEXEC;

	if ((fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return say(k, -errno, "--modules: %s: %s", m->path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if ((uint64_t)st.st_size < sizeof(Elf64_Ehdr) || io_pread_full(fd, id, EI_NIDENT, 0) < 0 ||
		 memcmp(id, ELFMAG, SELFMAG))
		why = "not an ELF file";
	else if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB)
		why = "not an x86-64 module (32-bit or big-endian)";
	else if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_begin(fd, ELF_C_READ, NULL)))
		why = "malformed ELF (libelf cannot open it)";
	else if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		why = "malformed ELF (libelf cannot read its header)";
	else if (eh.e_machine != EM_X86_64 || eh.e_type != ET_REL)
		why = "not an x86-64 kernel module (ELF relocatable)";
	else if (!sh_inside(&eh, (uint64_t)st.st_size))
		why = "truncated or malformed ELF (section headers)";
	else
		err = read_modinfo(m, e, (uint64_t)st.st_size, &why);
	if (e)
		elf_end(e);
	close(fd);
	if (err < 0)
		return say(k, err, "--modules: %s: %s", m->path, why ? why : strerror(-err));
	return 0;
}

/* Depth-first: a module is ordered after everything it depends on. A name on the current path again is a cycle;
 * a dependency moddir does not have is built into the kernel. */
static int visit(struct kmods *k, unsigned i, unsigned depth)
{
	struct kmod *m = &k->m[i];
	int err;

	if (m->state == 2)
		return 0;
	if (m->state == 1)
		return say(k, -ELOOP, "--modules: dependency cycle through %s", m->name);
	if (depth >= KMOD_MAX_DEPTH)
		return say(k, -ELOOP, "--modules: dependencies nested deeper than %d at %s", KMOD_MAX_DEPTH, m->name);
	if ((err = read_deps(k, m)) < 0)
		return err;
	m->state = 1;
	for (unsigned d = 0; d < m->ndeps; d++) {
		int j = find(k, m->deps[d]);

		if (j >= 0 && (err = visit(k, (unsigned)j, depth + 1)) < 0)
			return err;
	}
	m->state = 2;
	k->order[k->norder++] = i;
	return 0;
}

/* A name modules.builtin lists ("kernel/drivers/x/name.ko" lines), when the directory has that file. */
static bool builtin_has(const char *moddir, const char *name, bool *have_list)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	*have_list = false;
	if ((size_t)snprintf(path, sizeof(path), "%s/modules.builtin", moddir) >= sizeof(path) ||
	    !(f = fopen(path, "re")))
		return false;
	*have_list = true;
	while (!found && getline(&line, &cap, f) > 0) {
		char *b = strrchr(line, '/') ? strrchr(line, '/') + 1 : line;
		size_t len = strcspn(b, "\r\n");

		if (len > 3 && !memcmp(b + len - 3, ".ko", 3)) {
			b[len - 3] = '\0';
			name_norm(b);
			found = !strcmp(b, name);
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Copy the ordered modules and write the list. */
static int write_out(struct kmods *k, struct cpio *c)
{
	size_t len = 0, cap = 0;
	char *list = NULL;
	int err = 0;

	for (unsigned o = 0; o < k->norder && !err; o++) {
		const struct kmod *m = &k->m[k->order[o]];
		const char *file = strrchr(m->path, '/') + 1;
		char guest[PATH_MAX];
		struct stat st;
		int fd, n;
		char *nl;

		n = snprintf(guest, sizeof(guest), KMOD_GUEST_DIR "/%s", file);
		if ((size_t)n >= sizeof(guest))
			return say(k, -ENAMETOOLONG, "--modules: %s: name too long", file);
		if ((fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
			err = -errno;
		else if (fstat(fd, &st) < 0)
			err = -errno;
		else
			err = cpio_file_fd(c, guest, 0644, fd, (uint64_t)st.st_size);
		if (fd >= 0)
			close(fd);
		if (!err && len + (size_t)n + 2 > cap) {
			cap = (cap + (size_t)n + 2) * 2;
			if (!(nl = realloc(list, cap)))
				err = -ENOMEM;
			else
				list = nl;
		}
		if (err) {
			free(list);
			return say(k, err, "--modules: %s: %s", m->path, strerror(-err));
		}
		memcpy(list + len, guest, (size_t)n);
		len += (size_t)n;
		list[len++] = '\n';
	}
	err = cpio_file(c, KMOD_LIST, 0644, list ? list : "", len);
	free(list);
	return err < 0 ? say(k, err, "--modules: cannot write " KMOD_LIST ": %s", strerror(-err)) : 0;
}

int kmod_add(struct cpio *c, const char *moddir, const char *const *names, unsigned n, char *why, size_t whylen)
{
	struct kmods k = {.why = why, .whylen = whylen};
	int err = index_dir(&k, moddir, 0);

	if (!err && !(k.order = calloc(k.n ? k.n : 1, sizeof(*k.order))))
		err = say(&k, -ENOMEM, "--modules: out of memory");
	for (unsigned w = 0; w < n && !err; w++) {
		char name[NAME_MAX + 1];
		bool have_list;
		int i;

		if ((size_t)snprintf(name, sizeof(name), "%s", names[w]) >= sizeof(name) || !name[0]) {
			err = say(&k, -EINVAL, "--modules: bad module name '%s'", names[w]);
			break;
		}
		name_norm(name);
		if ((i = find(&k, name)) >= 0)
			err = visit(&k, (unsigned)i, 0);
		else if (!builtin_has(moddir, name, &have_list) && have_list)
			err = say(&k, -ENOENT, "--modules: no module %s in %s, nor built into the kernel", names[w],
				  moddir);
	}
	if (!err)
		err = write_out(&k, c);
	for (unsigned i = 0; i < k.n; i++) {
		for (unsigned d = 0; d < k.m[i].ndeps; d++)
			free(k.m[i].deps[d]);
		free(k.m[i].deps);
		free(k.m[i].name);
		free(k.m[i].path);
	}
	free(k.m);
	free(k.order);
	return err;
}
