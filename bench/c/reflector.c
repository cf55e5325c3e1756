// The ceiling of plain AF_PACKET forwarding, and the traffic generator of the
// host bench (bench/host.bench.ts).
//
//   reflector fwd IF_A IF_B SECONDS
//     Forwards every frame from IF_A to IF_B and back, as netwasm's adapter
//     does it (AF_PACKET, promiscuous, PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING,
//     recvmmsg/sendmmsg in batches of 256, poll() when idle), with no data
//     plane in between, until SECONDS pass or SIGTERM. Prints {"frames": N,
//     "seconds": S, "fps": F, "userUs": U, "sysUs": S} (its CPU time).
//     Prints "ready" on stderr once both sockets are bound.
//   reflector ring IF_A IF_B SECONDS
//     The same, receiving through a TPACKET_V3 ring per interface (mmap'ed
//     blocks of frames, as libpcap does) instead of recvmmsg; each block's
//     frames are sent with sendmmsg straight from the ring, then the block
//     is handed back. No PACKET_VNET_HDR (the generator sends no GSO).
//   reflector gen IF SIZE SECONDS DST_MAC SRC_MAC
//     Sends SIZE-byte frames (ethertype 0x88b5) out of IF as fast as it can
//     (sendmmsg, PACKET_QDISC_BYPASS). Prints {"sent": N, "seconds": S}.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BATCH 256
#define SLOT (65536 + 512)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_if(const char *name, int vnet, int bypass) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1, buf = 8 << 20;
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) perror("PACKET_VNET_HDR");
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  if (bypass) setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)if_nametoindex(name)};
  if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    fprintf(stderr, "bind %s: %s\n", name, strerror(errno));
    exit(1);
  }
  struct packet_mreq mr = {.mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_PROMISC};
  setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
  return fd;
}

static unsigned char *pool;
static struct virtio_net_hdr vh[BATCH];
static struct iovec iov[BATCH][2];
static struct mmsghdr msgs[BATCH];

// Receives a batch on `in` and sends it out of `out`. Returns frames moved.
static long relay(int in, int out) {
  for (int i = 0; i < BATCH; i++) {
    iov[i][0] = (struct iovec){&vh[i], sizeof vh[i]};
    iov[i][1] = (struct iovec){pool + (size_t)i * SLOT, SLOT};
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = iov[i];
    msgs[i].msg_hdr.msg_iovlen = 2;
  }
  int n = recvmmsg(in, msgs, BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) iov[i][1].iov_len = msgs[i].msg_len - sizeof vh[i];
  int sent = 0;
  while (sent < n) {
    int r = sendmmsg(out, msgs + sent, n - sent, MSG_DONTWAIT);
    if (r > 0) sent += r;
    else if (errno == EINTR) continue;
    else sent++;  // dropped, as netwasm counts and drops
  }
  return n;
}

static volatile sig_atomic_t stopping;
static void on_term(int sig) { stopping = 1; }

static int fwd(const char *a, const char *b, double seconds) {
  signal(SIGTERM, on_term);
  pool = malloc((size_t)BATCH * SLOT);
  int fa = open_if(a, 1, 0), fb = open_if(b, 1, 0);
  fprintf(stderr, "ready\n");
  long frames = 0;
  double t0 = now(), end = t0 + seconds;
  struct pollfd p[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
  while (now() < end && !stopping) {
    if (poll(p, 2, 50) <= 0) continue;
    if (p[0].revents & POLLIN) frames += relay(fa, fb);
    if (p[1].revents & POLLIN) frames += relay(fb, fa);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"frames\": %ld, \"seconds\": %.3f, \"fps\": %.0f, \"userUs\": %ld, \"sysUs\": %ld}\n", frames, now() - t0,
         frames / (now() - t0), ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec, ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec);
  return 0;
}

// ---- TPACKET_V3 ---------------------------------------------------------------

#define RING_BLOCK (1 << 20)
#define RING_BLOCKS 8

struct ring {
  int fd;
  unsigned char *map;
  unsigned next;
};

static void open_ring(struct ring *r, const char *name) {
  r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
  if (r->fd < 0) {
    perror("socket");
    exit(1);
  }
  int v = TPACKET_V3, one = 1, buf = 8 << 20;
  if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) {
    perror("PACKET_VERSION");
    exit(1);
  }
  struct tpacket_req3 req = {.tp_block_size = RING_BLOCK, .tp_block_nr = RING_BLOCKS, .tp_frame_size = 2048,
                             .tp_frame_nr = RING_BLOCK / 2048 * RING_BLOCKS, .tp_retire_blk_tov = 1};
  if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
    perror("PACKET_RX_RING");
    exit(1);
  }
  r->map = mmap(NULL, (size_t)RING_BLOCK * RING_BLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd, 0);
  if (r->map == MAP_FAILED) r->map = mmap(NULL, (size_t)RING_BLOCK * RING_BLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
  if (r->map == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  r->next = 0;
  setsockopt(r->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)if_nametoindex(name)};
  if (!sll.sll_ifindex || bind(r->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    fprintf(stderr, "bind %s: %s\n", name, strerror(errno));
    exit(1);
  }
  struct packet_mreq mr = {.mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_PROMISC};
  setsockopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
}

static void send_all(int out, int n) {
  int sent = 0;
  while (sent < n) {
    int r = sendmmsg(out, msgs + sent, n - sent, MSG_DONTWAIT);
    if (r > 0) sent += r;
    else if (errno == EINTR) continue;
    else sent++;  // dropped, as netwasm counts and drops
  }
}

// Sends every frame of the ring's ready blocks out of `out`. Returns frames moved.
static long relay_ring(struct ring *in, int out) {
  long frames = 0;
  for (;;) {
    struct tpacket_block_desc *b = (struct tpacket_block_desc *)(in->map + (size_t)in->next * RING_BLOCK);
    if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) return frames;
    unsigned n = b->hdr.bh1.num_pkts, k = 0;
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)((unsigned char *)b + b->hdr.bh1.offset_to_first_pkt);
    for (unsigned i = 0; i < n; i++) {
      iov[k][0] = (struct iovec){(unsigned char *)h + h->tp_mac, h->tp_snaplen};
      memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_iov = iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      if (++k == BATCH) {
        send_all(out, k);
        k = 0;
      }
      h = (struct tpacket3_hdr *)((unsigned char *)h + h->tp_next_offset);
    }
    if (k) send_all(out, k);
    frames += n;
    __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    in->next = (in->next + 1) % RING_BLOCKS;
  }
}

static int fwd_ring(const char *a, const char *b, double seconds) {
  signal(SIGTERM, on_term);
  struct ring ra, rb;
  open_ring(&ra, a);
  open_ring(&rb, b);
  fprintf(stderr, "ready\n");
  long frames = 0;
  double t0 = now(), end = t0 + seconds;
  struct pollfd p[2] = {{.fd = ra.fd, .events = POLLIN}, {.fd = rb.fd, .events = POLLIN}};
  while (now() < end && !stopping) {
    frames += relay_ring(&ra, rb.fd);
    frames += relay_ring(&rb, ra.fd);
    poll(p, 2, 50);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"frames\": %ld, \"seconds\": %.3f, \"fps\": %.0f, \"userUs\": %ld, \"sysUs\": %ld}\n", frames, now() - t0,
         frames / (now() - t0), ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec, ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec);
  return 0;
}

static void parse_mac(const char *s, unsigned char *m) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    fprintf(stderr, "bad MAC %s\n", s);
    exit(1);
  }
  for (int i = 0; i < 6; i++) m[i] = (unsigned char)v[i];
}

static int gen(const char *ifname, int size, double seconds, const char *dst, const char *src) {
  int fd = open_if(ifname, 0, 1);
  int fl = 0;
  (void)fl;
  unsigned char frame[9216];
  if (size < 60 || size > (int)sizeof frame) size = 60;
  memset(frame, 0x5a, sizeof frame);
  parse_mac(dst, frame);
  parse_mac(src, frame + 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  struct iovec one = {frame, (size_t)size};
  for (int i = 0; i < BATCH; i++) {
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &one;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = 0;
  double t0 = now(), end = t0 + seconds;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  while (now() < end) {
    int r = sendmmsg(fd, msgs, 64, 0);
    if (r > 0) sent += r;
    else if (errno == EAGAIN) poll(&p, 1, 1);
  }
  printf("{\"sent\": %ld, \"seconds\": %.3f}\n", sent, now() - t0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "fwd")) return fwd(argv[2], argv[3], atof(argv[4]));
  if (argc == 5 && !strcmp(argv[1], "ring")) return fwd_ring(argv[2], argv[3], atof(argv[4]));
  if (argc == 7 && !strcmp(argv[1], "gen")) return gen(argv[2], atoi(argv[3]), atof(argv[4]), argv[5], argv[6]);
  fprintf(stderr, "usage: reflector fwd|ring IF_A IF_B SECONDS | reflector gen IF SIZE SECONDS DST_MAC SRC_MAC\n");
  return 2;
}
