/* net_tap.h: the TAP network backend: a host tap interface through /dev/net/tun, with virtio-net headers. */
#ifndef KVMINI_NET_TAP_H
#define KVMINI_NET_TAP_H

#include "devices/virtio_net.h"

struct net_tap {
	int fd;
	char ifname[16];
};

/* Open (or create: that needs CAP_NET_ADMIN) tap interface `ifname` with IFF_VNET_HDR and fill `be` for
 * virtio_net_init. The fd is non-blocking. 0, or -errno with *why a phrase completing "tap IFNAME ...". */
int net_tap_open(struct net_tap *t, const char *ifname, struct net_backend *be, const char **why);
void net_tap_close(struct net_tap *t);

#endif
