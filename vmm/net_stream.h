/* net_stream.h: network backends speaking the stream protocol (4-byte big-endian length, then the frame): a
 * socket the user started (stream:PATH) or a passt child started by kvmini (user). */
#ifndef KVMINI_NET_STREAM_H
#define KVMINI_NET_STREAM_H

#include <sys/types.h>

#include "devices/virtio_net.h"

struct net_stream {
	int fd;
	pid_t child; /* passt, or 0 */
};

/* Connect to the UNIX stream socket at `path`. 0 or -errno with *why completing "network SPEC ...". */
int net_stream_connect(struct net_stream *s, const char *path, struct net_backend *be, const char **why);
/* Start passt (Debian's package) on one end of a socketpair (passt -F): rootless user-mode networking with
 * DHCP. The child dies with kvmini (PR_SET_PDEATHSIG) and is stopped by net_stream_close. */
int net_stream_passt(struct net_stream *s, struct net_backend *be, const char **why);
void net_stream_close(struct net_stream *s);

#endif
