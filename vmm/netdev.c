/* netdev.c: wire a network backend (a tap for now) to a virtio-net device, the event loop and a virtio slot. */
#include "vmm/netdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/vm.h"

int netdev_parse(const char *spec, char ifname[16], uint8_t mac[6], char *err, size_t errlen)
{
	const char *name, *comma;
	size_t len;

	if (strncmp(spec, "tap:", 4)) {
		snprintf(err, errlen, "bad --net '%s': the backend must be tap:IFNAME", spec);
		return -EINVAL;
	}
	name = spec + 4;
	comma = strchr(name, ',');
	len = comma ? (size_t)(comma - name) : strlen(name);
	if (len == 0 || len > 15) {
		snprintf(err, errlen, "bad --net '%s': an interface name has 1 to 15 characters", spec);
		return -EINVAL;
	}
	memcpy(ifname, name, len);
	ifname[len] = '\0';
	if (!comma) {
		virtio_net_mac_from_seed(ifname, mac);
		return 0;
	}
	unsigned b[6];
	char end;
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
	char ifname[16], err[160];
	int r;

	if (netdev_parse(spec, ifname, n->mac, err, sizeof(err)) < 0) {
		*why = "is not a valid backend";
		return -EINVAL;
	}
	if ((r = net_tap_open(&n->tap, ifname, &n->be, why)) < 0)
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
	net_tap_close(&n->tap);
	n->open = false;
}
