/*
 * runinit.c: the built-in /init of `kvmini run -k KERNEL -- CMD [ARGS...]`, PID 1 in the guest.
 *
 * kvmini builds an initramfs in memory around this program (static: the image needs no C library of its
 * own) and the kernel runs it as /init. It prepares a minimal system, runs CMD, hands CMD's output and
 * exit status back to kvmini through I/O ports, and powers the machine off.
 *
 * Files it reads (all put there by kvmini):
 *   /kvmini/cmd      CMD's argv: each string ends with a NUL byte (no quoting, no length limit but memory).
 *   /kvmini/modules  optional: one absolute path of a kernel module (.ko) a line, dependencies first; each is
 *                    loaded with finit_module(). Blank lines and lines starting with '#' are skipped.
 *
 * What CMD gets: argv from /kvmini/cmd, looked up in PATH when argv[0] has no '/'; the environment
 * PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb; stdin /dev/null;
 * stdout and stderr two pipes that this init reads; its own session (setsid), so it and everything it
 * starts form one process group; cwd /; no access to the ports below. Mounted: /proc, /sys, /dev (devtmpfs,
 * plus /dev/fd and /dev/std{in,out,err} links), /dev/shm, /tmp, /run.
 *
 * Ports it writes (vmm/layout.h has the numbers):
 *   PORT_READY        READY_VALUE (outb) once, after the modules are loaded, just before CMD starts.
 *   PORT_PROG_PAGES   CMD's stdout and stderr, byte for byte, up to 64 KiB per write: see runinit_out.c.
 *   PORT_PROG_STDOUT  the same, slowly (`rep outsb`), when page transfers cannot be set up; and
 *   PORT_PROG_STDERR  CMD's stderr that way.
 *   PORT_EXIT         the exit status (outl) when CMD has ended, after sync(); kvmini exits with it at once.
 * Under a VMM without that exit device the init goes on: it prints "kvmini-init: CMD exited with status N" on
 * the console and powers off.
 *
 * The exit status:
 *   N        CMD exited with status N;
 *   128+S    CMD was killed by signal S (after the power button: 143 for SIGTERM, 137 for SIGKILL, or
 *            whatever CMD exits with if it handles SIGTERM);
 *   127      CMD was not found, or there was no command at all (/kvmini/cmd missing or empty), or the init
 *            could not start it (pipe or fork failed): in every case CMD never ran;
 *   126      CMD was found but could not be executed (permission denied, bad format, ...), as in shells.
 *
 * Stopping: kvmini's first SIGTERM presses the ACPI power button, which the kernel reports as KEY_POWER on an
 * evdev device (/dev/input/event*, looked for once a second until one is open). On that key, or on SIGTERM,
 * SIGINT or SIGPWR sent to PID 1, the init sends SIGTERM to CMD's process group, and SIGKILL 5 s later if CMD is
 * still running. Orphans (PID 1 inherits them) are reaped all along.
 *
 * When CMD has exited, the init still relays what is left in the pipes: until both are empty or closed, but
 * for 2 s at most (a background process CMD left behind may hold them open and keep writing).
 *
 * Problems are reported on the console (/dev/console: the kernel's serial console) as "kvmini-init: ..."
 * lines, and the init goes on wherever it can. The one exception: when CMD cannot be executed, that line
 * ("kvmini-init: CMD: No such file or directory") goes to CMD's stderr, where the user looks for it.
 *
 * Run anywhere but as PID 1 it refuses to do anything: it is not meant to be started on a host by mistake.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/runinit.h"
#include "vmm/layout.h"

#define KILL_MS	   5000 /* SIGTERM to SIGKILL */
#define DRAIN_MS   2000 /* relaying after CMD exited, at most */
#define RESCAN_MS  1000 /* look for a power button this often until one is open */
#define MAX_INPUTS 8	/* power-button devices watched at once */
#define ST_NOTRUN  127	/* CMD never ran */

static bool have_ports; /* ioperm() worked: without it, every in/out instruction would kill us with SIGSEGV */

/* One line on the console (fd 2 of the init), in a single write() so that kernel messages cannot split it. */
static void say(const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "kvmini-init: ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2) /* vsnprintf returns what it would have written: clamp to the buffer */
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, n) < 0)
		return; /* nowhere else to complain */
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The ports we write, for ioperm(): on in the init, off again in CMD (ioperm survives fork and execve). */
static const struct {
	unsigned short port, len;
} ports[] = {{PORT_EXIT, 4}, {PORT_READY, 1}, {PORT_PROG_STDOUT, 2}, {PORT_PROG_PAGES, 4}};

static bool set_ports(int on)
{
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ioperm(ports[i].port, ports[i].len, on) < 0) {
			if (on)
				say("ioperm(0x%x): %s: no exit status or output for kvmini", ports[i].port,
				    strerror(errno));
			return false;
		}
	return true;
}

/* A whole file in a malloc'd buffer, with a NUL after its len bytes; NULL and errno when it cannot be read. */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	size_t cap = 0, n = 0;
	char *buf = NULL, *b;
	ssize_t r = 1;

	if (fd < 0)
		return NULL;
	while (r > 0 || (r < 0 && errno == EINTR)) {
		if (n + 1 >= cap) { /* room for one more byte, and the NUL */
			cap = cap ? 2 * cap : 4096;
			if (!(b = realloc(buf, cap))) {
				r = -1;
				errno = ENOMEM;
				break;
			}
			buf = b;
		}
		if ((r = read(fd, buf + n, cap - n - 1)) > 0)
			n += r;
	}
	e = errno;
	close(fd);
	if (r < 0) {
		free(buf);
		errno = e;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Mount points: devtmpfs comes first (setup_console needs it) and is mounted by main. */
static const struct {
	const char *type, *dir, *data;
	unsigned long flags;
} mounts[] = {
    {"proc", "/proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"sysfs", "/sys", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"tmpfs", "/dev/shm", "mode=1777", MS_NOSUID | MS_NODEV}, /* POSIX shared memory (shm_open, sem_open) */
    {"tmpfs", "/tmp", "mode=1777", MS_NOSUID | MS_NODEV},
    {"tmpfs", "/run", "mode=0755", MS_NOSUID | MS_NODEV},
};

static int mount_one(const char *type, const char *dir, const char *data, unsigned long flags)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mount(type, dir, type, flags, data) < 0 && errno != EBUSY) /* EBUSY: already mounted */
		return -1;
	return 0;
}

/* The console as fds 0, 1 and 2 of the init. Whatever happens, fds 0-2 end up taken, so that the pipes
 * made later never get those numbers (CMD's dup2() onto 1 and 2 relies on that). */
static void setup_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		fd = open("/", O_RDONLY); /* nothing to write to, but the numbers are taken */
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* finit_module() for each path in /kvmini/modules, in order. A module the kernel has already (built in, or
 * loaded as a dependency) gives EEXIST: fine. Any other failure is reported and the next module tried. */
static void load_modules(void)
{
	size_t len;
	char *list = read_file("/kvmini/modules", &len), *save = NULL;

	if (!list) {
		if (errno != ENOENT)
			say("/kvmini/modules: %s", strerror(errno));
		return;
	}
	for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		int fd = open(line, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			say("module %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("module %s: %s", line, strerror(errno));
		close(fd);
	}
	free(list);
}

/* CMD's argv from /kvmini/cmd (NUL-terminated strings; a missing final NUL is forgiven). NULL if there is no
 * command, after saying why. Empty strings after the first are kept: `kvmini run -- printf '%s\n' ''`. */
static char **read_argv(void)
{
	size_t len, argc = 0;
	char *buf = read_file("/kvmini/cmd", &len);

	if (!buf) {
		say("no command: /kvmini/cmd: %s", strerror(errno));
		return NULL;
	}
	if (len == 0 || buf[0] == '\0') {
		say("no command: /kvmini/cmd is empty");
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		argc += buf[i] == '\0';
	argc += buf[len - 1] != '\0'; /* read_file put a NUL after the last byte */
	char **argv = calloc(argc + 1, sizeof(*argv));

	if (!argv) {
		say("no command: out of memory");
		return NULL;
	}
	for (size_t i = 0, off = 0; i < argc; i++) {
		argv[i] = buf + off;
		off += strlen(buf + off) + 1;
	}
	return argv;
}

/* The power button: the evdev devices that can report KEY_POWER (usually one, "Power Button"). */
static int inputs[MAX_INPUTS], ninputs;

static bool has_power_key(int fd)
{
	unsigned long bits[KEY_MAX / (8 * sizeof(long)) + 1] = {0};
	const unsigned w = 8 * sizeof(long);

	if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(bits)), bits) < 0)
		return false;
	return (bits[KEY_POWER / w] >> (KEY_POWER % w)) & 1;
}

/* Devices appear as their drivers load (button.ko, evdev.ko): run() calls this once a second until one is open,
 * so every scan can simply look at all of them again. */
static void scan_inputs(void)
{
	DIR *d = opendir("/dev/input");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && ninputs < MAX_INPUTS) {
		char path[64];

		if (strncmp(e->d_name, "event", 5) != 0 || strlen(e->d_name) > 32)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%.32s", e->d_name);
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0 && has_power_key(fd))
			inputs[ninputs++] = fd;
		else if (fd >= 0)
			close(fd);
	}
	closedir(d);
}

/* Read one device's events; true on a power-button press. A device that went away (ENODEV) is closed. */
static bool read_input(int i)
{
	struct input_event ev[16];
	ssize_t n = read(inputs[i], ev, sizeof(ev));
	bool pressed = false;

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		close(inputs[i]);
		inputs[i] = inputs[--ninputs];
		return false;
	}
	for (ssize_t k = 0; n > 0 && k < n / (ssize_t)sizeof(ev[0]); k++)
		if (ev[k].type == EV_KEY && ev[k].code == KEY_POWER && ev[k].value == 1)
			pressed = true;
	return pressed;
}

/* The child side of fork(): become CMD, or report why not on CMD's own stderr (the pipe) and exit. */
static void exec_cmd(char **argv, int out, int err, const sigset_t *blocked)
{
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(ST_NOTRUN); /* fds 0-2 were taken before the pipes were made, so out and err are > 2 */
	if (null > 2)
		close(null);
	setsid(); /* its own session and process group: the init signals the whole group */
	if (have_ports)
		set_ports(0); /* CMD has no business with kvmini's ports */
	sigprocmask(SIG_UNBLOCK, blocked, NULL);
	execvp(argv[0], argv); /* PATH comes from the environment main set up */
	int e = errno;

	dprintf(2, "kvmini-init: %s: %s\n", argv[0], strerror(e));
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* CMD's two pipes: the read end of each and its stream (1 stdout, 2 stderr; fd -1 once closed). */
struct relay {
	int fd;
	int stream;
};

/* Move what one pipe has to kvmini (runinit_out.c). Returns whether the pipe had anything (data or EOF). */
static bool relay_once(struct relay *r)
{
	size_t cap;
	unsigned char *buf = out_buffer(&cap);
	ssize_t n = read(r->fd, buf, cap);

	if (n > 0) {
		out_send(r->stream, (size_t)n, have_ports);
		if (out_gone(r->stream, have_ports)) {
			/* kvmini's reader went away (kvmini run -- yes | head -1): CMD's next write gets SIGPIPE. */
			close(r->fd);
			r->fd = -1;
		}
		return true;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	close(r->fd); /* EOF: every writer has gone */
	r->fd = -1;
	return true;
}

/* Run CMD to its end, relaying its output and watching for the power button; returns its exit status. */
static int run(char **argv, int sigfd, const sigset_t *blocked)
{
	int out[2], err[2];

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		say("pipe: %s", strerror(errno));
		return ST_NOTRUN;
	}
	/* Non-blocking on our ends only: CMD's writes must block when a pipe is full, not fail. */
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	pid_t child = fork();

	if (child < 0) {
		say("fork: %s", strerror(errno));
		return ST_NOTRUN;
	}
	if (child == 0)
		exec_cmd(argv, out[1], err[1], blocked);
	close(out[1]);
	close(err[1]);

	struct relay pipes[2] = {{out[0], 1}, {err[0], 2}};
	long long kill_at = 0, drain_end = 0, next_scan = 0;
	int status = -1; /* a wait status once CMD has ended */

	for (;;) {
		long long now = now_ms();
		bool stop = false;

		if (status >= 0 && ((pipes[0].fd < 0 && pipes[1].fd < 0) || now >= drain_end))
			break;
		if (kill_at && now >= kill_at) {
			say("%s still running %d s after SIGTERM: sending SIGKILL", argv[0], KILL_MS / 1000);
			if (kill(-child, SIGKILL) < 0)
				kill(child, SIGKILL);
			kill_at = 0;
		}
		if (ninputs == 0 && now >= next_scan) {
			scan_inputs();
			next_scan = now + RESCAN_MS;
		}

		/* Sleep until something happens or the next deadline. After CMD exited, only look (timeout 0): a pipe
		 * with nothing in it then means CMD's output is complete. */
		long long until = ninputs == 0 ? next_scan : -1;
		int timeout = -1;

		if (kill_at && (until < 0 || kill_at < until))
			until = kill_at;
		if (status >= 0)
			timeout = 0;
		else if (until >= 0)
			timeout = until > now ? (int)(until - now) : 0;
		struct pollfd pfd[3 + MAX_INPUTS] = {
		    {sigfd, POLLIN, 0}, {pipes[0].fd, POLLIN, 0}, {pipes[1].fd, POLLIN, 0}};

		for (int i = 0; i < ninputs; i++)
			pfd[3 + i] = (struct pollfd){inputs[i], POLLIN, 0};
		int nin = ninputs;

		if (poll(pfd, 3 + nin, timeout) < 0) {
			if (errno != EINTR)
				say("poll: %s", strerror(errno));
			continue;
		}

		bool busy = false; /* a pipe had data or EOF */

		for (int i = 0; i < 2; i++)
			if (pipes[i].fd >= 0 && (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				busy |= relay_once(&pipes[i]);
		for (int i = nin - 1; i >= 0; i--) /* backwards: read_input may move the last entry to i */
			if (pfd[3 + i].revents && read_input(i)) {
				say("power button pressed");
				stop = true;
			}

		struct signalfd_siginfo si;

		while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGCHLD) {
				say("SIG%s received", sigabbrev_np(si.ssi_signo));
				stop = true;
				continue;
			}
			/* Reap every child that ended: CMD, and the orphans PID 1 inherits. */
			int st;
			pid_t p;

			while ((p = waitpid(-1, &st, WNOHANG)) > 0)
				if (p == child && status < 0) {
					status = st;
					kill_at = 0;
					drain_end = now_ms() + DRAIN_MS;
					busy = true; /* the pipes were polled before it ended: look once more */
				}
		}

		if (stop && status < 0 && !kill_at) {
			say("sending SIGTERM to %s (SIGKILL in %d s)", argv[0], KILL_MS / 1000);
			/* The group may not exist yet if CMD has not reached setsid(): then CMD alone, whose signals
			 * stay blocked until after setsid(). */
			if (kill(-child, SIGTERM) < 0)
				kill(child, SIGTERM);
			kill_at = now_ms() + KILL_MS;
		} else if (stop && status >= 0) {
			drain_end = 0; /* already ended: stop relaying now */
		}
		if (status >= 0 && !busy)
			break; /* ended, and both pipes empty */
	}
	for (int i = 0; i < 2; i++)
		if (pipes[i].fd >= 0)
			close(pipes[i].fd);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int main(void)
{
	sigset_t blocked;

	if (getpid() != 1) {
		fprintf(stderr, "kvmini-init: must run as PID 1 (it is the /init of kvmini run's initramfs)\n");
		return 1;
	}
	/* Signals arrive through a signalfd in the main loop: block them from the start, so none is lost. */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGPWR);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	int sigfd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);

	/* /dev first: the console lives there (the initramfs has no device nodes of its own). */
	int dev_err = mount_one("devtmpfs", "/dev", NULL, MS_NOSUID) < 0 ? errno : 0;

	setup_console();
	if (dev_err)
		say("mount /dev: %s", strerror(dev_err));
	if (sigfd < 0)
		say("signalfd: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if (mount_one(mounts[i].type, mounts[i].dir, mounts[i].data, mounts[i].flags) < 0)
			say("mount %s: %s", mounts[i].dir, strerror(errno));
	/* What devtmpfs lacks and some programs expect (bash's <(...), `cat /dev/stdin`). */
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");
	/* Ctrl-Alt-Del then sends SIGINT to PID 1 (a clean stop) instead of rebooting on the spot. */
	reboot(RB_DISABLE_CAD);

	clearenv(); /* the kernel passes unknown command-line words as environment: not for CMD */
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", mkdir("/root", 0700) == 0 || errno == EEXIST ? "/root" : "/", 1);
	setenv("TERM", "dumb", 1);
	if (chdir("/") < 0)
		say("chdir /: %s", strerror(errno));

	load_modules();
	have_ports = set_ports(1);
	if (have_ports && !out_pages_init())
		say("no page transfers (%s): CMD's output goes byte by byte, slowly", strerror(errno));
	if (have_ports)
		outb(READY_VALUE, PORT_READY);

	char **argv = read_argv();
	int status = ST_NOTRUN;

	if (argv && sigfd < 0)
		say("cannot run %s without a signalfd", argv[0]);
	else if (argv)
		status = run(argv, sigfd, &blocked);

	/* Flush the page cache first: kvmini stops the machine the moment PORT_EXIT is written, and files CMD
	 * wrote to a disk (-d) without fsync would be lost. */
	sync();
	if (have_ports)
		outl(status, PORT_EXIT);
	/* Still here: not kvmini, or no exit device. Say it on the console and power off like any machine. */
	if (argv)
		say("%s exited with status %d", argv[0], status);
	else
		say("no command: status %d", status);
	reboot(RB_POWER_OFF);
	say("power off: %s", strerror(errno));
	for (;;) /* PID 1 must never exit: the kernel would panic */
		pause();
}
