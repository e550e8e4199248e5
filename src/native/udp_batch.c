/*
 * Listeners' UDP I/O in batches: one recvmmsg(2) reads up to BATCH datagrams, one call into
 * JavaScript handles them all, one sendmmsg(2) sends the replies that were ready at once.
 *
 * Why: Node's dgram makes one syscall, one C++ -> JS callback and one JS -> C++ send (with its
 * request object) per datagram; on loopback that machinery, not DNS work, was 64% of the daemon's
 * CPU (bench/RESULTS.md). libuv's own recvmmsg support is not switched on by Node.
 *
 * Each open() makes an endpoint: a non-blocking socket watched by a uv_poll_t on Node's loop, so
 * it runs on the main thread between other events, like a dgram socket. Memory shared with
 * JavaScript:
 *   in       BATCH slots of SLOT bytes: the datagrams of the current batch
 *   meta     BATCH records of META bytes, one per datagram (a "peer record"):
 *            [0,28)  the sender's sockaddr as the kernel wrote it
 *            [28,32) the datagram's length as a host-endian int32 (-1: longer than SLOT)
 *            [32,48) the local address the datagram was sent to (4 or 16 bytes), [48,52) the
 *            interface index, [52] 1 when [32,52) is set: only on sockets bound to a wildcard
 *            address, where replies must leave from the address the query reached (IP_PKTINFO)
 *   out      BATCH slots of SLOT bytes: replies for flush()
 *   outMeta  BATCH pairs of host-endian int32: reply length, index of the datagram it answers
 * The JavaScript side (src/server/udp-batch.ts) reads a batch only inside its onBatch callback and
 * copies what it keeps; the next recvmmsg overwrites `in` and `meta`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "addon.h"

#define BATCH 64
#define SLOT 4096
#define META 64
#define META_LENGTH_OFFSET 28
#define META_LOCAL_OFFSET 32
#define META_IFINDEX_OFFSET 48
#define META_HAS_LOCAL_OFFSET 52
/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
#define CTRL_BYTES 64
/* recvmmsg calls per readiness event before yielding to the rest of the event loop. */
#define ROUNDS 4

typedef struct endpoint endpoint_t;

/* A control-message buffer, aligned as struct cmsghdr requires. */
typedef union {
  struct cmsghdr hdr;
  unsigned char bytes[CTRL_BYTES];
} ctrl_t;

/* What JavaScript holds: outlives the endpoint if the handle is kept after close. */
typedef struct {
  endpoint_t *ep;
} box_t;

struct endpoint {
  napi_env env;
  /* The socket this endpoint opened; -1 once closed. */
  int fd;
  int closing;
  /* uv_poll_init succeeded: the handle must go through uv_close before the memory is freed. */
  int polling;
  /* Bound to 0.0.0.0 or ::: packet info on, replies carry their source address. */
  int pktinfo;
  /* Set when the environment is being torn down: no N-API calls from then on. */
  int teardown;
  box_t *box;
  uv_poll_t poll;
  /* onBatch, and the four Buffers below kept alive while the endpoint uses them. */
  js_callback_t on_batch;
  unsigned char *in;
  unsigned char *meta;
  unsigned char *out;
  int32_t *out_meta;
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
  ctrl_t rctrl[BATCH];
  ctrl_t sctrl[BATCH];
};

/* ---- helpers -------------------------------------------------------------------------------- */

/* The endpoint behind a handle: NULL once closed, or NULL with a TypeError pending for a value
 * that is not a handle. */
static endpoint_t *endpoint_of(napi_env env, napi_value handle) {
  box_t *box = NULL;
  if (napi_get_value_external(env, handle, (void **)&box) != napi_ok || box == NULL) {
    (void)napi_throw_type_error(env, NULL, "not a udp_batch handle");
    return NULL;
  }
  return box->ep;
}

static socklen_t sockaddr_len(const void *sa) {
  return ((const struct sockaddr *)sa)->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* ---- source address on wildcard sockets ----------------------------------------------------- */

/* Copies the destination address of a received datagram from its control messages into its
 * peer record, so the reply can leave from that address. */
static void record_local(unsigned char *record, struct msghdr *hdr) {
  record[META_HAS_LOCAL_OFFSET] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c != NULL; c = CMSG_NXTHDR(hdr, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      memcpy(record + META_LOCAL_OFFSET, &info.ipi_addr, 4);
      int32_t ifindex = info.ipi_ifindex;
      memcpy(record + META_IFINDEX_OFFSET, &ifindex, sizeof ifindex);
      record[META_HAS_LOCAL_OFFSET] = 1;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      memcpy(record + META_LOCAL_OFFSET, &info.ipi6_addr, 16);
      int32_t ifindex = (int32_t)info.ipi6_ifindex;
      memcpy(record + META_IFINDEX_OFFSET, &ifindex, sizeof ifindex);
      record[META_HAS_LOCAL_OFFSET] = 1;
    }
  }
}

/* Points hdr at the peer in `record` and, when the record has a local address, adds the control
 * message that makes the kernel send from it, built in `ctrl`. */
static void address_reply(struct msghdr *hdr, unsigned char *record, ctrl_t *ctrl) {
  hdr->msg_name = record;
  hdr->msg_namelen = sockaddr_len(record);
  hdr->msg_control = NULL;
  hdr->msg_controllen = 0;
  if (!record[META_HAS_LOCAL_OFFSET]) return;
  int32_t ifindex;
  memcpy(&ifindex, record + META_IFINDEX_OFFSET, sizeof ifindex);
  memset(ctrl, 0, sizeof *ctrl);
  hdr->msg_control = ctrl->bytes;
  struct cmsghdr *c = &ctrl->hdr;
  if (((struct sockaddr *)record)->sa_family == AF_INET) {
    struct in_pktinfo info;
    memset(&info, 0, sizeof info);
    /* ipi_spec_dst sets the source; ifindex 0 leaves the route lookup free to pick the way out. */
    memcpy(&info.ipi_spec_dst, record + META_LOCAL_OFFSET, 4);
    hdr->msg_controllen = CMSG_SPACE(sizeof info);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    memcpy(CMSG_DATA(c), &info, sizeof info);
  } else {
    struct in6_pktinfo info;
    memset(&info, 0, sizeof info);
    memcpy(&info.ipi6_addr, record + META_LOCAL_OFFSET, 16);
    /* The interface matters for link-local addresses; for others it is where the query came in. */
    info.ipi6_ifindex = (unsigned)ifindex;
    hdr->msg_controllen = CMSG_SPACE(sizeof info);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    memcpy(CMSG_DATA(c), &info, sizeof info);
  }
}

/* ---- receive ------------------------------------------------------------------------------- */

static void deliver(endpoint_t *ep, int count) {
  js_callback_call(ep->env, &ep->on_batch, count);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  endpoint_t *ep = handle->data;
  if (status < 0) {
    deliver(ep, status);
    return;
  }
  for (int round = 0; round < ROUNDS && !ep->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      ep->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
      ep->rmsg[i].msg_hdr.msg_flags = 0;
      if (ep->pktinfo) ep->rmsg[i].msg_hdr.msg_controllen = CTRL_BYTES;
    }
    int n = recvmmsg(ep->fd, ep->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) deliver(ep, -errno);
      return;
    }
    for (int i = 0; i < n; i++) {
      int32_t len = (ep->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)ep->rmsg[i].msg_len;
      memcpy(ep->meta + i * META + META_LENGTH_OFFSET, &len, sizeof len);
      if (ep->pktinfo) record_local(ep->meta + i * META, &ep->rmsg[i].msg_hdr);
      else ep->meta[i * META + META_HAS_LOCAL_OFFSET] = 0;
    }
    if (n > 0) deliver(ep, n);
    if (n < BATCH) return;
  }
}

/* ---- opening and closing ------------------------------------------------------------------- */

static void box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  box_t *box = data;
  if (box->ep) box->ep->box = NULL;
  free(box);
}

/* The memory, and the JavaScript references unless the environment is being torn down (it frees
 * its own then, and N-API calls are no longer allowed). */
static void free_endpoint(endpoint_t *ep) {
  if (!ep->teardown) js_callback_release(ep->env, &ep->on_batch);
  free(ep);
}

static void on_closed(uv_handle_t *handle) {
  free_endpoint(handle->data);
}

/* Releases what the endpoint holds, whichever stage open() reached: the handle stops pointing at
 * it, the poll handle is closed (the memory then goes in its close callback, otherwise at once),
 * and the socket it opened is closed. Idempotent. */
static void close_endpoint(endpoint_t *ep) {
  if (ep->closing) return;
  ep->closing = 1;
  if (ep->box) ep->box->ep = NULL;
  ep->box = NULL;
  int fd = ep->fd, polling = ep->polling;
  ep->fd = -1;
  if (polling) {
    uv_poll_stop(&ep->poll);
    uv_close((uv_handle_t *)&ep->poll, on_closed);
  }
  /* uv_close has already removed the descriptor from epoll, so it may be closed at once. */
  if (fd >= 0) close(fd);
  if (!polling) free_endpoint(ep);
}

/* The environment is going away (process exit, or a worker thread ends) with the socket still
 * open: close the descriptor; the environment frees its own references. */
static void env_cleanup(void *arg) {
  endpoint_t *ep = arg;
  ep->teardown = 1;
  close_endpoint(ep);
}

/* A non-blocking UDP socket bound to `ss`, or -errno with `what` naming the failed call (nothing
 * is left open then). On a wildcard address the socket reports each datagram's local address. */
static int open_socket(int family, const struct sockaddr_storage *ss, socklen_t ss_len, int buffer_bytes, int wildcard, const char **what) {
  *what = "socket";
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (buffer_bytes > 0) {
    /* The kernel caps these at net.core.{r,w}mem_max; the default still works. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  int rc = 0;
  if (wildcard) {
    *what = "setsockopt(PKTINFO)";
    rc = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
                     : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  }
  if (rc == 0) {
    *what = "bind";
    rc = bind(fd, (const struct sockaddr *)ss, ss_len);
  }
  if (rc != 0) {
    int err = errno;
    close(fd); /* the socket opened above */
    return -err;
  }
  return fd;
}

/* ---- JavaScript API ------------------------------------------------------------------------ */

/* open(family 4|6, host, port, socketBufferBytes, in, meta, out, outMeta, onBatch) -> handle */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!get_args(env, info, 9, argv, "udp_batch.open")) return NULL;
  int32_t family = 0, port = 0, buffer_bytes = 0;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t host_len = 0;
  NAPI_CHECK(env, napi_get_value_int32(env, argv[0], &family));
  NAPI_CHECK(env, napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len));
  NAPI_CHECK(env, napi_get_value_int32(env, argv[2], &port));
  NAPI_CHECK(env, napi_get_value_int32(env, argv[3], &buffer_bytes));
  void *in, *meta, *out, *out_meta;
  if (!buffer_arg(env, argv[4], (size_t)BATCH * SLOT, &in) || !buffer_arg(env, argv[5], (size_t)BATCH * META, &meta) ||
      !buffer_arg(env, argv[6], (size_t)BATCH * SLOT, &out) || !buffer_arg(env, argv[7], (size_t)BATCH * 8, &out_meta) ||
      !function_arg(env, argv[8], "udp_batch.open: onBatch"))
    return NULL;
  if ((family != 4 && family != 6) || port < 0 || port > 65535) {
    (void)napi_throw_range_error(env, NULL, "udp_batch.open: bad family or port");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t ss_len = 0;
  if (parse_address(family, host, port, &ss, &ss_len) != 0) return throw_errno(env, EINVAL, "cannot parse the listen address");
  int wildcard = family == 4 ? ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY)
                              : IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
  const char *what = NULL;
  int fd = open_socket(family, &ss, ss_len, buffer_bytes, wildcard, &what);
  if (fd < 0) return throw_errno(env, -fd, what);

  endpoint_t *ep = calloc(1, sizeof *ep);
  if (!ep) {
    close(fd); /* the socket opened above */
    return throw_errno(env, ENOMEM, "udp_batch.open");
  }
  /* From here on a failure goes to `fail`: close_endpoint releases what was acquired so far. */
  ep->env = env;
  ep->fd = fd;
  ep->pktinfo = wildcard;
  ep->in = in;
  ep->meta = meta;
  ep->out = out;
  ep->out_meta = out_meta;
  for (int i = 0; i < BATCH; i++) {
    ep->riov[i].iov_base = ep->in + (size_t)i * SLOT;
    ep->riov[i].iov_len = SLOT;
    ep->rmsg[i].msg_hdr.msg_name = ep->meta + i * META;
    ep->rmsg[i].msg_hdr.msg_iov = &ep->riov[i];
    ep->rmsg[i].msg_hdr.msg_iovlen = 1;
    ep->rmsg[i].msg_hdr.msg_control = wildcard ? ep->rctrl[i].bytes : NULL;
    ep->rmsg[i].msg_hdr.msg_controllen = wildcard ? CTRL_BYTES : 0;
    ep->smsg[i].msg_hdr.msg_iov = &ep->siov[i];
    ep->smsg[i].msg_hdr.msg_iovlen = 1;
  }
  box_t *box = NULL;
  napi_value handle;
  uv_loop_t *loop = NULL;
  int rc;
  if (!js_callback_init(env, &ep->on_batch, argv[8], "PldnsUdpBatch", argv + 4, 4)) goto fail;
  box = calloc(1, sizeof *box);
  if (!box) {
    throw_errno(env, ENOMEM, "udp_batch.open");
    goto fail;
  }
  if (call_failed(env, napi_create_external(env, box, box_finalize, NULL, &handle), "napi_create_external")) {
    free(box); /* no handle holds it */
    goto fail;
  }
  /* The handle's finalizer frees the box from here on. */
  box->ep = ep;
  ep->box = box;
  NAPI_CHECK_GOTO(env, napi_get_uv_event_loop(env, &loop), fail);
  rc = uv_poll_init(loop, &ep->poll, fd);
  if (rc != 0) {
    throw_errno(env, -rc, "uv_poll_init");
    goto fail;
  }
  ep->polling = 1;
  ep->poll.data = ep;
  rc = uv_poll_start(&ep->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    throw_errno(env, -rc, "uv_poll_start");
    goto fail;
  }
  NAPI_CHECK_GOTO(env, napi_add_env_cleanup_hook(env, env_cleanup, ep), fail);
  return handle;
fail:
  close_endpoint(ep);
  return NULL;
}

/* localPort(handle) -> number */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "udp_batch.localPort")) return NULL;
  endpoint_t *ep = endpoint_of(env, argv[0]);
  if (!ep) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(ep->fd, (struct sockaddr *)&ss, &len) != 0) return throw_errno(env, errno, "getsockname");
  uint16_t port = ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port;
  return js_int32(env, ntohs(port));
}

/* Prepares message n of ep->smsg: `len` bytes at `data`, to the peer in `record` (see address_reply). */
static void prepare_reply(endpoint_t *ep, int n, unsigned char *data, int32_t len, unsigned char *record) {
  ep->siov[n].iov_base = data;
  ep->siov[n].iov_len = (size_t)len;
  address_reply(&ep->smsg[n].msg_hdr, record, &ep->sctrl[n]);
}

/* Sends the first n prepared messages of ep->smsg; returns how many could not be sent. */
static int send_all(endpoint_t *ep, int n) {
  int sent = 0, failed = 0;
  while (sent < n) {
    int r = sendmmsg(ep->fd, ep->smsg + sent, (unsigned)(n - sent), MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      /* The first unsent reply failed (full socket buffer, unreachable peer): drop it, go on. */
      failed++;
      sent++;
    }
  }
  return failed;
}

/* flush(handle, count) -> number of replies that could not be sent */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "udp_batch.flush")) return NULL;
  int32_t count = 0;
  NAPI_CHECK(env, napi_get_value_int32(env, argv[1], &count));
  endpoint_t *ep = endpoint_of(env, argv[0]);
  if (!ep) return js_int32(env, count);
  if (ep->closing) return js_int32(env, count);
  if (count < 0 || count > BATCH) {
    (void)napi_throw_range_error(env, NULL, "udp_batch.flush: bad count");
    return NULL;
  }
  int n = 0, failed = 0;
  for (int i = 0; i < count; i++) {
    int32_t len = ep->out_meta[2 * i], index = ep->out_meta[2 * i + 1];
    if (len <= 0 || len > SLOT || index < 0 || index >= BATCH) {
      failed++;
      continue;
    }
    prepare_reply(ep, n++, ep->out + (size_t)i * SLOT, len, ep->meta + index * META);
  }
  failed += send_all(ep, n);
  return js_int32(env, failed);
}

/* sendMany(handle, peerRecords, data, lengths, count) -> number of replies that could not be sent.
 * Replies that come after their batch (forwarded queries), gathered by JavaScript during one turn
 * of the loop and sent with one sendmmsg: reply i is lengths[i] bytes at data + i * SLOT, to the
 * peer record at peerRecords + i * META (a copy taken while its query's batch was handled). */
static napi_value js_send_many(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv, "udp_batch.sendMany")) return NULL;
  int32_t count = 0;
  NAPI_CHECK(env, napi_get_value_int32(env, argv[4], &count));
  endpoint_t *ep = endpoint_of(env, argv[0]);
  if (!ep || ep->closing) return js_int32(env, count);
  void *peers, *data, *lens;
  if (count < 0 || count > BATCH) {
    (void)napi_throw_range_error(env, NULL, "udp_batch.sendMany: bad count");
    return NULL;
  }
  if (!buffer_arg(env, argv[1], (size_t)count * META, &peers) || !buffer_arg(env, argv[2], (size_t)count * SLOT, &data) ||
      !buffer_arg(env, argv[3], (size_t)count * 4, &lens))
    return NULL;
  int n = 0, failed = 0;
  for (int i = 0; i < count; i++) {
    int32_t len;
    memcpy(&len, (unsigned char *)lens + 4 * i, sizeof len);
    if (len <= 0 || len > SLOT) {
      failed++;
      continue;
    }
    prepare_reply(ep, n++, (unsigned char *)data + (size_t)i * SLOT, len, (unsigned char *)peers + (size_t)i * META);
  }
  failed += send_all(ep, n);
  return js_int32(env, failed);
}

/* sendTo(handle, peerRecord, bytes) -> undefined, or the error code (e.g. "EAGAIN").
 * peerRecord: a copy of a datagram's META-byte record, taken while its batch was handled. */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, "udp_batch.sendTo")) return NULL;
  endpoint_t *ep = endpoint_of(env, argv[0]);
  if (!ep) return NULL;
  void *peer, *data;
  size_t data_len = 0;
  if (!buffer_arg(env, argv[1], META, &peer)) return NULL;
  NAPI_CHECK(env, napi_get_buffer_info(env, argv[2], &data, &data_len));
  if (ep->closing) return js_undefined(env);
  ctrl_t ctrl;
  struct iovec iov = { .iov_base = data, .iov_len = data_len };
  struct msghdr hdr;
  memset(&hdr, 0, sizeof hdr);
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  address_reply(&hdr, peer, &ctrl);
  ssize_t r;
  do r = sendmsg(ep->fd, &hdr, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return r >= 0 ? js_undefined(env) : js_errno_name(env, errno);
}

/* close(handle): stops reading and closes the socket now (the port is free when it returns);
 * the memory goes in libuv's close callback. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "udp_batch.close")) return NULL;
  endpoint_t *ep = endpoint_of(env, argv[0]);
  if (!ep) return NULL; /* closed already (undefined), or not a handle (TypeError) */
  /* First: a hook left registered would run on freed memory at teardown. */
  NAPI_CHECK(env, napi_remove_env_cleanup_hook(env, env_cleanup, ep));
  close_endpoint(ep);
  return js_undefined(env);
}

/* clock(stamps): the time for the per-query path, written into a 16-byte buffer instead of returned,
 * so reading it allocates nothing on the JavaScript heap (Date.now() and hrtime.bigint() each
 * allocate a number): [0,8) the wall clock in whole milliseconds, as Date.now() gives it, as a
 * host-endian double; [8,12) the monotonic clock in microseconds modulo 2^30, as a host-endian
 * int32 (a small integer in V8: durations are taken modulo 2^30 µs, about 18 minutes). */
static napi_value js_clock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "udp_batch.clock")) return NULL;
  void *stamps;
  if (!buffer_arg(env, argv[0], 16, &stamps)) return NULL;
  struct timespec wall, mono;
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  double wall_ms = (double)wall.tv_sec * 1000.0 + (double)(wall.tv_nsec / 1000000);
  int32_t mono_us = (int32_t)(((uint64_t)mono.tv_sec * 1000000u + (uint64_t)mono.tv_nsec / 1000u) & 0x3fffffff);
  memcpy(stamps, &wall_ms, sizeof wall_ms);
  memcpy((unsigned char *)stamps + 8, &mono_us, sizeof mono_us);
  return js_undefined(env);
}

bool register_udp_batch(napi_env env, napi_value exports) {
  return export_fn(env, exports, "open", js_open) && export_fn(env, exports, "localPort", js_local_port) &&
         export_fn(env, exports, "flush", js_flush) && export_fn(env, exports, "sendTo", js_send_to) &&
         export_fn(env, exports, "sendMany", js_send_many) && export_fn(env, exports, "close", js_close) &&
         export_fn(env, exports, "clock", js_clock) &&
         export_int(env, exports, "BATCH", BATCH) && export_int(env, exports, "SLOT", SLOT) && export_int(env, exports, "META", META) &&
         export_int(env, exports, "META_LENGTH_OFFSET", META_LENGTH_OFFSET) && export_int(env, exports, "AF_INET", AF_INET) &&
         export_int(env, exports, "AF_INET6", AF_INET6);
}
