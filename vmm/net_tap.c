/* net_tap.c: frames to and from a tap interface, each with its 12-byte virtio-net header (IFF_VNET_HDR). */
#include "vmm/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* The offloads a tap carries when the guest takes them: checksums left to the receiver, TCP segmentation. */
#define TAP_OFFER                                                                                       \
	(1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM | 1ULL << VIRTIO_NET_F_HOST_TSO4 | \
	 1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6)

static ssize_t tap_send(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = be;
	ssize_t n = writev(t->fd, iov, iovcnt);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

static ssize_t tap_recv(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = be;
	ssize_t n = readv(t->fd, iov, iovcnt);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

/* What the guest negotiated tells the tap what it may hand us: GUEST_CSUM lets it skip checksums, GUEST_TSO*
 * lets it pass large segments. Without them the kernel finishes checksums and segments before we see a frame. */
static int tap_set_offloads(void *be, uint64_t guest_features)
{
	struct net_tap *t = be;
	unsigned long f = 0;

	if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (guest_features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
	}
	return ioctl(t->fd, TUNSETOFFLOAD, f) < 0 ? -errno : 0;
}

static const struct net_backend_ops tap_ops = {
    .send = tap_send,
    .recv = tap_recv,
    .set_offloads = tap_set_offloads,
};

int net_tap_open(struct net_tap *t, const char *ifname, struct net_backend *be, const char **why)
{
	struct ifreq ifr;
	int hdr = VIRTIO_NET_HDR_SIZE, err;

	t->fd = -1;
	if (!*ifname || strlen(ifname) >= IFNAMSIZ) {
		*why = "is not a valid interface name (1 to 15 characters)";
		return -EINVAL;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		*why = err == -ENOENT ? "cannot be opened: no /dev/net/tun (load the tun module)"
				      : "cannot be opened: /dev/net/tun refused (permission?)";
		return err;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		*why = err == -EPERM ? "cannot be attached: permission denied (CAP_NET_ADMIN, or a tap owned by you)"
				     : "cannot be attached (busy, or not a tap?)";
		goto fail;
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0) {
		err = -errno;
		*why = "does not take virtio-net headers";
		goto fail;
	}
	memcpy(t->ifname, ifname, strlen(ifname) + 1);
	*be = (struct net_backend){.ops = &tap_ops, .be = t, .fd = t->fd, .vnet_hdr = true, .offer = TAP_OFFER};
	return 0;
fail:
	close(t->fd);
	t->fd = -1;
	return err;
}

void net_tap_close(struct net_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
