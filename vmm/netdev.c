/* netdev.c: wire a network backend (tap, passt, stream socket) to a virtio-net device, the event loop, a slot. */
#include "vmm/netdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/vm.h"

int netdev_parse(const char *spec, enum netdev_kind *kind, char arg[NETDEV_ARG_MAX], uint8_t mac[6], char *err,
		 size_t errlen)
{
	const char *rest, *comma = strchr(spec, ',');
	size_t head = comma ? (size_t)(comma - spec) : strlen(spec), len = 0;
	unsigned b[6];
	char end;

	arg[0] = '\0';
	if (head == 4 && !strncmp(spec, "user", 4)) {
		*kind = NETDEV_USER;
	} else if (!strncmp(spec, "tap:", 4) || !strncmp(spec, "stream:", 7)) {
		*kind = spec[0] == 't' ? NETDEV_TAP : NETDEV_STREAM;
		rest = spec + (*kind == NETDEV_TAP ? 4 : 7);
		len = head - (size_t)(rest - spec);
		if (len == 0 || len >= (*kind == NETDEV_TAP ? 16 : NETDEV_ARG_MAX)) {
			snprintf(err, errlen, "bad --net '%s': %s", spec,
				 *kind == NETDEV_TAP ? "an interface name has 1 to 15 characters"
						     : "a socket path has 1 to 107 characters");
			return -EINVAL;
		}
		memcpy(arg, rest, len);
		arg[len] = '\0';
	} else {
		snprintf(err, errlen, "bad --net '%s': the backend is tap:IFNAME, user or stream:PATH", spec);
		return -EINVAL;
	}
	if (!comma) {
		char seed[NETDEV_ARG_MAX + 8];

		snprintf(seed, sizeof(seed), "%.*s", (int)head, spec);
		virtio_net_mac_from_seed(seed, mac);
		return 0;
	}
	if (strncmp(comma, ",mac=", 5) ||
	    sscanf(comma + 5, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
	    strlen(comma + 5) != 17 || (b[0] & 1)) {
		snprintf(err, errlen, "bad --net '%s': expected ,mac=XX:XX:XX:XX:XX:XX (a unicast address)", spec);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int netdev_open(struct netdev *n, const char *spec, const char **why)
{
	char arg[NETDEV_ARG_MAX], err[160];
	int r;

	n->tap.fd = n->stream.fd = -1;
	if (netdev_parse(spec, &n->kind, arg, n->mac, err, sizeof(err)) < 0) {
		*why = "is not a valid backend";
		return -EINVAL;
	}
	switch (n->kind) {
	case NETDEV_TAP:
		r = net_tap_open(&n->tap, arg, &n->be, why);
		break;
	case NETDEV_USER:
		r = net_stream_passt(&n->stream, &n->be, why);
		break;
	default:
		r = net_stream_connect(&n->stream, arg, &n->be, why);
		break;
	}
	if (r < 0)
		return r;
	n->open = true;
	return 0;
}

/* The device asks for readiness events on the backend's fd (RX only while the guest has buffers). */
static void netdev_set_poll(void *opaque, uint32_t events)
{
	struct netdev *n = opaque;

	if (n->in_loop)
		evloop_mod(&n->vm->loop, n->be.fd, events);
}

/* The backend is gone (the tap was deleted): stop watching it; the guest sees its link go down. */
static void netdev_backend_down(void *opaque)
{
	struct netdev *n = opaque;

	if (n->in_loop)
		evloop_del(&n->vm->loop, n->be.fd);
	n->in_loop = false;
}

int netdev_attach(struct netdev *n, struct vm *vm, const char *name, const char **why)
{
	struct virtio_net_hooks hooks = {.set_poll = netdev_set_poll, .backend_down = netdev_backend_down, .opaque = n};
	struct irq_line *irq;
	struct vm_virtio *slot;
	int err = 0;

	n->vm = vm;
	if ((err = virtio_net_init(&n->dev, &n->be, n->mac, &hooks)) < 0) {
		*why = "cannot set up the virtio-net device";
		return err;
	}
	if (!(irq = vm_virtio_next_irq(vm, &err))) {
		*why = "cannot wire the network device's interrupt";
		return err;
	}
	virtio_net_attach(&n->dev, irq, &vm->mem);
	if (!(slot = vm_virtio_add(vm, &n->dev.t, name, &err, why)))
		return err;
	n->dev.tx_kick_fd = slot->kick[VIRTIO_NET_TXQ].fd;
	if ((err = evloop_add(&vm->loop, n->be.fd, 0, virtio_net_on_backend, &n->dev)) < 0) {
		*why = "cannot watch the network backend";
		return err;
	}
	n->in_loop = true;
	return 0;
}

void netdev_close(struct netdev *n)
{
	if (!n->open)
		return;
	virtio_net_close(&n->dev);
	if (n->kind == NETDEV_TAP)
		net_tap_close(&n->tap);
	else
		net_stream_close(&n->stream);
	n->open = false;
}
