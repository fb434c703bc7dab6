/* tail.h: the console's last lines, kept for failure reports, and kernel-panic detection on them. */
#ifndef KVMINI_TAIL_H
#define KVMINI_TAIL_H

#include <stdbool.h>
#include <stdint.h>

#define TAIL_LINES 20
#define TAIL_COLS  200 /* longer lines are cut (the rest of the line is dropped, the line still counts) */

enum tail_event {
	TAIL_NONE,
	TAIL_PANIC,	/* the first "Kernel panic - not syncing" line just ended */
	TAIL_PANIC_END, /* its "---[ end Kernel panic" line just ended: the report is complete */
};

struct tail {
	char line[TAIL_LINES][TAIL_COLS + 1];
	unsigned next, count; /* ring of finished lines */
	char cur[TAIL_COLS + 1];
	unsigned curlen;
	bool panicked;
	char panic[TAIL_COLS + 1]; /* the panic line */
};

void tail_init(struct tail *t);
/* One console byte. Carriage returns and other control bytes but tab are dropped. */
enum tail_event tail_put(struct tail *t, uint8_t byte);
/* The kept lines, oldest first, then the unfinished one if any: up to `max` pointers into t. */
unsigned tail_lines(const struct tail *t, const char **out, unsigned max);

#endif
