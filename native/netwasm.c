// netwasm native adapter: AF_PACKET and TAP ports for the WebAssembly data
// plane, through plain Node-API (C). It moves frames between interfaces and the
// pool slots of a Dataplane's linear memory, and nothing else: no protocol
// logic lives here. Every offset it writes (descriptor and transmit-entry
// fields, the free-slot stack) is handed over by the TypeScript host from
// assembly/layout.ts, so the ABI has a single source.
//
//   openPacket(ifname, opts)  -> {fd, ifindex, mtu, mac, vnetHdr, qdiscBypass, ring, txFd}
//   openTap(name, opts)       -> {fd, name, ifindex, vnetHdr, offloads}
//   close(fd), ifindex(name), kernelStats(fd)
//   bindPool(memoryBuffer, cfg) -> pool        (one per Dataplane)
//   setPort(pool, port, fd, kind, vnet)        (kind 0 none, 1 packet, 2 tap)
//   rx(pool, port, descIndex, max)   -> frames described, or -errno
//   tx(pool, first, count, port)     -> frames sent (port -1: each entry's T_PORT)
//   portStats(pool, port)            -> counters of one port
//   watch(fd, callback, thread, ref) -> watcher; rearm(w); unwatch(w)
//
// Offload metadata: with PACKET_VNET_HDR / IFF_VNET_HDR every frame is
// preceded by a struct virtio_net_hdr. On receive it lands in a per-batch
// array and is copied into the descriptor's D_VNET_* fields; on transmit it is
// rebuilt from the entry's T_VNET_* fields. The frame itself goes straight
// into (and out of) its pool slot: one kernel copy, no other.
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define BATCH 256
// Receive ring of an AF_PACKET port (TPACKET_V2): frames of 2 KiB (a 1514-byte
// frame, its virtio header and the ring's own header fit; longer ones are
// read whole from the socket), in 128 KiB blocks, 4096 frames by default
// (8 MiB, as much as the 8 MiB receive buffer it replaces holds of small frames).
#define RING_FRAME 2048
#define RING_BLOCK (128 * 1024)
#define RING_FRAMES 4096
#define NPORTS 256
#define VNET_LEN ((int)sizeof(struct virtio_net_hdr))

enum { KIND_NONE = 0, KIND_PACKET = 1, KIND_TAP = 2 };

// Counters this adapter adds to in the data plane's counter region (ids from
// assembly/counters.ts, handed over by the host; -1 = not counted).
enum {
  C_RX, C_TX, C_RX_TRUNC, C_RX_BAD_VNET, C_RX_ERROR, C_RX_NO_SLOT,
  C_TX_NOBUFS, C_TX_BUSY, C_TX_DOWN, C_TX_TOO_BIG, C_TX_ERROR, C_TX_NO_PORT, C_TX_BAD_ENTRY,
  C_COUNT
};
static const char *const CTR_KEYS[C_COUNT] = {
  "rx", "tx", "rxTrunc", "rxBadVnet", "rxError", "rxNoSlot",
  "txNobufs", "txBusy", "txDown", "txTooBig", "txError", "txNoPort", "txBadEntry",
};

typedef struct {
  int fd;
  int kind;
  int vnet;
  uint64_t rx, rx_bytes, rx_gso, rx_csum, rx_trunc, rx_bad_vnet, rx_error;
  uint64_t tx, tx_bytes, tx_gso, tx_csum, tx_nobufs, tx_busy, tx_down, tx_too_big, tx_error;
  int last_errno;
  // A receive error met after some frames of a batch were taken from the
  // ring: reported by the next rx call, as recvmmsg reports it.
  int rx_err_pending;
} port_t;

typedef struct {
  uint8_t *mem;
  size_t mem_len;
  napi_ref buf_ref;
  // layout
  uint32_t headroom, desc_size, tx_size, max_vector, max_tx, slots, slot_size;
  uint32_t d_slot, d_off, d_len, d_in_port, d_ts_sec, d_ts_nsec;
  uint32_t d_vnet_flags, d_gso_type, d_gso_size, d_csum_start, d_csum_offset, d_hdr_len;
  uint32_t t_slot, t_off, t_len, t_port;
  uint32_t t_vnet_flags, t_gso_type, t_gso_size, t_csum_start, t_csum_offset, t_hdr_len;
  uint32_t free_top, free_entries;
  uint64_t desc_base, tx_base, free_base, pool_base, counters_base;
  int32_t ctr[C_COUNT];
  port_t ports[NPORTS];
  // per-batch scratch
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH][2];
  struct virtio_net_hdr vh[BATCH];
  uint32_t slotv[BATCH];
} pool_t;

// ---- small helpers ------------------------------------------------------------

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "EINTERNAL", "netwasm native: " #call " failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static const char *errno_code(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENOENT: return "ENOENT";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case ENETDOWN: return "ENETDOWN";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, int e, const char *what, const char *name, const char *hint) {
  char msg[512];
  snprintf(msg, sizeof msg, "netwasm: %s \"%s\": %s (%s)%s%s", what, name, strerror(e), errno_code(e),
           hint ? ": " : "", hint ? hint : "");
  napi_throw_error(env, errno_code(e), msg);
  return NULL;
}

static int get_bool(napi_env env, napi_value obj, const char *key, int def) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (!obj || napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return def;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return def;
  if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null) return def;
  bool b = def;
  if (t == napi_boolean) napi_get_value_bool(env, v, &b);
  return b;
}

static double get_num(napi_env env, napi_value obj, const char *key, double def) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (!obj || napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return def;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return def;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return def;
  double d = def;
  napi_get_value_double(env, v, &d);
  return d;
}

static int get_str(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return -1;
  return (int)len;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static void set_num(napi_env env, napi_value obj, const char *key, double d) {
  napi_set_named_property(env, obj, key, num(env, d));
}

static void set_bool(napi_env env, napi_value obj, const char *key, int b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  napi_set_named_property(env, obj, key, v);
}

static inline void w16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline uint16_t r16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t r32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static inline void count(pool_t *pl, int c, uint64_t n) {
  if (n == 0 || pl->ctr[c] < 0) return;
  uint8_t *p = pl->mem + pl->counters_base + (uint64_t)pl->ctr[c] * 8;
  uint64_t v;
  memcpy(&v, p, 8);
  v += n;
  memcpy(p, &v, 8);
}

// ---- per-socket extras: the receive ring and the transmit socket ---------------
// An AF_PACKET port receives through a TPACKET_V2 ring (PACKET_RX_RING,
// mmap'ed): the kernel copies each frame into the ring in its softirq and
// user space takes a batch with no system call, one memcpy per frame into its
// pool slot. A frame too long for a ring frame (a GSO super-frame, a jumbo
// frame) is marked TP_STATUS_COPY and waits whole in the socket's receive
// queue (PACKET_COPY_THRESH), where recvmsg reads it, in order. Frames go out
// of a second AF_PACKET socket bound to the same interface with protocol 0:
// it receives nothing, and since no poller waits on it, freeing a sent frame
// wakes nobody (on the watched socket every sent frame ran the epoll wake-up
// callback). Both hang off the receiving socket's fd; close(fd) drops them.

typedef struct {
  uint8_t *map;
  size_t map_len;
  uint32_t frame_size, frame_nr, head;
  int tx_fd;
} sockx_t;

#define SOCKX_MAX 65536
static sockx_t *sockx[SOCKX_MAX];

static inline sockx_t *sockx_of(int fd) { return fd >= 0 && fd < SOCKX_MAX ? sockx[fd] : NULL; }

static void sockx_drop(int fd) {
  sockx_t *x = sockx_of(fd);
  if (!x) return;
  sockx[fd] = NULL;
  if (x->map) munmap(x->map, x->map_len);
  if (x->tx_fd >= 0) close(x->tx_fd);
  free(x);
}

// ---- opening ports ------------------------------------------------------------

static void set_buf(int fd, int force_opt, int opt, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

// openPacket(ifname, {promisc=true, vnetHdr=true, qdiscBypass=false, ignoreOutgoing=true, rcvbuf, sndbuf,
//                     ring=RING_FRAMES (0: recvmmsg), txSocket=true})
static napi_value open_packet(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 8];
  int nl = argc > 0 ? get_str(env, argv[0], name, sizeof name) : -1;
  if (nl <= 0 || nl >= IFNAMSIZ) {
    napi_throw_type_error(env, "EINVAL", "netwasm: openPacket(ifname): ifname must be a non-empty interface name of at most 15 bytes");
    return NULL;
  }
  napi_value o = argc > 1 ? argv[1] : NULL;
  int promisc = get_bool(env, o, "promisc", 1);
  int vnet = get_bool(env, o, "vnetHdr", 1);
  int bypass = get_bool(env, o, "qdiscBypass", 0);
  int ignore_out = get_bool(env, o, "ignoreOutgoing", 1);
  int rcvbuf = (int)get_num(env, o, "rcvbuf", 8 << 20);
  int sndbuf = (int)get_num(env, o, "sndbuf", 8 << 20);
  double ring_req = get_num(env, o, "ring", RING_FRAMES);
  int want_tx = get_bool(env, o, "txSocket", 1);

  // Protocol 0 until bound: a socket made with ETH_P_ALL would see every
  // interface's frames in the window before bind().
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    return throw_errno(env, e, "cannot open an AF_PACKET socket for", name,
                       (e == EPERM || e == EACCES) ? "AF_PACKET needs root or CAP_NET_RAW" : NULL);
  }
  unsigned ifindex = if_nametoindex(name);
  if (ifindex == 0) {
    close(fd);
    return throw_errno(env, ENODEV, "no such interface", name, NULL);
  }
  int one = 1;
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "PACKET_VNET_HDR refused on", name, "the kernel cannot pass offload metadata");
  }
  if (ignore_out && setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "PACKET_IGNORE_OUTGOING refused on", name, "kernel older than 4.20?");
  }
  int bypassed = 0;
  if (bypass) bypassed = setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) == 0;
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
  // The receive ring (before bind, so that no frame takes the other path
  // first). If the kernel refuses it, the socket still works with recvmmsg.
  uint8_t *map = NULL;
  size_t map_len = 0;
  uint32_t frame_nr = 0;
  if (ring_req >= 1) {
    uint32_t want = ring_req > 1 << 20 ? 1 << 20 : (uint32_t)ring_req;
    const uint32_t per_block = RING_BLOCK / RING_FRAME;
    uint32_t blocks = (want + per_block - 1) / per_block;
    int v = TPACKET_V2, thresh = 1;
    struct tpacket_req req = {.tp_block_size = RING_BLOCK, .tp_block_nr = blocks, .tp_frame_size = RING_FRAME,
                              .tp_frame_nr = blocks * per_block};
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) == 0 &&
        setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &thresh, sizeof thresh) == 0 &&
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) == 0) {
      map_len = (size_t)RING_BLOCK * blocks;
      void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED) {
        map = m;
        frame_nr = req.tp_frame_nr;
      } else {
        // Without the mapping the ring would fill and drop: take it down again.
        memset(&req, 0, sizeof req);
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
        map_len = 0;
      }
    }
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno;
    if (map) munmap(map, map_len);
    close(fd);
    return throw_errno(env, e == ENXIO ? ENODEV : e, "cannot bind an AF_PACKET socket to", name, NULL);
  }
  if (promisc) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = (int)ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
      int e = errno;
      if (map) munmap(map, map_len);
      close(fd);
      return throw_errno(env, e, "cannot set promiscuous mode on", name, NULL);
    }
  }
  // The transmit socket: protocol 0 (bound to the interface, it receives
  // nothing), the same virtio header, buffers and qdisc choice.
  int tx_fd = -1;
  if (want_tx && fd < SOCKX_MAX) {
    tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int ok = tx_fd >= 0 && (!vnet || setsockopt(tx_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0);
    if (ok && bypassed) ok = setsockopt(tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) == 0;
    if (ok) {
      set_buf(tx_fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
      struct sockaddr_ll tl;
      memset(&tl, 0, sizeof tl);
      tl.sll_family = AF_PACKET;
      tl.sll_protocol = 0;
      tl.sll_ifindex = (int)ifindex;
      ok = bind(tx_fd, (struct sockaddr *)&tl, sizeof tl) == 0;
    }
    if (!ok && tx_fd >= 0) {
      close(tx_fd);
      tx_fd = -1;
    }
  }
  if ((map || tx_fd >= 0) && fd < SOCKX_MAX) {
    sockx_drop(fd);  // a stale entry of a descriptor closed behind our back
    sockx_t *x = calloc(1, sizeof *x);
    if (x) {
      x->map = map;
      x->map_len = map_len;
      x->frame_size = RING_FRAME;
      x->frame_nr = frame_nr;
      x->head = 0;
      x->tx_fd = tx_fd;
      sockx[fd] = x;
    }
    if (!x) {
      if (map) munmap(map, map_len);
      if (tx_fd >= 0) close(tx_fd);
      close(fd);
      return throw_errno(env, ENOMEM, "out of memory opening", name, NULL);
    }
  } else if (map) {
    munmap(map, map_len);  // fd beyond the table: plain recvmmsg
    struct tpacket_req z;
    memset(&z, 0, sizeof z);
    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &z, sizeof z);
    map = NULL;
    frame_nr = 0;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, (size_t)nl);
  int mtu = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : 0;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, (size_t)nl);
  char mac[18] = "";
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
    const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  }
  napi_value r, s;
  CHECK(napi_create_object(env, &r));
  set_num(env, r, "fd", fd);
  set_num(env, r, "ifindex", ifindex);
  set_num(env, r, "mtu", mtu);
  CHECK(napi_create_string_utf8(env, mac, NAPI_AUTO_LENGTH, &s));
  napi_set_named_property(env, r, "mac", s);
  set_bool(env, r, "vnetHdr", vnet);
  set_bool(env, r, "qdiscBypass", bypassed);
  set_num(env, r, "ring", frame_nr);
  set_num(env, r, "txFd", tx_fd);
  return r;
}

// openTap(name, {vnetHdr=true, offloads=true})
static napi_value open_tap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 8];
  int nl = argc > 0 ? get_str(env, argv[0], name, sizeof name) : -1;
  if (nl < 0 || nl >= IFNAMSIZ) {
    napi_throw_type_error(env, "EINVAL", "netwasm: openTap(name): name must be an interface name of at most 15 bytes ('' lets the kernel choose)");
    return NULL;
  }
  napi_value o = argc > 1 ? argv[1] : NULL;
  int vnet = get_bool(env, o, "vnetHdr", 1);
  int want_off = get_bool(env, o, "offloads", 1);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return throw_errno(env, e, "cannot open /dev/net/tun for TAP", name,
                       e == ENOENT ? "the tun module is not loaded" : (e == EPERM || e == EACCES) ? "TAP needs root or CAP_NET_ADMIN" : NULL);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, (size_t)nl);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "cannot create or attach TAP", name,
                       e == EPERM ? "TAP needs root or CAP_NET_ADMIN" : e == EBUSY ? "the device is in use or is not a TAP" : NULL);
  }
  unsigned offloads = 0;
  if (vnet) {
    int sz = VNET_LEN;
    ioctl(fd, TUNSETVNETHDRSZ, &sz);
    if (want_off) {
      // Ask for as much as the kernel will give: it then hands us super-frames
      // and partial checksums, which the data plane passes on or finishes.
      const unsigned tries[] = {
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
        TUN_F_CSUM,
      };
      for (unsigned i = 0; i < 3 && !offloads; i++)
        if (ioctl(fd, TUNSETOFFLOAD, tries[i]) == 0) offloads = tries[i];
    }
  }
  char actual[IFNAMSIZ + 1];
  memset(actual, 0, sizeof actual);
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  napi_value r, s;
  CHECK(napi_create_object(env, &r));
  set_num(env, r, "fd", fd);
  CHECK(napi_create_string_utf8(env, actual, NAPI_AUTO_LENGTH, &s));
  napi_set_named_property(env, r, "name", s);
  set_num(env, r, "ifindex", if_nametoindex(actual));
  set_bool(env, r, "vnetHdr", vnet);
  set_num(env, r, "offloads", offloads);
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return NULL;
  sockx_drop(fd);
  close(fd);
  return NULL;
}

static napi_value js_ifindex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[IFNAMSIZ + 8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int nl = argc > 0 ? get_str(env, argv[0], name, sizeof name) : -1;
  if (nl <= 0 || nl >= IFNAMSIZ) return num(env, 0);
  return num(env, if_nametoindex(name));
}

// kernelStats(fd) -> {packets, drops} since the last call (PACKET_STATISTICS resets).
static napi_value kernel_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) napi_get_value_int32(env, argv[0], &fd);
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  memset(&st, 0, sizeof st);
  napi_value r;
  CHECK(napi_create_object(env, &r));
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) {
    set_num(env, r, "packets", 0);
    set_num(env, r, "drops", 0);
    return r;
  }
  set_num(env, r, "packets", st.tp_packets);
  set_num(env, r, "drops", st.tp_drops);
  return r;
}

// ---- the pool binding -----------------------------------------------------------

static void pool_finalize(napi_env env, void *data, void *hint) {
  pool_t *pl = data;
  if (pl->buf_ref) napi_delete_reference(env, pl->buf_ref);
  free(pl);
}

// The pointer inside an external made by this addon, or NULL with a TypeError
// thrown naming what was expected (`what`).
static void *get_external(napi_env env, napi_value v, const char *what) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "EINVAL", what);
    return NULL;
  }
  return p;
}

static pool_t *get_pool(napi_env env, napi_value v) {
  return get_external(env, v, "netwasm native: expected a pool from bindPool()");
}

// bindPool(memory: ArrayBuffer, cfg) -> external
static napi_value bind_pool(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "netwasm native: bindPool(memoryBuffer, cfg)");
    return NULL;
  }
  void *data = NULL;
  size_t len = 0;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || !data) {
    napi_throw_type_error(env, "EINVAL", "netwasm native: bindPool needs the WebAssembly.Memory's buffer");
    return NULL;
  }
  pool_t *pl = calloc(1, sizeof *pl);
  if (!pl) {
    napi_throw_error(env, "ENOMEM", "netwasm native: out of memory");
    return NULL;
  }
  pl->mem = data;
  pl->mem_len = len;
  napi_value c = argv[1];
#define U(field, key) pl->field = (uint32_t)get_num(env, c, key, 0)
#define B(field, key) pl->field = (uint64_t)get_num(env, c, key, 0)
  U(headroom, "HEADROOM"); U(desc_size, "DESC_SIZE"); U(tx_size, "TX_SIZE");
  U(max_vector, "MAX_VECTOR"); U(max_tx, "MAX_TX"); U(slots, "slots"); U(slot_size, "slotSize");
  U(d_slot, "D_SLOT"); U(d_off, "D_OFF"); U(d_len, "D_LEN"); U(d_in_port, "D_IN_PORT");
  U(d_ts_sec, "D_TS_SEC"); U(d_ts_nsec, "D_TS_NSEC");
  U(d_vnet_flags, "D_VNET_FLAGS"); U(d_gso_type, "D_GSO_TYPE"); U(d_gso_size, "D_GSO_SIZE");
  U(d_csum_start, "D_CSUM_START"); U(d_csum_offset, "D_CSUM_OFFSET"); U(d_hdr_len, "D_HDR_LEN");
  U(t_slot, "T_SLOT"); U(t_off, "T_OFF"); U(t_len, "T_LEN"); U(t_port, "T_PORT");
  U(t_vnet_flags, "T_VNET_FLAGS"); U(t_gso_type, "T_GSO_TYPE"); U(t_gso_size, "T_GSO_SIZE");
  U(t_csum_start, "T_CSUM_START"); U(t_csum_offset, "T_CSUM_OFFSET"); U(t_hdr_len, "T_HDR_LEN");
  U(free_top, "FREE_TOP"); U(free_entries, "FREE_ENTRIES");
  B(desc_base, "descBase"); B(tx_base, "txBase"); B(free_base, "freeBase"); B(pool_base, "poolBase");
  B(counters_base, "countersBase");
#undef U
#undef B
  for (int i = 0; i < C_COUNT; i++) pl->ctr[i] = -1;
  bool has = false;
  napi_value ctrs;
  if (napi_has_named_property(env, c, "counters", &has) == napi_ok && has &&
      napi_get_named_property(env, c, "counters", &ctrs) == napi_ok) {
    for (int i = 0; i < C_COUNT; i++) {
      double id = get_num(env, ctrs, CTR_KEYS[i], -1);
      pl->ctr[i] = (id >= 0 && id < 1024) ? (int32_t)id : -1;
    }
  }
  for (int i = 0; i < NPORTS; i++) pl->ports[i].fd = -1;
  double max_ports = get_num(env, c, "MAX_PORTS", NPORTS);
  // Every region must lie inside the memory: rx/tx never check again.
  uint64_t L = len;
  int bad = pl->desc_size < 64 || pl->tx_size < 32 || pl->slot_size <= pl->headroom || pl->slots == 0 ||
            pl->max_vector == 0 || pl->max_tx == 0 ||
            pl->desc_base + (uint64_t)pl->max_vector * pl->desc_size > L ||
            pl->tx_base + (uint64_t)pl->max_tx * pl->tx_size > L ||
            pl->free_base + pl->free_entries + 4ull * pl->slots > L ||
            pl->pool_base + (uint64_t)pl->slots * pl->slot_size > L ||
            pl->counters_base + 8 * 1024 > L ||
            pl->d_hdr_len + 2 > pl->desc_size || pl->t_hdr_len + 2 > pl->tx_size ||
            max_ports > NPORTS;
  if (bad) {
    free(pl);
    napi_throw_range_error(env, "EINVAL", "netwasm native: bindPool: the layout does not fit the memory");
    return NULL;
  }
  napi_create_reference(env, argv[0], 1, &pl->buf_ref);
  napi_value ext;
  if (napi_create_external(env, pl, pool_finalize, NULL, &ext) != napi_ok) {
    napi_delete_reference(env, pl->buf_ref);
    free(pl);
    napi_throw_error(env, "EINTERNAL", "netwasm native: napi_create_external failed");
    return NULL;
  }
  return ext;
}

// setPort(pool, port, fd, kind, vnet): fd -1 unbinds.
static napi_value set_port(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "EINVAL", "netwasm native: setPort(pool, port, fd, kind, vnet)");
    return NULL;
  }
  pool_t *pl = get_pool(env, argv[0]);
  if (!pl) return NULL;
  int32_t port = -1, fd = -1, kind = 0;
  bool vnet = false;
  napi_get_value_int32(env, argv[1], &port);
  napi_get_value_int32(env, argv[2], &fd);
  napi_get_value_int32(env, argv[3], &kind);
  napi_get_value_bool(env, argv[4], &vnet);
  if (port < 0 || port >= NPORTS) {
    napi_throw_range_error(env, "EINVAL", "netwasm native: port out of range");
    return NULL;
  }
  port_t *p = &pl->ports[port];
  if (p->fd != fd) memset(p, 0, sizeof *p);
  p->fd = fd;
  p->kind = fd < 0 ? KIND_NONE : kind;
  p->vnet = vnet;
  return NULL;
}

// ---- receive ----------------------------------------------------------------------

static inline void describe(pool_t *pl, uint32_t di, uint32_t slot, uint32_t len, uint32_t port,
                            const struct timespec *ts, const struct virtio_net_hdr *vh) {
  uint8_t *d = pl->mem + pl->desc_base + (uint64_t)di * pl->desc_size;
  w32(d + pl->d_slot, slot);
  w32(d + pl->d_off, pl->headroom);
  w32(d + pl->d_len, len);
  w16(d + pl->d_in_port, (uint16_t)port);
  w32(d + pl->d_ts_sec, (uint32_t)ts->tv_sec);
  w32(d + pl->d_ts_nsec, (uint32_t)ts->tv_nsec);
  if (vh) {
    d[pl->d_vnet_flags] = vh->flags;
    d[pl->d_gso_type] = vh->gso_type;
    w16(d + pl->d_gso_size, vh->gso_size);
    w16(d + pl->d_csum_start, vh->csum_start);
    w16(d + pl->d_csum_offset, vh->csum_offset);
    w16(d + pl->d_hdr_len, vh->hdr_len);
  } else {
    d[pl->d_vnet_flags] = 0;
    d[pl->d_gso_type] = 0;
    w16(d + pl->d_gso_size, 0);
    w16(d + pl->d_csum_start, 0);
    w16(d + pl->d_csum_offset, 0);
    w16(d + pl->d_hdr_len, 0);
  }
}

// The frame of ring slot h (marked TP_STATUS_COPY: too long for a ring
// frame) waits whole in the socket's receive queue. The kernel queues that
// copy and marks the slot in one section under the queue's lock
// (tpacket_rcv): a slot says COPY exactly when its copy was queued, in ring
// order. (When the receive buffer is full no copy is made: the slot then holds
// the frame cut short, without COPY; when the ring is full the copy is freed
// with the frame.) So the k-th COPY slot's frame is the k-th in the queue, as
// long as every COPY slot handed back was read from the queue: a slot is
// handed back only once its recvmsg took a frame (or found none, or the
// kernel consumed it refusing its virtio header).
enum { COPY_OK, COPY_NONE, COPY_BAD_VNET, COPY_ERROR };

// Reads slot h's frame from the receive queue into dst (cap bytes) and its
// virtio header into *vh (vl bytes). COPY_OK: *len is its true length, *cut
// says it was longer than cap. COPY_NONE: nothing queued (never seen: see
// above), the slot's own cut-short copy is all there is. COPY_BAD_VNET: the
// kernel refused to describe it (EINVAL) and dropped it. COPY_ERROR: recvmsg
// failed with *err (a pending socket error, ENETDOWN after a link flap: the
// kernel reports it INSTEAD of a frame, and clears it); nothing was taken,
// the slot must stay ours and be read again.
static int rx_copy(int fd, const struct tpacket2_hdr *h, const uint8_t *f, uint32_t frame_size, uint8_t *dst,
                   uint32_t cap, uint32_t vl, struct virtio_net_hdr *vh, uint32_t *len, int *cut, int *err) {
  struct iovec iv[2];
  int k = 0;
  if (vl) iv[k++] = (struct iovec){vh, vl};
  iv[k++] = (struct iovec){dst, cap};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iv;
  mh.msg_iovlen = (size_t)k;
  // The first bytes the ring holds of this frame, to check that the frame
  // read is this slot's (its true length, and the same first bytes).
  const uint32_t mac = h->tp_mac, snap = h->tp_snaplen;
  const uint32_t head = mac <= frame_size && snap <= frame_size - mac ? (snap < 64 ? snap : 64) : 0;
  for (int tries = 0; tries < 64; tries++) {
    mh.msg_flags = 0;
    ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return COPY_NONE;
      if (e == EINVAL) return COPY_BAD_VNET;  // consumed by the kernel
      *err = e;
      return COPY_ERROR;
    }
    uint32_t l = (uint32_t)r > vl ? (uint32_t)r - vl : 0;
    if (l == h->tp_len && memcmp(dst, f + mac, head < cap && head < l ? head : (cap < l ? cap : l)) == 0) {
      *len = l;
      *cut = (mh.msg_flags & MSG_TRUNC) != 0;
      return COPY_OK;
    }
    // Not this slot's frame: one of an earlier slot, handed back without
    // being read (which the above rules out); its loss was counted then.
    // Skip it, so that the queue is in step with the ring again.
  }
  return COPY_NONE;
}

// Takes up to n frames from port p's receive ring into the n free slots on
// top of the free stack and describes them from descriptor di on. Returns
// the count, or -errno (a socket error: met reading a long frame, or found
// when the ring is empty).
static int64_t rx_ring(pool_t *pl, port_t *p, sockx_t *x, uint32_t port, uint32_t di, uint32_t n, uint32_t top) {
  if (p->rx_err_pending) {
    int e = p->rx_err_pending;
    p->rx_err_pending = 0;
    p->rx_error++;
    p->last_errno = e;
    count(pl, C_RX_ERROR, 1);
    return -e;
  }
  uint8_t *fr = pl->mem + pl->free_base;
  for (uint32_t i = 0; i < n; i++)
    if (r32(fr + pl->free_entries + 4ull * (top - 1 - i)) >= pl->slots) return -EFAULT;
  const uint32_t cap = pl->slot_size - pl->headroom;
  const uint32_t vl = p->vnet ? (uint32_t)VNET_LEN : 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint32_t got = 0;
  uint64_t bytes = 0, gso = 0, csum = 0, trunc = 0, bad = 0, bogus = 0;
  int err = 0;
  struct virtio_net_hdr vh;
  while (got < n) {
    uint8_t *f = x->map + (size_t)x->head * x->frame_size;
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)f;
    uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if (!(st & TP_STATUS_USER)) break;
    uint32_t s = r32(fr + pl->free_entries + 4ull * (top - 1 - got));
    uint8_t *dst = pl->mem + pl->pool_base + (uint64_t)s * pl->slot_size + pl->headroom;
    uint32_t len = 0, mac = h->tp_mac, snap = h->tp_snaplen;
    int ok = 0, from_ring = 1;
    if (st & TP_STATUS_COPY) {
      int cut = 0, c = rx_copy(p->fd, h, f, x->frame_size, dst, cap, vl, &vh, &len, &cut, &err);
      if (c == COPY_ERROR) {
        // Keep the slot (its frame is still queued) and report the error,
        // now or, after the frames taken so far, on the next call.
        if (got > 0) {
          p->rx_err_pending = err;
          err = 0;
        }
        break;
      }
      if (c == COPY_OK) {
        from_ring = 0;
        ok = 1;
        if (cut) trunc++;
      } else if (c == COPY_BAD_VNET) {
        from_ring = 0;
        bad++;
      }
      // COPY_NONE: the slot's cut-short copy below (counted as lost).
    }
    if (from_ring) {
      if (mac >= vl + sizeof(struct tpacket2_hdr) && mac <= x->frame_size && snap <= x->frame_size - mac) {
        len = h->tp_len;
        if (snap < len && len <= cap) {
          // Cut short and not queued whole (the receive buffer was full): lost.
          trunc++;
        } else {
          memcpy(dst, f + mac, snap < cap ? snap : cap);
          if (len > cap) trunc++;  // keeps its true length: eth-oversize
          if (vl) memcpy(&vh, f + mac - vl, vl);
          ok = 1;
        }
      } else {
        bogus++;  // a ring frame whose offsets lie outside it: dropped, counted
      }
    }
    __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    if (++x->head == x->frame_nr) x->head = 0;
    if (!ok) continue;
    if (vl) {
      if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) gso++;
      if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) csum++;
    }
    describe(pl, di + got, s, len, port, &ts, vl ? &vh : NULL);
    bytes += len;
    got++;
  }
  w32(fr + pl->free_top, top - got);
  p->rx += got;
  p->rx_bytes += bytes;
  p->rx_gso += gso;
  p->rx_csum += csum;
  p->rx_trunc += trunc;
  p->rx_bad_vnet += bad;
  count(pl, C_RX, got);
  count(pl, C_RX_TRUNC, trunc);
  count(pl, C_RX_BAD_VNET, bad);
  if (bogus) {
    p->rx_error += bogus;
    p->last_errno = EPROTO;
    count(pl, C_RX_ERROR, bogus);
  }
  if (got == 0 && !err) {
    // Nothing waiting: report (and clear) a socket error, as recvmmsg would
    // (ENETDOWN when the interface went down or away).
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e != 0) err = e;
  }
  if (err) {
    // got == 0 here: a pending error met after some frames waits in rx_err_pending.
    p->rx_error++;
    p->last_errno = err;
    count(pl, C_RX_ERROR, 1);
    return -err;
  }
  return got;
}

// rx(pool, port, descIndex, max) -> frames described into descriptors
// [descIndex, descIndex + n), or -errno on a socket error (ENETDOWN when the
// interface went down or away). Never blocks.
static napi_value js_rx(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  pool_t *pl = argc >= 4 ? get_pool(env, argv[0]) : NULL;
  if (!pl) return NULL;
  int32_t port = -1;
  uint32_t di = 0, max = 0;
  napi_get_value_int32(env, argv[1], &port);
  napi_get_value_uint32(env, argv[2], &di);
  napi_get_value_uint32(env, argv[3], &max);
  if (port < 0 || port >= NPORTS || pl->ports[port].fd < 0) return num(env, -EBADF);
  port_t *p = &pl->ports[port];
  if (di >= pl->max_vector) return num(env, 0);
  if (max > pl->max_vector - di) max = pl->max_vector - di;
  if (max > BATCH) max = BATCH;
  uint8_t *fr = pl->mem + pl->free_base;
  uint32_t top = r32(fr + pl->free_top);
  if (top > pl->slots) return num(env, -EFAULT);
  uint32_t n = max < top ? max : top;
  if (n == 0) {
    if (max > 0) count(pl, C_RX_NO_SLOT, 1);
    return num(env, 0);
  }
  const uint32_t cap = pl->slot_size - pl->headroom;
  const int vl = p->vnet ? VNET_LEN : 0;
  sockx_t *x = p->kind == KIND_PACKET ? sockx_of(p->fd) : NULL;
  if (x && x->map) return num(env, rx_ring(pl, p, x, (uint32_t)port, di, n, top));
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = r32(fr + pl->free_entries + 4ull * (top - 1 - i));
    if (s >= pl->slots) return num(env, -EFAULT);
    pl->slotv[i] = s;
    struct iovec *iv = pl->iov[i];
    int k = 0;
    if (vl) iv[k++] = (struct iovec){&pl->vh[i], (size_t)vl};
    iv[k++] = (struct iovec){pl->mem + pl->pool_base + (uint64_t)s * pl->slot_size + pl->headroom, cap};
    memset(&pl->msgs[i].msg_hdr, 0, sizeof pl->msgs[i].msg_hdr);
    pl->msgs[i].msg_hdr.msg_iov = iv;
    pl->msgs[i].msg_hdr.msg_iovlen = (size_t)k;
    pl->msgs[i].msg_len = 0;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint32_t got = 0;
  int err = 0;
  if (p->kind == KIND_PACKET) {
    // A frame whose virtio header the kernel cannot express is refused with
    // EINVAL (and consumed): count it and go on, a few times at most.
    for (int tries = 0; tries < 8; tries++) {
      int r = recvmmsg(p->fd, pl->msgs, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
      if (r >= 0) {
        got = (uint32_t)r;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINVAL) {
        p->rx_bad_vnet++;
        count(pl, C_RX_BAD_VNET, 1);
        continue;
      }
      err = errno;
      break;
    }
  } else {
    // TAP: one read per frame (a character device has no recvmmsg).
    while (got < n) {
      ssize_t r = readv(p->fd, pl->iov[got], (int)pl->msgs[got].msg_hdr.msg_iovlen);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      pl->msgs[got].msg_len = (unsigned)r;
      pl->msgs[got].msg_hdr.msg_flags = (size_t)r > cap + (size_t)vl ? MSG_TRUNC : 0;
      got++;
    }
  }
  // The first `got` popped slots are now in use.
  w32(fr + pl->free_top, top - got);
  uint64_t bytes = 0, gso = 0, csum = 0, trunc = 0;
  for (uint32_t i = 0; i < got; i++) {
    uint32_t ml = pl->msgs[i].msg_len;
    // A frame longer than the slot keeps its true length: the data plane
    // drops it as eth-oversize instead of forwarding half of it.
    uint32_t len = ml > (uint32_t)vl ? ml - (uint32_t)vl : 0;
    if (pl->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) trunc++;
    const struct virtio_net_hdr *vh = vl ? &pl->vh[i] : NULL;
    if (vh) {
      if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) gso++;
      if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) csum++;
    }
    describe(pl, di + i, pl->slotv[i], len, (uint32_t)port, &ts, vh);
    bytes += len;
  }
  p->rx += got;
  p->rx_bytes += bytes;
  p->rx_gso += gso;
  p->rx_csum += csum;
  p->rx_trunc += trunc;
  count(pl, C_RX, got);
  count(pl, C_RX_TRUNC, trunc);
  if (err) {
    p->rx_error++;
    p->last_errno = err;
    count(pl, C_RX_ERROR, 1);
    if (got == 0) return num(env, -err);
  }
  return num(env, got);
}

// ---- transmit ------------------------------------------------------------------------

static void tx_fail(pool_t *pl, port_t *p, int e, uint64_t n) {
  p->last_errno = e;
  switch (e) {
    case ENOBUFS: p->tx_nobufs += n; count(pl, C_TX_NOBUFS, n); break;
    case EAGAIN: p->tx_busy += n; count(pl, C_TX_BUSY, n); break;
    case ENETDOWN: case ENXIO: case ENODEV: case EIO: p->tx_down += n; count(pl, C_TX_DOWN, n); break;
    case EMSGSIZE: p->tx_too_big += n; count(pl, C_TX_TOO_BIG, n); break;
    default: p->tx_error += n; count(pl, C_TX_ERROR, n); break;
  }
}

// Sends msgs[0, m) on port p. Returns the number sent.
static uint32_t send_batch(pool_t *pl, port_t *p, uint32_t m) {
  uint32_t i = 0, sent = 0;
  sockx_t *x = p->kind == KIND_PACKET ? sockx_of(p->fd) : NULL;
  const int out = x && x->tx_fd >= 0 ? x->tx_fd : p->fd;
  while (i < m) {
    if (p->kind == KIND_PACKET) {
      int r = sendmmsg(out, pl->msgs + i, m - i, MSG_DONTWAIT);
      if (r > 0) {
        for (int k = 0; k < r; k++) {
          p->tx_bytes += pl->msgs[i + k].msg_len - (p->vnet ? VNET_LEN : 0);
          if (p->vnet && pl->vh[i + k].gso_type) p->tx_gso++;
          if (p->vnet && (pl->vh[i + k].flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) p->tx_csum++;
        }
        i += (uint32_t)r;
        sent += (uint32_t)r;
        continue;
      }
      int e = r < 0 ? errno : EIO;
      if (e == EINTR) continue;
      if (e == EWOULDBLOCK) e = EAGAIN;
      // The socket or the device is not taking frames now: the rest of the
      // batch would fail the same way, drop it all and count it.
      if (e == EAGAIN || e == ENETDOWN || e == ENXIO || e == ENODEV) {
        tx_fail(pl, p, e, m - i);
        break;
      }
      tx_fail(pl, p, e, 1);  // this frame only (ENOBUFS, EMSGSIZE, EINVAL ...)
      i++;
    } else {
      ssize_t r = writev(p->fd, pl->msgs[i].msg_hdr.msg_iov, (int)pl->msgs[i].msg_hdr.msg_iovlen);
      if (r >= 0) {
        p->tx_bytes += (size_t)r - (p->vnet ? VNET_LEN : 0);
        if (p->vnet && pl->vh[i].gso_type) p->tx_gso++;
        if (p->vnet && (pl->vh[i].flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) p->tx_csum++;
        i++;
        sent++;
        continue;
      }
      int e = errno;
      if (e == EINTR) continue;
      if (e == EWOULDBLOCK) e = EAGAIN;
      if (e == EAGAIN || e == EIO || e == EBADFD) {
        tx_fail(pl, p, e == EBADFD ? ENXIO : e, m - i);
        break;
      }
      tx_fail(pl, p, e, 1);
      i++;
    }
  }
  p->tx += sent;
  count(pl, C_TX, sent);
  return sent;
}

// tx(pool, first, count, port) -> frames sent. Sends transmit entries
// [first, first + count), each out of its T_PORT (port < 0) or all out of
// `port`. Entries of length 0 are skipped (the data plane dropped them after
// emitting, e.g. a super-frame it could not segment). Slots are not freed here.
static napi_value js_tx(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  pool_t *pl = argc >= 4 ? get_pool(env, argv[0]) : NULL;
  if (!pl) return NULL;
  uint32_t first = 0, cnt = 0;
  int32_t force = -1;
  napi_get_value_uint32(env, argv[1], &first);
  napi_get_value_uint32(env, argv[2], &cnt);
  napi_get_value_int32(env, argv[3], &force);
  if (first > pl->max_tx) first = pl->max_tx;
  if (cnt > pl->max_tx - first) cnt = pl->max_tx - first;
  uint32_t end = first + cnt, i = first, sent = 0;
  while (i < end) {
    const uint8_t *t = pl->mem + pl->tx_base + (uint64_t)i * pl->tx_size;
    uint32_t port = force >= 0 ? (uint32_t)force : r16(t + pl->t_port);
    // A run of consecutive entries for the same port becomes one sendmmsg.
    uint32_t j = i, m = 0;
    port_t *p = port < NPORTS ? &pl->ports[port] : NULL;
    const int vl = p && p->vnet ? VNET_LEN : 0;
    while (j < end && m < BATCH) {
      const uint8_t *e = pl->mem + pl->tx_base + (uint64_t)j * pl->tx_size;
      if (force < 0 && r16(e + pl->t_port) != port) break;
      j++;
      uint32_t slot = r32(e + pl->t_slot), off = r32(e + pl->t_off), len = r32(e + pl->t_len);
      if (len == 0) continue;
      if (!p || p->fd < 0) {
        count(pl, C_TX_NO_PORT, 1);
        continue;
      }
      if (slot >= pl->slots || off > pl->slot_size || len > pl->slot_size - off) {
        count(pl, C_TX_BAD_ENTRY, 1);
        continue;
      }
      struct iovec *iv = pl->iov[m];
      int k = 0;
      if (vl) {
        struct virtio_net_hdr *vh = &pl->vh[m];
        vh->flags = e[pl->t_vnet_flags];
        vh->gso_type = e[pl->t_gso_type];
        vh->gso_size = r16(e + pl->t_gso_size);
        vh->csum_start = r16(e + pl->t_csum_start);
        vh->csum_offset = r16(e + pl->t_csum_offset);
        vh->hdr_len = r16(e + pl->t_hdr_len);
        iv[k++] = (struct iovec){vh, (size_t)vl};
      }
      iv[k++] = (struct iovec){pl->mem + pl->pool_base + (uint64_t)slot * pl->slot_size + off, len};
      memset(&pl->msgs[m].msg_hdr, 0, sizeof pl->msgs[m].msg_hdr);
      pl->msgs[m].msg_hdr.msg_iov = iv;
      pl->msgs[m].msg_hdr.msg_iovlen = (size_t)k;
      pl->msgs[m].msg_len = len + (uint32_t)vl;
      m++;
    }
    if (m) sent += send_batch(pl, p, m);
    i = j;
  }
  return num(env, sent);
}

static napi_value port_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  pool_t *pl = argc >= 2 ? get_pool(env, argv[0]) : NULL;
  if (!pl) return NULL;
  int32_t port = -1;
  napi_get_value_int32(env, argv[1], &port);
  if (port < 0 || port >= NPORTS) {
    napi_throw_range_error(env, "EINVAL", "netwasm native: port out of range");
    return NULL;
  }
  port_t *p = &pl->ports[port];
  napi_value r;
  CHECK(napi_create_object(env, &r));
#define S(k, v) set_num(env, r, k, (double)(v))
  S("rxPackets", p->rx); S("rxBytes", p->rx_bytes); S("rxGso", p->rx_gso); S("rxCsumPartial", p->rx_csum);
  S("rxTruncated", p->rx_trunc); S("rxBadVnet", p->rx_bad_vnet); S("rxErrors", p->rx_error);
  S("txPackets", p->tx); S("txBytes", p->tx_bytes); S("txGso", p->tx_gso); S("txCsumPartial", p->tx_csum);
  S("txNobufs", p->tx_nobufs); S("txBusy", p->tx_busy); S("txDown", p->tx_down); S("txTooBig", p->tx_too_big);
  S("txErrors", p->tx_error); S("lastErrno", p->last_errno);
#undef S
  return r;
}

// ---- readiness -------------------------------------------------------------------------
// Node: uv_poll on the loop Node-API hands us (level-triggered). The libuv
// functions are looked up at run time, so the addon also loads where they are
// absent (Deno), which uses a watcher thread with epoll (EPOLLONESHOT) and a
// thread-safe function instead; the host calls rearm() when it has drained
// the socket. Neither ever spins on an idle interface.

typedef int (*uv_poll_init_fn)(uv_loop_t *, uv_poll_t *, int);
typedef int (*uv_poll_start_fn)(uv_poll_t *, int, uv_poll_cb);
typedef int (*uv_poll_stop_fn)(uv_poll_t *);
typedef void (*uv_close_fn)(uv_handle_t *, uv_close_cb);
typedef void (*uv_ref_fn)(uv_handle_t *);
static uv_poll_init_fn p_uv_poll_init;
static uv_poll_start_fn p_uv_poll_start;
static uv_poll_stop_fn p_uv_poll_stop;
static uv_close_fn p_uv_close;
static uv_ref_fn p_uv_unref;

static int have_uv(void) {
  static int state = -1;
  if (state < 0) {
    p_uv_poll_init = (uv_poll_init_fn)dlsym(RTLD_DEFAULT, "uv_poll_init");
    p_uv_poll_start = (uv_poll_start_fn)dlsym(RTLD_DEFAULT, "uv_poll_start");
    p_uv_poll_stop = (uv_poll_stop_fn)dlsym(RTLD_DEFAULT, "uv_poll_stop");
    p_uv_close = (uv_close_fn)dlsym(RTLD_DEFAULT, "uv_close");
    p_uv_unref = (uv_ref_fn)dlsym(RTLD_DEFAULT, "uv_unref");
    state = p_uv_poll_init && p_uv_poll_start && p_uv_poll_stop && p_uv_close && p_uv_unref;
  }
  return state;
}

typedef struct watcher {
  int refs;  // the JS external + the open handle; freed when both are gone
  napi_env env;
  napi_ref cb;
  int fd;
  int thread;  // 0 uv_poll, 1 epoll thread
  int active;
  int closed;
  // uv mode
  uv_poll_t poll;
  napi_async_context actx;
  // thread mode
  pthread_t th;
  int epfd, evfd;
  napi_threadsafe_function tsfn;
} watcher_t;

static void call_back(napi_env env, watcher_t *w, int status, int events, int make) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (w->cb && napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb) {
    // napi_make_callback wants an object as the receiver.
    napi_get_global(env, &recv);
    napi_create_int32(env, status, &argv[0]);
    napi_create_int32(env, events, &argv[1]);
    if (make) napi_make_callback(env, w->actx, recv, cb, 2, argv, &result);
    else napi_call_function(env, recv, cb, 2, argv, &result);
  }
  napi_close_handle_scope(env, scope);
}

static void on_uv_poll(uv_poll_t *h, int status, int events) {
  watcher_t *w = h->data;
  if (w->closed) return;
  if (status < 0) w->active = 0;  // libuv stopped the handle (POLLERR)
  call_back(w->env, w, status, events, 1);
}

static void watcher_unref(watcher_t *w) {
  if (--w->refs == 0) free(w);
}

static void watcher_ext_finalize(napi_env env, void *data, void *hint) { watcher_unref(data); }

static void on_uv_close(uv_handle_t *h) { watcher_unref(h->data); }

static void *watch_thread(void *arg) {
  watcher_t *w = arg;
  for (;;) {
    struct epoll_event ev[2];
    int n = epoll_wait(w->epfd, ev, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int stop = 0;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.fd == w->evfd) {
        stop = 1;
        continue;
      }
      napi_call_threadsafe_function(w->tsfn, (void *)(uintptr_t)ev[i].events, napi_tsfn_nonblocking);
    }
    if (stop) break;
  }
  return NULL;
}

static void tsfn_call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  watcher_t *w = context;
  if (!env || !w || w->closed) return;
  uint32_t ev = (uint32_t)(uintptr_t)data;
  int status = (ev & EPOLLERR) ? -EBADF : 0;
  int events = ((ev & EPOLLIN) ? UV_READABLE : 0) | ((ev & EPOLLOUT) ? UV_WRITABLE : 0);
  w->active = 0;  // one-shot: disarmed until rearm()
  call_back(env, w, status, events, 0);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  watcher_t *w = data;
  if (w->epfd >= 0) close(w->epfd);
  if (w->evfd >= 0) close(w->evfd);
  w->epfd = w->evfd = -1;
  watcher_unref(w);
}

static watcher_t *get_watcher(napi_env env, napi_value v) {
  return get_external(env, v, "netwasm native: expected a watcher from watch()");
}

// watch(fd, callback(status, events), thread = false, ref = true) -> watcher
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  bool thread = false, ref = true;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "netwasm native: watch(fd, callback, thread?, ref?)");
    return NULL;
  }
  if (argc > 2) napi_get_value_bool(env, argv[2], &thread);
  if (argc > 3) napi_get_value_bool(env, argv[3], &ref);
  if (!thread && !have_uv()) thread = true;
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, "ENOMEM", "netwasm native: out of memory");
    return NULL;
  }
  w->refs = 2;
  w->env = env;
  w->fd = fd;
  w->thread = thread;
  w->epfd = w->evfd = -1;
  napi_create_reference(env, argv[1], 1, &w->cb);
  if (!thread) {
    uv_loop_t *loop = NULL;
    napi_value name;
    napi_create_string_utf8(env, "netwasm:poll", NAPI_AUTO_LENGTH, &name);
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop || p_uv_poll_init(loop, &w->poll, fd) != 0 ||
        napi_async_init(env, NULL, name, &w->actx) != napi_ok) {
      napi_delete_reference(env, w->cb);
      free(w);
      napi_throw_error(env, "EINTERNAL", "netwasm native: cannot set up uv_poll");
      return NULL;
    }
    w->poll.data = w;
    if (!ref) p_uv_unref((uv_handle_t *)&w->poll);
    p_uv_poll_start(&w->poll, UV_READABLE, on_uv_poll);
    w->active = 1;
  } else {
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = w->evfd};
    napi_value name;
    napi_create_string_utf8(env, "netwasm:watch", NAPI_AUTO_LENGTH, &name);
    int bad = w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0;
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = fd;
    bad = bad || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0;
    bad = bad || napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, w, tsfn_finalize, w, tsfn_call_js, &w->tsfn) != napi_ok;
    if (bad) {
      if (w->epfd >= 0) close(w->epfd);
      if (w->evfd >= 0) close(w->evfd);
      napi_delete_reference(env, w->cb);
      free(w);
      napi_throw_error(env, "EINTERNAL", "netwasm native: cannot set up the watcher thread");
      return NULL;
    }
    if (!ref) napi_unref_threadsafe_function(env, w->tsfn);
    w->active = 1;
    pthread_create(&w->th, NULL, watch_thread, w);
  }
  napi_value ext;
  CHECK(napi_create_external(env, w, watcher_ext_finalize, NULL, &ext));
  return ext;
}

// rearm(w): after the host has drained the descriptor. Re-enables a one-shot
// thread watcher, or restarts a uv_poll that libuv stopped on an error; a
// no-op otherwise.
static napi_value js_rearm(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher_t *w = argc ? get_watcher(env, argv[0]) : NULL;
  if (!w || w->closed || w->active) return NULL;
  if (w->thread) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = w->fd};
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->fd, &ev);
  } else {
    p_uv_poll_start(&w->poll, UV_READABLE, on_uv_poll);
  }
  w->active = 1;
  return NULL;
}

// unwatch(w): stops watching (call before closing the fd).
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher_t *w = argc ? get_watcher(env, argv[0]) : NULL;
  if (!w || w->closed) return NULL;
  w->closed = 1;
  napi_delete_reference(env, w->cb);
  w->cb = NULL;
  if (w->thread) {
    uint64_t one = 1;
    if (write(w->evfd, &one, sizeof one) < 0) { /* the thread still sees closed */ }
    pthread_join(w->th, NULL);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);  // its finalizer drops a ref
  } else {
    p_uv_poll_stop(&w->poll);
    napi_async_destroy(env, w->actx);
    p_uv_close((uv_handle_t *)&w->poll, on_uv_close);  // drops a ref
  }
  return NULL;
}

// ---- module -------------------------------------------------------------------------------

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"openPacket", NULL, open_packet, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openTap", NULL, open_tap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifindex", NULL, js_ifindex, NULL, NULL, NULL, napi_enumerable, NULL},
    {"kernelStats", NULL, kernel_stats, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bindPool", NULL, bind_pool, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setPort", NULL, set_port, NULL, NULL, NULL, napi_enumerable, NULL},
    {"rx", NULL, js_rx, NULL, NULL, NULL, napi_enumerable, NULL},
    {"tx", NULL, js_tx, NULL, NULL, NULL, napi_enumerable, NULL},
    {"portStats", NULL, port_stats, NULL, NULL, NULL, napi_enumerable, NULL},
    {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"rearm", NULL, js_rearm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_get_boolean(env, have_uv(), &v);
  napi_set_named_property(env, exports, "hasUvPoll", v);
  napi_create_int32(env, VNET_LEN, &v);
  napi_set_named_property(env, exports, "VNET_HDR_LEN", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
