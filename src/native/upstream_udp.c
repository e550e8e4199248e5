/*
 * Upstream UDP exchanges for privatelink-dns: every forwarded query leaves from a socket of its
 * own, opened, connected and closed here in C, so each exchange gets a fresh random source port
 * from the kernel (RFC 5452 §9.2: connect() on an unbound UDP socket binds a random ephemeral
 * port) without the cost of a Node dgram socket (handle wrap, bind lookup, close callback).
 *
 * The sockets are connected, so the kernel already drops datagrams from any other address or
 * port; ID and question are checked in JavaScript (src/upstream/native-udp-exchanger.ts). All
 * exchange sockets sit in one epoll set of their own, watched by one uv_poll_t on Node's loop:
 * a readiness event reads every ready socket and hands up to UP_BATCH replies to JavaScript in
 * one call. Memory shared with JavaScript:
 *   in    UP_BATCH slots of UP_SLOT bytes: the replies of the current batch
 *   meta  UP_BATCH pairs of host-endian int32: the socket (its descriptor, the exchange's token)
 *         and the reply's length, or a negative errno (-ECONNREFUSED after an ICMP port
 *         unreachable)
 * A token from JavaScript is only ever read from or closed when it names a socket this set
 * opened and has not closed yet (owns()): a stale or wrong token cannot close another descriptor
 * of the process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "addon.h"

#define UP_BATCH 64
/* A whole UDP datagram: upstreams may ignore the 1232 bytes we advertise. JavaScript allocates
 * the slots without touching them, so only the bytes replies fill become resident. */
#define UP_SLOT 65536
/* epoll_wait rounds per readiness event before yielding to the rest of the loop. */
#define UP_ROUNDS 4

typedef struct upstream_set upstream_set_t;

typedef struct {
  upstream_set_t *set;
} up_box_t;

struct upstream_set {
  napi_env env;
  /* The epoll set this upstream set opened; -1 once closed. */
  int epfd;
  int closing;
  int teardown;
  /* uv_poll_init succeeded: the handle must go through uv_close before the memory is freed. */
  int polling;
  /* The exchange sockets open now: owned[fd] is 1 for each socket this set opened and has not
   * closed (descriptors are small integers: one byte per descriptor up to the highest one). */
  unsigned char *owned;
  size_t owned_size;
  int open_sockets;
  up_box_t *box;
  uv_poll_t poll;
  /* onReplies, and the two Buffers below kept alive while the set uses them. */
  js_callback_t on_replies;
  unsigned char *in;
  int32_t *meta;
  struct epoll_event events[UP_BATCH];
};

/* The set behind a handle: NULL once closed, or NULL with a TypeError pending for a value that
 * is not a handle. */
static upstream_set_t *set_of(napi_env env, napi_value handle) {
  up_box_t *box = NULL;
  if (napi_get_value_external(env, handle, (void **)&box) != napi_ok || box == NULL) {
    (void)napi_throw_type_error(env, NULL, "not an upstream handle");
    return NULL;
  }
  return box->set;
}

/* ---- the exchange sockets this set owns ---------------------------------------------------- */

static bool owns(const upstream_set_t *set, int fd) {
  return fd >= 0 && (size_t)fd < set->owned_size && set->owned[fd];
}

/* Records a socket just opened as the set's; -ENOMEM when the table cannot grow (the caller
 * still owns the socket then). */
static int adopt(upstream_set_t *set, int fd) {
  if ((size_t)fd >= set->owned_size) {
    size_t size = set->owned_size ? set->owned_size : 256;
    while (size <= (size_t)fd) size *= 2;
    unsigned char *grown = realloc(set->owned, size);
    if (!grown) return -ENOMEM;
    memset(grown + set->owned_size, 0, size - set->owned_size);
    set->owned = grown;
    set->owned_size = size;
  }
  set->owned[fd] = 1;
  set->open_sockets++;
  return 0;
}

/* Closes one of the set's sockets (closing it also takes it out of the epoll set); anything
 * else is left alone. */
static void release_socket(upstream_set_t *set, int fd) {
  if (!owns(set, fd)) return;
  set->owned[fd] = 0;
  set->open_sockets--;
  close(fd);
}

/* ---- replies ------------------------------------------------------------------------------- */

static void deliver(upstream_set_t *set, int count) {
  js_callback_call(set->env, &set->on_replies, count);
}

static void on_ready(uv_poll_t *handle, int status, int events) {
  (void)events;
  upstream_set_t *set = handle->data;
  if (status < 0) return; /* an epoll descriptor does not fail this way; the next event retries */
  for (int round = 0; round < UP_ROUNDS && !set->closing; round++) {
    int n = epoll_wait(set->epfd, set->events, UP_BATCH, 0);
    if (n <= 0) return;
    int count = 0;
    for (int e = 0; e < n && !set->closing; e++) {
      /* One datagram per ready socket and round: a second recv would mostly find nothing (one
       * reply per exchange), and epoll reports a socket with more queued again next round. */
      if (count == UP_BATCH) {
        /* JavaScript copies what it keeps, so the slots can be refilled after this call. */
        deliver(set, count);
        count = 0;
        if (set->closing) return;
      }
      int fd = set->events[e].data.fd;
      /* JavaScript may have released it during the deliver() above. */
      if (!owns(set, fd)) continue;
      ssize_t r;
      do r = recv(fd, set->in + (size_t)count * UP_SLOT, UP_SLOT, MSG_DONTWAIT);
      while (r < 0 && errno == EINTR);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      set->meta[2 * count] = fd;
      set->meta[2 * count + 1] = r < 0 ? -errno : (int32_t)r;
      count++;
    }
    if (count > 0) deliver(set, count);
    if (n < UP_BATCH) return;
  }
}

/* ---- opening and closing ------------------------------------------------------------------- */

static void up_box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  up_box_t *box = data;
  if (box->set) box->set->box = NULL;
  free(box);
}

/* The memory, and the JavaScript references unless the environment is being torn down (it frees
 * its own then). */
static void free_set(upstream_set_t *set) {
  if (!set->teardown) js_callback_release(set->env, &set->on_replies);
  free(set->owned);
  free(set);
}

static void up_on_closed(uv_handle_t *handle) {
  free_set(handle->data);
}

/* Releases what the set holds, whichever stage upOpen() reached: the handle stops pointing at
 * it, its exchange sockets are closed, the poll handle is closed (the memory then goes in its
 * close callback, otherwise at once), and the epoll set. Idempotent. */
static void close_set(upstream_set_t *set) {
  if (set->closing) return;
  set->closing = 1;
  if (set->box) set->box->set = NULL;
  set->box = NULL;
  for (size_t fd = 0; fd < set->owned_size; fd++) release_socket(set, (int)fd);
  int epfd = set->epfd, polling = set->polling;
  set->epfd = -1;
  if (polling) {
    uv_poll_stop(&set->poll);
    uv_close((uv_handle_t *)&set->poll, up_on_closed);
  }
  if (epfd >= 0) close(epfd);
  if (!polling) free_set(set);
}

/* The environment is going away with the set open: close the sockets and the epoll set. */
static void up_env_cleanup(void *arg) {
  upstream_set_t *set = arg;
  set->teardown = 1;
  close_set(set);
}

/* ---- JavaScript API ------------------------------------------------------------------------ */

/* upOpen(in, meta, onReplies) -> handle */
static napi_value js_up_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, "upOpen")) return NULL;
  void *in, *meta;
  if (!buffer_arg(env, argv[0], (size_t)UP_BATCH * UP_SLOT, &in) || !buffer_arg(env, argv[1], (size_t)UP_BATCH * 8, &meta) ||
      !function_arg(env, argv[2], "upOpen: onReplies"))
    return NULL;
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return throw_errno(env, errno, "epoll_create1");
  upstream_set_t *set = calloc(1, sizeof *set);
  if (!set) {
    close(epfd); /* the epoll set opened above */
    return throw_errno(env, ENOMEM, "upOpen");
  }
  /* From here on a failure goes to `fail`: close_set releases what was acquired so far. */
  set->env = env;
  set->epfd = epfd;
  set->in = in;
  set->meta = meta;
  up_box_t *box = NULL;
  napi_value handle;
  uv_loop_t *loop = NULL;
  int rc;
  if (!js_callback_init(env, &set->on_replies, argv[2], "PldnsUpstreamUdp", argv, 2)) goto fail;
  box = calloc(1, sizeof *box);
  if (!box) {
    throw_errno(env, ENOMEM, "upOpen");
    goto fail;
  }
  if (call_failed(env, napi_create_external(env, box, up_box_finalize, NULL, &handle), "napi_create_external")) {
    free(box); /* no handle holds it */
    goto fail;
  }
  /* The handle's finalizer frees the box from here on. */
  box->set = set;
  set->box = box;
  NAPI_CHECK_GOTO(env, napi_get_uv_event_loop(env, &loop), fail);
  rc = uv_poll_init(loop, &set->poll, epfd);
  if (rc != 0) {
    throw_errno(env, -rc, "uv_poll_init");
    goto fail;
  }
  set->polling = 1;
  set->poll.data = set;
  rc = uv_poll_start(&set->poll, UV_READABLE, on_ready);
  if (rc != 0) {
    throw_errno(env, -rc, "uv_poll_start");
    goto fail;
  }
  /* Not referenced: in-flight exchanges keep the loop alive through their own timers. */
  uv_unref((uv_handle_t *)&set->poll);
  NAPI_CHECK_GOTO(env, napi_add_env_cleanup_hook(env, up_env_cleanup, set), fail);
  return handle;
fail:
  close_set(set);
  return NULL;
}

/* upSend(handle, family 4|6, host, port, query) -> the socket's token (a number), or the errno
 * name when the socket could not be opened or the query not sent. */
static napi_value js_up_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv, "upSend")) return NULL;
  upstream_set_t *set = set_of(env, argv[0]);
  if (!set) {
    bool pending = false;
    NAPI_CHECK(env, napi_is_exception_pending(env, &pending));
    return pending ? NULL : js_errno_name(env, ECANCELED);
  }
  int32_t family = 0, port = 0;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t host_len = 0;
  void *query;
  size_t query_len = 0;
  NAPI_CHECK(env, napi_get_value_int32(env, argv[1], &family));
  NAPI_CHECK(env, napi_get_value_string_utf8(env, argv[2], host, sizeof host, &host_len));
  NAPI_CHECK(env, napi_get_value_int32(env, argv[3], &port));
  NAPI_CHECK(env, napi_get_buffer_info(env, argv[4], &query, &query_len));
  struct sockaddr_storage ss;
  socklen_t ss_len = 0;
  if ((family != 4 && family != 6) || port <= 0 || port > 65535 || parse_address(family, host, port, &ss, &ss_len) != 0) return js_errno_name(env, EINVAL);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return js_errno_name(env, errno);
  if (adopt(set, fd) != 0) {
    close(fd); /* the socket opened just above, not recorded */
    return js_errno_name(env, ENOMEM);
  }
  int err = 0;
  /* connect() binds the socket to a random ephemeral port first. */
  if (connect(fd, (struct sockaddr *)&ss, ss_len) != 0) {
    err = errno;
  } else {
    ssize_t r;
    do r = send(fd, query, query_len, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) err = errno;
  }
  if (err == 0) {
    struct epoll_event ev = { .events = EPOLLIN };
    ev.data.fd = fd;
    if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) err = errno;
  }
  if (err != 0) {
    release_socket(set, fd);
    return js_errno_name(env, err);
  }
  return js_int32(env, fd);
}

/* upRelease(handle, token): closes an exchange's socket, if the set still owns it. */
static napi_value js_up_release(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "upRelease")) return NULL;
  upstream_set_t *set = set_of(env, argv[0]);
  if (!set) return NULL; /* closed (its sockets with it): undefined; not a handle: TypeError */
  int32_t fd = -1;
  NAPI_CHECK(env, napi_get_value_int32(env, argv[1], &fd));
  release_socket(set, fd);
  return js_undefined(env);
}

/* upClose(handle): closes the exchange sockets still open, then the set. Idempotent. */
static napi_value js_up_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "upClose")) return NULL;
  upstream_set_t *set = set_of(env, argv[0]);
  if (!set) return NULL;
  /* First: a hook left registered would run on freed memory at teardown. */
  NAPI_CHECK(env, napi_remove_env_cleanup_hook(env, up_env_cleanup, set));
  close_set(set);
  return js_undefined(env);
}

/* upOpenSockets(handle) -> exchange sockets open now (for tests and /status). */
static napi_value js_up_open_sockets(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "upOpenSockets")) return NULL;
  upstream_set_t *set = set_of(env, argv[0]);
  bool pending = false;
  NAPI_CHECK(env, napi_is_exception_pending(env, &pending));
  if (pending) return NULL;
  return js_int32(env, set ? set->open_sockets : 0);
}

bool register_upstream_udp(napi_env env, napi_value exports) {
  return export_fn(env, exports, "upOpen", js_up_open) && export_fn(env, exports, "upSend", js_up_send) &&
         export_fn(env, exports, "upRelease", js_up_release) && export_fn(env, exports, "upClose", js_up_close) &&
         export_fn(env, exports, "upOpenSockets", js_up_open_sockets) && export_int(env, exports, "UP_BATCH", UP_BATCH) &&
         export_int(env, exports, "UP_SLOT", UP_SLOT);
}
