/* Helpers shared by the addon's source files (udp_batch.c holds the module init). */
#ifndef PLDNS_ADDON_H
#define PLDNS_ADDON_H

#include <stdint.h>
#include <sys/socket.h>
#include <node_api.h>

/* Throws an Error whose code is the errno name (EADDRINUSE, ...); returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *what);
napi_value undefined(napi_env env);
/* The data of a Buffer argument of at least `min` bytes; throws and returns -1 otherwise. */
int buffer_arg(napi_env env, napi_value v, size_t min, void **data);
/* "1.2.3.4" / "fe80::1%eth0" and a port into a sockaddr; -1 when the text does not parse. */
int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);
void set_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);
void set_int(napi_env env, napi_value exports, const char *name, int value);
/* Calls the JavaScript function behind `cb` with one number, as an I/O callback of `resource`. */
void call_js(napi_env env, napi_async_context ctx, napi_ref resource, napi_ref cb, int32_t number);

/* upstream_udp.c: adds upOpen, upSend, upRelease, upClose and their constants to the exports. */
void register_upstream(napi_env env, napi_value exports);
/* malloc_trim.c: adds trimMemory. */
void register_malloc_trim(napi_env env, napi_value exports);

#endif
