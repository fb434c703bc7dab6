/* netdev.h: -n/--net: open the network backend, then put a virtio-net device for it on the machine. */
#ifndef KVMINI_NETDEV_H
#define KVMINI_NETDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio_net.h"
#include "vmm/net_stream.h"
#include "vmm/net_tap.h"

struct vm;

enum netdev_kind { NETDEV_TAP, NETDEV_USER, NETDEV_STREAM };

struct netdev {
	struct virtio_net dev;
	enum netdev_kind kind;
	struct net_tap tap;
	struct net_stream stream;
	struct net_backend be;
	struct vm *vm;
	uint8_t mac[6];
	bool open, in_loop;
};

/* "tap:IFNAME", "user" or "stream:PATH", then optionally ",mac=XX:XX:XX:XX:XX:XX". Without mac=, a stable
 * locally administered MAC derived from the spec. `arg` (NETDEV_ARG_MAX bytes) gets IFNAME or PATH. 0 or -EINVAL
 * with a one-sentence err. Pure. */
#define NETDEV_ARG_MAX 108
int netdev_parse(const char *spec, enum netdev_kind *kind, char arg[NETDEV_ARG_MAX], uint8_t mac[6], char *err,
		 size_t errlen);
/* Open the backend (host input: before /dev/kvm). 0 or -errno with *why completing "network SPEC ...". */
int netdev_open(struct netdev *n, const char *spec, const char **why);
/* Create the virtio-net device, give it a virtio-mmio slot and watch the backend in the event loop. */
int netdev_attach(struct netdev *n, struct vm *vm, const char *name, const char **why);
void netdev_close(struct netdev *n);

#endif
