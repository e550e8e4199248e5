/*
 * What the addon's source files share (defined in addon.c, which also holds the module init).
 * Each other file holds one job and adds its functions to the exports through its register_*:
 *   udp_batch.c     listeners: recvmmsg/sendmmsg batches
 *   upstream_udp.c  forwarded queries: one connected socket per exchange, all in one epoll set
 *   sd_notify.c     readiness datagrams to systemd's notify socket
 *   malloc_trim.c   freed heap memory back to the kernel
 *
 * N-API calls: every napi_* status is checked through NAPI_CHECK (in a function called from
 * JavaScript: throws, returns NULL) or NAPI_CHECK_GOTO (throws, then jumps to the caller's
 * cleanup label, which releases what was acquired so far). Calls made from the event loop, with
 * no JavaScript caller to throw to, go through js_callback_call, which hands a failure to the
 * process's uncaught-exception handling. Errors thrown by the addon carry a `code`: the errno
 * name (EADDRINUSE, ...) for a system call, ENAPI for a failed N-API call.
 */
#ifndef PLDNS_ADDON_H
#define PLDNS_ADDON_H

#define NAPI_VERSION 8
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <node_api.h>

/* True when `status` is a failure, which is then thrown as an Error with code ENAPI (unless an
 * exception is already pending: that one stays). `call` names the failed call in the message. */
bool call_failed(napi_env env, napi_status status, const char *call);

#define NAPI_CHECK(env, call)                                                                     \
  do {                                                                                            \
    if (call_failed((env), (call), #call)) return NULL;                                           \
  } while (0)

#define NAPI_CHECK_GOTO(env, call, label)                                                         \
  do {                                                                                            \
    if (call_failed((env), (call), #call)) goto label;                                            \
  } while (0)

/* Throws an Error whose code is the errno name (EADDRINUSE, ...); returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *what);
/* JavaScript values; NULL (with an exception pending) when they cannot be created. */
napi_value js_undefined(napi_env env);
napi_value js_int32(napi_env env, int32_t value);
/* The errno name as a string ("EAGAIN"), for functions that return failures instead of throwing. */
napi_value js_errno_name(napi_env env, int err);

/* The arguments of a call from JavaScript; throws a TypeError and returns false when fewer than
 * `argc` were passed. */
bool get_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *fn);
/* The data of a Buffer argument of at least `min` bytes; throws and returns false otherwise. */
bool buffer_arg(napi_env env, napi_value v, size_t min, void **data);
/* A function argument; throws a TypeError and returns false otherwise. */
bool function_arg(napi_env env, napi_value v, const char *what);
/* "1.2.3.4" / "fe80::1%eth0" and a port into a sockaddr; -1 when the text does not parse. */
int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

/* A JavaScript function the addon calls from the event loop, as an I/O callback of an async
 * resource of its own, with the Buffers it shares with JavaScript kept alive alongside. */
#define JS_CALLBACK_BUFFERS 4
typedef struct {
  napi_ref fn;
  napi_ref resource;
  napi_async_context async_ctx;
  napi_ref buffers[JS_CALLBACK_BUFFERS];
} js_callback_t;

/* Fills a zeroed `cb`; on failure throws and returns false, and js_callback_release(cb) frees
 * what was made. */
bool js_callback_init(napi_env env, js_callback_t *cb, napi_value fn, const char *resource_name, const napi_value *buffers, size_t n_buffers);
/* Deletes the references and destroys the async context (the fields that are set). */
void js_callback_release(napi_env env, js_callback_t *cb);
/* Calls the function with one number: napi_make_callback runs queued microtasks and ticks
 * afterwards; an exception it throws goes to the process's uncaught-exception handling. */
void js_callback_call(napi_env env, const js_callback_t *cb, int32_t number);

/* Adds a function or an integer constant to the exports; false (exception pending) on failure. */
bool export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);
bool export_int(napi_env env, napi_value exports, const char *name, int value);

/* Each job's exports (see the file of the same name). */
bool register_udp_batch(napi_env env, napi_value exports);
bool register_upstream_udp(napi_env env, napi_value exports);
bool register_sd_notify(napi_env env, napi_value exports);
bool register_malloc_trim(napi_env env, napi_value exports);

#endif
