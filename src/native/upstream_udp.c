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
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
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
  int epfd;
  int closing;
  int teardown;
  /* Exchange sockets currently open (closed by upRelease, or all at once by upClose). */
  int open_sockets;
  up_box_t *box;
  uv_poll_t poll;
  napi_ref on_replies;
  napi_ref resource;
  napi_ref buffers[2];
  napi_async_context async_ctx;
  unsigned char *in;
  int32_t *meta;
  struct epoll_event events[UP_BATCH];
};

static upstream_set_t *set_of(napi_env env, napi_value handle) {
  up_box_t *box = NULL;
  if (napi_get_value_external(env, handle, (void **)&box) != napi_ok || box == NULL) {
    napi_throw_type_error(env, NULL, "not an upstream handle");
    return NULL;
  }
  return box->set; /* NULL once closed */
}

static void deliver(upstream_set_t *set, int count) {
  call_js(set->env, set->async_ctx, set->resource, set->on_replies, count);
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

static void up_box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  up_box_t *box = data;
  if (box->set) box->set->box = NULL;
  free(box);
}

static void up_env_cleanup(void *arg);

/* upOpen(in, meta, onReplies) -> handle */
static napi_value js_up_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "upOpen: 3 arguments expected");
    return NULL;
  }
  void *in, *meta;
  if (buffer_arg(env, argv[0], (size_t)UP_BATCH * UP_SLOT, &in) || buffer_arg(env, argv[1], (size_t)UP_BATCH * 8, &meta)) return NULL;
  napi_valuetype cb_type;
  napi_typeof(env, argv[2], &cb_type);
  if (cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "upOpen: onReplies must be a function");
    return NULL;
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return throw_errno(env, errno, "epoll_create1");
  uv_loop_t *loop = NULL;
  upstream_set_t *set = calloc(1, sizeof *set);
  up_box_t *box = calloc(1, sizeof *box);
  if (!set || !box || napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free(set);
    free(box);
    close(epfd);
    napi_throw_error(env, "ENOMEM", "upOpen: out of memory");
    return NULL;
  }
  set->env = env;
  set->epfd = epfd;
  set->box = box;
  box->set = set;
  set->in = in;
  set->meta = meta;
  for (int i = 0; i < 2; i++) napi_create_reference(env, argv[i], 1, &set->buffers[i]);
  napi_create_reference(env, argv[2], 1, &set->on_replies);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &set->resource);
  napi_create_string_utf8(env, "PldnsUpstreamUdp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &set->async_ctx);
  int rc = uv_poll_init(loop, &set->poll, epfd);
  if (rc == 0) {
    set->poll.data = set;
    rc = uv_poll_start(&set->poll, UV_READABLE, on_ready);
  }
  if (rc != 0) {
    box->set = NULL;
    close(epfd);
    return throw_errno(env, -rc, "uv_poll");
  }
  /* Not referenced: in-flight exchanges keep the loop alive through their own timers. */
  uv_unref((uv_handle_t *)&set->poll);
  napi_add_env_cleanup_hook(env, up_env_cleanup, set);
  napi_value handle;
  napi_create_external(env, box, up_box_finalize, NULL, &handle);
  return handle;
}

/* upSend(handle, family 4|6, host, port, query) -> the socket's token (a number), or the errno
 * name when the socket could not be opened or the query not sent. */
static napi_value js_up_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "upSend: 5 arguments expected");
    return NULL;
  }
  upstream_set_t *set = set_of(env, argv[0]);
  if (!set) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) return NULL;
    napi_value code;
    napi_create_string_utf8(env, "ECANCELED", NAPI_AUTO_LENGTH, &code);
    return code;
  }
  int32_t family = 0, port = 0;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t host_len = 0;
  void *query;
  size_t query_len = 0;
  napi_get_value_int32(env, argv[1], &family);
  napi_get_value_int32(env, argv[3], &port);
  if (napi_get_value_string_utf8(env, argv[2], host, sizeof host, &host_len) != napi_ok || napi_get_buffer_info(env, argv[4], &query, &query_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "upSend: a host string and a query buffer expected");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t ss_len = 0;
  int err = 0;
  int fd = -1;
  if ((family != 4 && family != 6) || port <= 0 || port > 65535 || parse_address(family, host, port, &ss, &ss_len) != 0) {
    err = EINVAL;
  } else if ((fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
    err = errno;
  } else if (connect(fd, (struct sockaddr *)&ss, ss_len) != 0) {
    /* connect() binds the socket to a random ephemeral port first. */
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
  napi_value v;
  if (err != 0) {
    if (fd >= 0) close(fd);
    napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &v);
    return v;
  }
  set->open_sockets++;
  napi_create_int32(env, fd, &v);
  return v;
}

/* upRelease(handle, token): closes an exchange's socket (closing it also leaves the epoll set). */
static napi_value js_up_release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  upstream_set_t *set = set_of(env, argv[0]);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[1], &fd);
  /* A closed set has already closed every socket (upClose); a token is never another fd then. */
  if (set && fd >= 0 && !set->closing) {
    close(fd);
    set->open_sockets--;
  }
  return undefined(env);
}

static void up_on_closed(uv_handle_t *handle) {
  upstream_set_t *set = handle->data;
  napi_env env = set->env;
  if (!set->teardown) {
    for (int i = 0; i < 2; i++) napi_delete_reference(env, set->buffers[i]);
    napi_delete_reference(env, set->on_replies);
    napi_delete_reference(env, set->resource);
    napi_async_destroy(env, set->async_ctx);
  }
  free(set);
}

static void close_set(upstream_set_t *set) {
  if (set->closing) return;
  if (set->box) set->box->set = NULL;
  set->box = NULL;
  set->closing = 1;
  uv_poll_stop(&set->poll);
  uv_close((uv_handle_t *)&set->poll, up_on_closed);
  close(set->epfd);
  set->epfd = -1;
}

static void up_env_cleanup(void *arg) {
  upstream_set_t *set = arg;
  set->teardown = 1;
  close_set(set);
}

/* upClose(handle, tokens): closes the listed sockets still open, then the set. Idempotent. */
static napi_value js_up_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  upstream_set_t *set = set_of(env, argv[0]);
  if (!set) return undefined(env);
  uint32_t n = 0;
  bool is_array = false;
  if (argc >= 2 && napi_is_array(env, argv[1], &is_array) == napi_ok && is_array) napi_get_array_length(env, argv[1], &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    int32_t fd = -1;
    if (napi_get_element(env, argv[1], i, &el) == napi_ok && napi_get_value_int32(env, el, &fd) == napi_ok && fd >= 0) {
      close(fd);
      set->open_sockets--;
    }
  }
  napi_remove_env_cleanup_hook(env, up_env_cleanup, set);
  close_set(set);
  return undefined(env);
}

/* upOpenSockets(handle) -> exchange sockets open now (for tests and /status). */
static napi_value js_up_open_sockets(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  upstream_set_t *set = set_of(env, argv[0]);
  napi_value v;
  napi_create_int32(env, set ? set->open_sockets : 0, &v);
  return v;
}

void register_upstream(napi_env env, napi_value exports) {
  set_fn(env, exports, "upOpen", js_up_open);
  set_fn(env, exports, "upSend", js_up_send);
  set_fn(env, exports, "upRelease", js_up_release);
  set_fn(env, exports, "upClose", js_up_close);
  set_fn(env, exports, "upOpenSockets", js_up_open_sockets);
  set_int(env, exports, "UP_BATCH", UP_BATCH);
  set_int(env, exports, "UP_SLOT", UP_SLOT);
}
