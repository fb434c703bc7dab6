/* runinit.h: the parts of the built-in init (guest/runinit.c) that live in their own files. */
#ifndef KVMINI_RUNINIT_GUEST_H
#define KVMINI_RUNINIT_GUEST_H

#include <stdbool.h>
#include <stddef.h>

/* runinit_out.c: CMD's output to kvmini. */
/* Set up page transfers (PORT_PROG_PAGES); false: only the byte ports will be used. Needs ioperm first. */
bool out_pages_init(void);
/* Where the next read() should put CMD's bytes, and how many fit (one transfer). */
unsigned char *out_buffer(size_t *cap);
/* Send n bytes of out_buffer() to stream 1 (stdout) or 2 (stderr); have_ports false: to the console. */
void out_send(int stream, size_t n, bool have_ports);
/* Has kvmini lost the reader of this stream (its stdout closed)? Then CMD's pipe should close too. */
bool out_gone(int stream, bool have_ports);

#endif
