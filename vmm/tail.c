/* tail.c: the console's last lines and kernel-panic detection (see tail.h). */
#include "vmm/tail.h"

#include <string.h>

void tail_init(struct tail *t)
{
	memset(t, 0, sizeof(*t));
}

static enum tail_event tail_end_line(struct tail *t)
{
	enum tail_event ev = TAIL_NONE;

	t->cur[t->curlen] = '\0';
	/* The kernel's panic() prints this line last but one, then "---[ end Kernel panic - not syncing: ...". */
	if (!t->panicked && strstr(t->cur, "Kernel panic - not syncing")) {
		t->panicked = true;
		memcpy(t->panic, t->cur, t->curlen + 1);
		ev = TAIL_PANIC;
	} else if (t->panicked && strstr(t->cur, "---[ end Kernel panic")) {
		ev = TAIL_PANIC_END;
	}
	memcpy(t->line[t->next], t->cur, t->curlen + 1);
	t->next = (t->next + 1) % TAIL_LINES;
	if (t->count < TAIL_LINES)
		t->count++;
	t->curlen = 0;
	return ev;
}

enum tail_event tail_put(struct tail *t, uint8_t byte)
{
	if (byte == '\n')
		return tail_end_line(t);
	if ((byte < 0x20 && byte != '\t') || byte == 0x7f)
		return TAIL_NONE;
	if (t->curlen < TAIL_COLS) {
		t->cur[t->curlen++] = (char)byte;
		t->cur[t->curlen] = '\0'; /* always a string: tail_lines hands it out as it is */
	}
	return TAIL_NONE;
}

unsigned tail_lines(const struct tail *t, const char **out, unsigned max)
{
	unsigned n = 0, first = (t->next + TAIL_LINES - t->count) % TAIL_LINES;

	for (unsigned i = 0; i < t->count && n < max; i++)
		out[n++] = t->line[(first + i) % TAIL_LINES];
	if (t->curlen && n < max)
		out[n++] = t->cur; /* the unfinished line */
	return n;
}
