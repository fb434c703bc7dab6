/* tmark: run a command, time its first output line containing MARKER and its exit, with a hard limit. */
/*
 * usage: tmark [-t SECS] [-r REPORT] [-g KIB [-p MS]] MARKER -- CMD [ARGS...]
 *
 * CMD's stdout goes through a pipe and is copied to tmark's stdout; the time from fork to the
 * first line containing MARKER is measured. An empty MARKER means "no pipe": CMD inherits
 * stdout unchanged (so a test can give it a file or a pipe of its own) and marker_ms is -1.
 * At the end tmark prints, to stderr or to REPORT (-r, so a test can check CMD's stderr alone):
 *   tmark: marker_ms=N exit_ms=N status=N maxrss_kb=N timed_out=0|1
 * status is CMD's exit code, or 128+signal when it died by a signal. With -t, CMD is killed with
 * SIGKILL after SECS seconds (timed_out=1, status=137). tmark exits with status, or 126/127 when
 * CMD could not be run, or 2 on bad usage. It is linked statically to run inside the L1 testbed.
 *
 * -g KIB (for tests/e2e/bench.sh): while CMD runs, read /proc/PID/smaps every MS milliseconds (-p,
 * default 100) and sum the Rss of the mappings whose Size is exactly KIB: a VMM's guest RAM (QEMU's
 * RAM block, kvmini's read-write guest memory). Three fields are appended to the report line:
 *   guest_rss_kb=N guest_maps=N samples=N
 * the largest such sum seen (guest RAM touched; it only grows while a guest boots), how many mappings
 * matched in that sample, and how many samples were taken. -1/0 when no mapping ever matched.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t expired;

static void on_alarm(int sig)
{
	(void)sig;
	expired = 1;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
	fprintf(stderr, "usage: tmark [-t SECS] [-r REPORT] [-g KIB [-p MS]] MARKER -- CMD [ARGS...]\n");
	exit(2);
}

/* Guest-RAM sampling (-g): the largest Rss sum over mappings of exactly guest_kib seen so far. */
static long guest_kib = 0, guest_max = -1, guest_maps = 0, samples = 0;

static void sample_smaps(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	long sum = 0, maps = 0;
	int match = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		long v;
		if (sscanf(line, "Size: %ld kB", &v) == 1)
			match = v == guest_kib;
		else if (match && sscanf(line, "Rss: %ld kB", &v) == 1) {
			sum += v;
			maps++;
			match = 0;
		}
	}
	fclose(f);
	samples++;
	if (maps > 0 && sum > guest_max) {
		guest_max = sum;
		guest_maps = maps;
	}
}

/* Write all of buf to fd; give up silently on error (e.g. EPIPE: the reader left, keep draining). */
static void write_all(int fd, const char *buf, size_t len, int *broken)
{
	while (len > 0 && !*broken) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*broken = 1;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

int main(int argc, char **argv)
{
	unsigned secs = 0;
	long period_ms = 100;
	const char *report = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+t:r:g:p:")) != -1) {
		if (opt == 't')
			secs = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			report = optarg;
		else if (opt == 'g')
			guest_kib = strtol(optarg, NULL, 10);
		else if (opt == 'p')
			period_ms = strtol(optarg, NULL, 10);
		else
			usage();
	}
	if (guest_kib < 0 || period_ms <= 0)
		usage();
	if (argc - optind < 3 || strcmp(argv[optind + 1], "--") != 0)
		usage();
	const char *marker = argv[optind];
	char **cmd = &argv[optind + 2];
	int capture = marker[0] != '\0';

	/* Our stdout may be a pipe whose reader exits early: never die of SIGPIPE, the child must not either
	 * because of us (it gets default dispositions back after exec). */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: poll/wait4 return EINTR when the limit expires */
	sigaction(SIGALRM, &sa, NULL);

	int pfd[2] = {-1, -1};
	if (capture && pipe2(pfd, O_CLOEXEC) < 0) {
		perror("tmark: pipe");
		return 126;
	}
	int errpipe[2]; /* reports exec failure from the child */
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		perror("tmark: pipe");
		return 126;
	}
	long long t0 = now_us();
	pid_t pid = fork();
	if (pid < 0) {
		perror("tmark: fork");
		return 126;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (capture && dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(126);
		execvp(cmd[0], cmd);
		int e = errno;
		if (write(errpipe[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(errpipe[1]);
	int child_errno = 0;
	if (read(errpipe[0], &child_errno, sizeof(child_errno)) == (ssize_t)sizeof(child_errno))
		fprintf(stderr, "tmark: cannot run %s: %s\n", cmd[0], strerror(child_errno));
	close(errpipe[0]);
	if (secs > 0)
		alarm(secs);
	/* With -g, wait for the child through a pidfd so that the samples go on until it exits. */
	int pidfd = guest_kib > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	long long next_us = now_us();

	long long marker_us = -1;
	int killed = 0, broken = 0;
	if (capture) {
		close(pfd[1]);
		char buf[65536], line[4096];
		size_t llen = 0;
		size_t mlen = strlen(marker);
		for (;;) {
			if (expired && !killed) {
				kill(pid, SIGKILL);
				killed = 1;
			}
			int wait_ms = -1;
			if (guest_kib > 0) {
				if (now_us() >= next_us) {
					sample_smaps(pid);
					next_us = now_us() + period_ms * 1000;
				}
				wait_ms = (int)((next_us - now_us()) / 1000) + 1;
			}
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};
			int r = poll(&p, 1, wait_ms);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (r == 0)
				continue;
			ssize_t n = read(pfd[0], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			write_all(STDOUT_FILENO, buf, (size_t)n, &broken);
			/* Look for the marker line by line; a line longer than line[] is checked in pieces that
			 * overlap by the marker's length so a marker is never split. */
			for (ssize_t i = 0; i < n && marker_us < 0; i++) {
				if (llen < sizeof(line) - 1)
					line[llen++] = buf[i];
				int eol = buf[i] == '\n';
				if (eol || llen == sizeof(line) - 1) {
					line[llen] = '\0';
					if (mlen > 0 && strstr(line, marker) != NULL)
						marker_us = now_us() - t0;
					if (eol || mlen >= llen) {
						llen = 0;
					} else {
						memmove(line, line + llen - mlen, mlen);
						llen = mlen;
					}
				}
			}
		}
		if (marker_us < 0 && llen > 0) {
			line[llen] = '\0';
			if (strstr(line, marker) != NULL)
				marker_us = now_us() - t0;
		}
		close(pfd[0]);
	}

	/* Go on sampling until the child has exited (its stdout may close before that). */
	while (pidfd >= 0 && !(expired && !killed)) {
		sample_smaps(pid);
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int r = poll(&p, 1, (int)period_ms);
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
	}
	if (pidfd >= 0)
		close(pidfd);

	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	for (;;) {
		if (expired && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		pid_t w = wait4(pid, &status, 0, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			perror("tmark: wait4");
			return 126;
		}
	}
	long long exit_us = now_us() - t0;
	alarm(0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	FILE *out = stderr;
	if (report != NULL) {
		out = fopen(report, "w");
		if (out == NULL) {
			perror(report);
			out = stderr;
		}
	}
	fprintf(out, "tmark: marker_ms=%lld exit_ms=%lld status=%d maxrss_kb=%ld timed_out=%d",
		marker_us < 0 ? -1 : marker_us / 1000, exit_us / 1000, code, ru.ru_maxrss, killed);
	if (guest_kib > 0)
		fprintf(out, " guest_rss_kb=%ld guest_maps=%ld samples=%ld", guest_max, guest_maps, samples);
	fprintf(out, "\n");
	if (out != stderr)
		fclose(out);
	return code;
}
