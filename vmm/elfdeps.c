/* elfdeps.c: read PT_INTERP and the dynamic section with libelf, resolve DT_NEEDED as glibc's ld.so does. */
#include "vmm/elfdeps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/io.h"
#include "vmm/ldpath.h"

#define MAX_PHDRS  4096
#define MAX_DYN	   (1 << 20)		       /* bytes of dynamic section */
#define MAX_STRTAB (16 << 20)		       /* bytes of dynamic string table */
#define LINK_DIR   "/usr/lib/x86_64-linux-gnu" /* where a library the guest's ld.so would miss gets a symlink */

static const char *const default_dirs[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"};
/* The directories Debian's ld.so searches by itself (its system dirs: no lib64 ones). */
static const char *const guest_dirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"};

/* One program being added: the objects it loads, in ld.so's breadth-first order, each with its loader. */
struct load {
	unsigned obj[ELFDEPS_MAX_OBJS];
	unsigned loader[ELFDEPS_MAX_OBJS];
	unsigned n;
};

static int say(char *why, size_t len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void obj_free(struct elfdeps_obj *o)
{
	for (unsigned i = 0; i < o->nneeded; i++)
		free(o->needed[i]);
	free(o->needed);
	free(o->guest);
	free(o->soname);
	free(o->interp);
	free(o->rpath);
	free(o->runpath);
	memset(o, 0, sizeof(*o));
}

/* A string of the dynamic string table, copied; NULL (malformed) if it does not end inside the table. */
static char *dyn_str(const Elf_Data *s, uint64_t off, bool *bad)
{
	const char *b = s ? s->d_buf : NULL;
	char *r;

	if (!b || off >= s->d_size || !memchr(b + off, 0, s->d_size - off)) {
		*bad = true;
		return NULL;
	}
	r = strdup(b + off);
	if (!r)
		*bad = true;
	return r;
}

/* The dynamic string table, found through DT_STRTAB's address in the PT_LOAD segment that holds it. */
static Elf_Data *dyn_strtab(Elf *e, size_t phnum, uint64_t fsize, uint64_t vaddr, uint64_t size)
{
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		uint64_t off, end;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || vaddr < ph.p_vaddr ||
		    vaddr - ph.p_vaddr >= ph.p_filesz || size > ph.p_filesz - (vaddr - ph.p_vaddr))
			continue;
		off = ph.p_offset + (vaddr - ph.p_vaddr);
		if (off < ph.p_offset || __builtin_add_overflow(off, size, &end) || end > fsize)
			return NULL;
		return elf_getdata_rawchunk(e, (int64_t)off, size, ELF_T_BYTE);
	}
	return NULL;
}

/* The dynamic section: needed libraries, search paths, soname. */
static int parse_dynamic(Elf *e, size_t phnum, const GElf_Phdr *dph, uint64_t fsize, struct elfdeps_obj *o,
			 const char **why)
{
	uint64_t end, strtab = 0, strsz = 0, soname = UINT64_MAX, rpath = UINT64_MAX, runpath = UINT64_MAX;
	uint64_t need[ELFDEPS_MAX_NEEDED];
	unsigned nneed = 0;
	Elf_Data *d, *s = NULL;
	bool bad = false;

	if (__builtin_add_overflow(dph->p_offset, dph->p_filesz, &end) || end > fsize || dph->p_filesz > MAX_DYN)
		return *why = "truncated or malformed ELF (dynamic section)", -ENOEXEC;
	d = elf_getdata_rawchunk(e, (int64_t)dph->p_offset, dph->p_filesz, ELF_T_DYN);
	if (!d)
		return *why = "malformed ELF (cannot read the dynamic section)", -ENOEXEC;
	for (size_t i = 0; i < d->d_size / sizeof(Elf64_Dyn); i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_NEEDED && nneed == ELFDEPS_MAX_NEEDED)
			return *why = "malformed ELF (too many DT_NEEDED entries)", -ENOEXEC;
		switch (dyn.d_tag) {
		case DT_NEEDED:
			need[nneed++] = dyn.d_un.d_val;
			break;
		case DT_STRTAB:
			strtab = dyn.d_un.d_ptr;
			break;
		case DT_STRSZ:
			strsz = dyn.d_un.d_val;
			break;
		case DT_SONAME:
			soname = dyn.d_un.d_val;
			break;
		case DT_RPATH:
			rpath = dyn.d_un.d_val;
			break;
		case DT_RUNPATH:
			runpath = dyn.d_un.d_val;
			break;
		case DT_FLAGS_1:
			o->nodeflib = dyn.d_un.d_val & DF_1_NODEFLIB;
			break;
		default:
			break;
		}
	}
	if (!nneed && soname == UINT64_MAX && rpath == UINT64_MAX && runpath == UINT64_MAX)
		return 0;
	if (strsz > MAX_STRTAB || !(s = dyn_strtab(e, phnum, fsize, strtab, strsz)))
		return *why = "truncated or malformed ELF (dynamic string table)", -ENOEXEC;
	o->needed = calloc(nneed ? nneed : 1, sizeof(char *));
	if (!o->needed)
		return -ENOMEM;
	for (unsigned i = 0; i < nneed && !bad; i++)
		o->needed[o->nneeded++] = dyn_str(s, need[i], &bad);
	if (soname != UINT64_MAX && !bad)
		o->soname = dyn_str(s, soname, &bad);
	if (runpath != UINT64_MAX && !bad)
		o->runpath = dyn_str(s, runpath, &bad);
	else if (rpath != UINT64_MAX && !bad) /* ld.so ignores DT_RPATH when DT_RUNPATH is there */
		o->rpath = dyn_str(s, rpath, &bad);
	if (bad)
		return *why = "malformed ELF (a dynamic string lies outside its table)", -ENOEXEC;
	return 0;
}

/* Fill o from the ELF file on fd: an x86-64 ELFCLASS64 executable or shared object, nothing else. */
static int parse_elf(int fd, uint64_t fsize, struct elfdeps_obj *o, const char **why)
{
	unsigned char id[EI_NIDENT];
	GElf_Ehdr eh;
	size_t phnum;
	uint64_t end;
	Elf *e;
	int err = 0;

	/* Look at the identification first: libelf would read a whole non-ELF file into memory. */
	if (fsize < EI_NIDENT || io_pread_full(fd, id, EI_NIDENT, 0) < 0 || memcmp(id, ELFMAG, SELFMAG))
		return *why = "not an ELF file", -ENOEXEC;
	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB)
		return *why = "not an x86-64 ELF (32-bit or big-endian)", -ENOEXEC;
	if (fsize < sizeof(Elf64_Ehdr))
		return *why = "truncated ELF", -ENOEXEC;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return *why = "libelf refuses to work (version mismatch)", -EINVAL;
	if (!(e = elf_begin(fd, ELF_C_READ, NULL)))
		return *why = "malformed or truncated ELF (libelf cannot open it)", -ENOEXEC;
	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
		*why = "malformed ELF (libelf cannot read its header)";
		err = -ENOEXEC;
	} else if (eh.e_machine != EM_X86_64) {
		*why = "not an x86-64 ELF (another machine)";
		err = -ENOEXEC;
	} else if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		*why = "not an ELF executable or shared object";
		err = -ENOEXEC;
	} else if (eh.e_phnum > MAX_PHDRS || (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
		   __builtin_add_overflow(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), &end) || end > fsize ||
		   elf_getphdrnum(e, &phnum) < 0 || phnum != eh.e_phnum) {
		*why = "truncated or malformed ELF (program headers)";
		err = -ENOEXEC;
	}
	for (size_t i = 0; !err && i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(e, (int)i, &ph)) {
			*why = "malformed ELF (a program header)";
			err = -ENOEXEC;
		} else if (ph.p_type == PT_DYNAMIC) {
			err = parse_dynamic(e, phnum, &ph, fsize, o, why);
		} else if (ph.p_type == PT_INTERP && !o->interp) {
			if (ph.p_filesz == 0 || ph.p_filesz > PATH_MAX ||
			    __builtin_add_overflow(ph.p_offset, ph.p_filesz, &end) || end > fsize ||
			    !(d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_BYTE)) ||
			    !memchr(d->d_buf, 0, d->d_size) || ((char *)d->d_buf)[0] != '/') {
				*why = "truncated or malformed ELF (PT_INTERP)";
				err = -ENOEXEC;
			} else if (!(o->interp = strdup(d->d_buf))) {
				err = -ENOMEM;
			}
		}
	}
	elf_end(e);
	return err;
}

static int obj_push(struct elfdeps *d, struct elfdeps_obj *o)
{
	if (d->nobj == ELFDEPS_MAX_OBJS)
		return -E2BIG;
	if (d->nobj == d->capobj) {
		unsigned cap = d->capobj ? d->capobj * 2 : 32;
		struct elfdeps_obj *n = realloc(d->obj, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		d->obj = n;
		d->capobj = cap;
	}
	d->obj[d->nobj++] = *o;
	return 0;
}

static int obj_find(const struct elfdeps *d, const char *guest)
{
	for (unsigned i = 0; i < d->nobj; i++) {
		if (!strcmp(d->obj[i].guest, guest))
			return (int)i;
	}
	return -1;
}

/* Open, check and record one object; write it to the archive unless something is already there. A file whose
 * content we already wrote under another path becomes a symlink to it. Returns its index, -ENOENT when there is no
 * such file, -ENOEXEC (with why) when it is not a loadable x86-64 object. */
static int obj_load(struct elfdeps *d, const char *host, const char *guest, const char **why)
{
	struct elfdeps_obj o = {0};
	const char *base = strrchr(guest, '/') + 1;
	struct stat st;
	int fd, err, i = obj_find(d, guest);

	if (i >= 0)
		return i;
	fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return *why = "not a regular file", -ENOEXEC;
	}
	o.dev = st.st_dev;
	o.ino = st.st_ino;
	err = parse_elf(fd, (uint64_t)st.st_size, &o, why);
	if (!err && (!(o.guest = strdup(guest)) || (!o.soname && !(o.soname = strdup(base)))))
		err = -ENOMEM;
	if (!err && !cpio_lookup(d->c, guest)) {
		const char *same = NULL;

		for (unsigned k = 0; k < d->nobj && !same; k++) {
			if (d->obj[k].written && d->obj[k].dev == o.dev && d->obj[k].ino == o.ino)
				same = d->obj[k].guest;
		}
		err = same ? cpio_symlink(d->c, guest, same)
			   : cpio_file_fd(d->c, guest, st.st_mode & 0777, fd, (uint64_t)st.st_size);
		o.written = !same;
	}
	close(fd);
	if (!err && (err = obj_push(d, &o)) == -E2BIG)
		*why = "more than 4096 programs and libraries";
	if (err < 0) {
		obj_free(&o);
		return err;
	}
	return (int)d->nobj - 1;
}

/* Whether the guest's ld.so finds guest under name without a cache or an environment. */
static bool guest_finds(const char *guest, const char *name)
{
	const char *base = strrchr(guest, '/') + 1;

	if (strcmp(base, name))
		return false;
	for (size_t k = 0; k < sizeof(guest_dirs) / sizeof(guest_dirs[0]); k++) {
		size_t n = strlen(guest_dirs[k]);

		if (!strncmp(guest, guest_dirs[k], n) && guest + n + 1 == base)
			return true;
	}
	return false;
}

/* Try one candidate path (in the guest's terms). Returns an object index, -ENOENT to go on searching, or a fatal
 * error; the first reason a file was passed over is kept in skip for the final message. */
static int try_path(struct elfdeps *d, const char *cand, bool link, const char *name, char *skip, size_t skiplen)
{
	char guest[PATH_MAX], host[PATH_MAX], lnk[PATH_MAX];
	const char *why = NULL;
	int i;

	if (ldpath_clean(cand, guest, sizeof(guest)) < 0 ||
	    (size_t)snprintf(host, sizeof(host), "%s%s", d->lp.root, guest) >= sizeof(host))
		return -ENOENT;
	i = obj_load(d, host, guest, &why);
	if (i == -ENOEXEC && !skip[0])
		snprintf(skip, skiplen, " (passed over %s: %s)", guest, why);
	if (d->c->err)
		return d->c->err;
	if (i == -ENOMEM || i == -E2BIG)
		return i;
	if (i < 0)
		return -ENOENT; /* no such file, or not one ld.so would take: it searches on too */
	/* Found where only kvmini's environment, the cache or ld.so.conf pointed: the guest has neither, so a
	 * symlink in a directory its ld.so searches lets it find the library under the name asked for. */
	if (link && !guest_finds(guest, name) &&
	    (size_t)snprintf(lnk, sizeof(lnk), LINK_DIR "/%s", name) < sizeof(lnk) && !cpio_lookup(d->c, lnk) &&
	    cpio_symlink(d->c, lnk, guest) < 0)
		return d->c->err;
	return i;
}

/* Search a ':'-separated list (';' too, as ld.so accepts) with $ORIGIN expanded to origin. Entries that are empty,
 * relative or hold another dynamic string token are skipped: there is no cwd or platform to mirror. */
static int try_list(struct elfdeps *d, const char *list, const char *origin, bool link, const char *name, char *skip,
		    size_t skiplen)
{
	char dir[PATH_MAX], cand[PATH_MAX];

	while (list && *list) {
		const char *end = list + strcspn(list, ":;");
		size_t n = 0;
		bool ok = true;
		int i;

		for (const char *p = list; p < end && ok; p++) {
			size_t tok = !strncmp(p, "$ORIGIN", 7) ? 7 : !strncmp(p, "${ORIGIN}", 9) ? 9 : 0;
			const char *src = tok ? origin : p;
			size_t len = tok ? strlen(origin) : 1;

			ok = (tok || *p != '$') && n + len < sizeof(dir);
			if (ok)
				memcpy(dir + n, src, len);
			n += len;
			p += tok ? tok - 1 : 0;
		}
		list = *end ? end + 1 : end;
		if (!ok || n == 0 || dir[0] != '/')
			continue;
		dir[n] = '\0';
		if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", dir, name) >= sizeof(cand))
			continue;
		if ((i = try_path(d, cand, link, name, skip, skiplen)) != -ENOENT)
			return i;
	}
	return -ENOENT;
}

static void dir_of(const char *path, char *out, size_t len)
{
	const char *s = strrchr(path, '/');
	size_t n = s && s != path ? (size_t)(s - path) : 1;

	snprintf(out, len, "%.*s", (int)n, path);
}

/* Where ld.so finds the library name for the object at position at of the load list. */
static int resolve(struct elfdeps *d, const struct load *ld, unsigned at, const char *name, char *skip, size_t skiplen)
{
	const struct elfdeps_obj *o = &d->obj[ld->obj[at]];
	char origin[PATH_MAX];
	const char *cached;
	int i = -ENOENT;

	if (strchr(name, '/'))
		return name[0] == '/' ? try_path(d, name, false, name, skip, skiplen) : -ENOENT;
	/* DT_RPATH of the loader, then of its loader and on up to the program, unless the loader has DT_RUNPATH. */
	for (unsigned l = at; !o->runpath && i == -ENOENT; l = ld->loader[l]) {
		dir_of(d->obj[ld->obj[l]].guest, origin, sizeof(origin));
		i = try_list(d, d->obj[ld->obj[l]].rpath, origin, false, name, skip, skiplen);
		if (l == 0)
			break;
	}
	dir_of(d->obj[ld->obj[0]].guest, origin, sizeof(origin));
	if (i == -ENOENT)
		i = try_list(d, getenv("LD_LIBRARY_PATH"), origin, true, name, skip, skiplen);
	dir_of(o->guest, origin, sizeof(origin));
	if (i == -ENOENT)
		i = try_list(d, o->runpath, origin, false, name, skip, skiplen);
	if (i != -ENOENT || o->nodeflib)
		return i;
	if ((cached = ldpath_cache_find(&d->lp, name)))
		i = try_path(d, cached, true, name, skip, skiplen);
	for (unsigned k = 0; k < d->lp.nconf && i == -ENOENT; k++)
		i = try_list(d, d->lp.conf[k], "/", true, name, skip, skiplen);
	for (size_t k = 0; k < sizeof(default_dirs) / sizeof(default_dirs[0]) && i == -ENOENT; k++)
		i = try_list(d, default_dirs[k], "/", false, name, skip, skiplen);
	return i;
}

static int load_push(struct load *ld, unsigned obj, unsigned loader)
{
	for (unsigned k = 0; k < ld->n; k++) {
		if (ld->obj[k] == obj)
			return 0;
	}
	if (ld->n == ELFDEPS_MAX_OBJS)
		return -E2BIG;
	ld->obj[ld->n] = obj;
	ld->loader[ld->n++] = loader;
	return 0;
}

/* Breadth-first over the program's needs, as ld.so loads them: a name some loaded object already has as its
 * soname is not searched again. */
static int load_needs(struct elfdeps *d, struct load *ld, char *why, size_t whylen)
{
	char skip[PATH_MAX + 128];

	for (unsigned at = 0; at < ld->n; at++) {
		for (unsigned k = 0; k < d->obj[ld->obj[at]].nneeded; k++) {
			const char *name = d->obj[ld->obj[at]].needed[k];
			bool loaded = false;
			int i, err;

			for (unsigned j = 0; j < ld->n && !loaded; j++)
				loaded = !strcmp(d->obj[ld->obj[j]].soname, name);
			if (loaded)
				continue;
			skip[0] = '\0';
			if ((i = resolve(d, ld, at, name, skip, sizeof(skip))) == -ENOENT)
				return say(why, whylen, -ENOENT, "%s (needed by %s) not found%s", name,
					   d->obj[ld->obj[at]].guest, skip);
			if (i < 0 || (err = load_push(ld, (unsigned)i, at)) < 0)
				return say(why, whylen, i < 0 ? i : err, "%s (needed by %s): %s", name,
					   d->obj[ld->obj[at]].guest, strerror(-(i < 0 ? i : err)));
		}
	}
	return 0;
}

int elfdeps_add(struct elfdeps *d, const char *host, const char *guest, char *why, size_t whylen)
{
	char g[PATH_MAX], ihost[PATH_MAX];
	const char *reason = NULL;
	struct load *ld;
	int i, err;

	if (ldpath_clean(guest, g, sizeof(g)) < 0)
		return say(why, whylen, -EINVAL, "%s: not an absolute guest path", guest);
	if (obj_find(d, g) >= 0)
		return 0; /* added before, with everything it needs */
	i = obj_load(d, host, g, &reason);
	if (i < 0)
		return say(why, whylen, i, "%s", reason ? reason : strerror(-i));
	if (!(ld = calloc(1, sizeof(*ld))))
		return say(why, whylen, -ENOMEM, "out of memory");
	ld->n = 1;
	if (d->obj[i].interp) {
		const char *interp = d->obj[i].interp;
		int k;

		reason = NULL;
		if ((size_t)snprintf(ihost, sizeof(ihost), "%s%s", d->lp.root, interp) >= sizeof(ihost) ||
		    ldpath_clean(interp, g, sizeof(g)) < 0)
			k = -ENAMETOOLONG;
		else
			k = obj_load(d, ihost, g, &reason);
		if (k < 0) {
			free(ld);
			return say(why, whylen, k, "interpreter %s: %s", interp, reason ? reason : strerror(-k));
		}
		ld->obj[ld->n] = (unsigned)k;
		ld->loader[ld->n++] = 0;
	}
	ld->obj[0] = (unsigned)i;
	err = load_needs(d, ld, why, whylen);
	free(ld);
	return err;
}

int elfdeps_init(struct elfdeps *d, struct cpio *c, const char *root)
{
	memset(d, 0, sizeof(*d));
	d->c = c;
	return ldpath_init(&d->lp, root);
}

void elfdeps_free(struct elfdeps *d)
{
	for (unsigned i = 0; i < d->nobj; i++)
		obj_free(&d->obj[i]);
	free(d->obj);
	ldpath_free(&d->lp);
	memset(d, 0, sizeof(*d));
}
