/*
 * The privatelink-dns native addon: its module init and the helpers its job files share
 * (addon.h says which file holds which job, and how N-API failures are handled).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "addon.h"

bool call_failed(napi_env env, napi_status status, const char *call) {
  if (status == napi_ok) return false;
  /* Read first: the next N-API call overwrites it. The message is one of Node's static strings. */
  const napi_extended_error_info *info = NULL;
  const char *detail = NULL;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL) detail = info->error_message;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return true;
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s (napi_status %d)", call, detail ? detail : "no detail", (int)status);
  /* If even the throw fails, JavaScript cannot run any more: nobody is left to tell. */
  (void)napi_throw_error(env, "ENAPI", msg);
  return true;
}

napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  const char *code = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), code);
  (void)napi_throw_error(env, code, msg); /* as in call_failed */
  return NULL;
}

napi_value js_undefined(napi_env env) {
  napi_value v;
  NAPI_CHECK(env, napi_get_undefined(env, &v));
  return v;
}

napi_value js_int32(napi_env env, int32_t value) {
  napi_value v;
  NAPI_CHECK(env, napi_create_int32(env, value, &v));
  return v;
}

napi_value js_errno_name(napi_env env, int err) {
  napi_value v;
  NAPI_CHECK(env, napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &v));
  return v;
}

bool get_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *fn) {
  size_t got = argc;
  NAPI_CHECK_GOTO(env, napi_get_cb_info(env, info, &got, argv, NULL, NULL), fail);
  if (got < argc) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: %zu arguments expected", fn, argc);
    (void)napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
fail:
  return false;
}

bool buffer_arg(napi_env env, napi_value v, size_t min, void **data) {
  size_t len = 0;
  bool is_buffer = false;
  NAPI_CHECK_GOTO(env, napi_is_buffer(env, v, &is_buffer), fail);
  if (is_buffer) NAPI_CHECK_GOTO(env, napi_get_buffer_info(env, v, data, &len), fail);
  if (!is_buffer || len < min) {
    (void)napi_throw_range_error(env, NULL, "native addon: shared buffer missing or too small");
    return false;
  }
  return true;
fail:
  return false;
}

bool function_arg(napi_env env, napi_value v, const char *what) {
  napi_valuetype type;
  NAPI_CHECK_GOTO(env, napi_typeof(env, v, &type), fail);
  if (type != napi_function) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a function", what);
    (void)napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
fail:
  return false;
}

int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) return -1;
    *len = sizeof *sin;
    return 0;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  snprintf(buf, sizeof buf, "%s", host);
  char *scope = strchr(buf, '%');
  if (scope) {
    *scope++ = '\0';
    unsigned idx = if_nametoindex(scope);
    if (idx == 0) idx = (unsigned)strtoul(scope, NULL, 10);
    sin6->sin6_scope_id = idx;
  }
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) return -1;
  *len = sizeof *sin6;
  return 0;
}

/* ---- calling JavaScript from the event loop ------------------------------------------------ */

bool js_callback_init(napi_env env, js_callback_t *cb, napi_value fn, const char *resource_name, const napi_value *buffers, size_t n_buffers) {
  napi_value resource, name;
  for (size_t i = 0; i < n_buffers && i < JS_CALLBACK_BUFFERS; i++) NAPI_CHECK_GOTO(env, napi_create_reference(env, buffers[i], 1, &cb->buffers[i]), fail);
  NAPI_CHECK_GOTO(env, napi_create_reference(env, fn, 1, &cb->fn), fail);
  NAPI_CHECK_GOTO(env, napi_create_object(env, &resource), fail);
  NAPI_CHECK_GOTO(env, napi_create_reference(env, resource, 1, &cb->resource), fail);
  NAPI_CHECK_GOTO(env, napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name), fail);
  NAPI_CHECK_GOTO(env, napi_async_init(env, resource, name, &cb->async_ctx), fail);
  return true;
fail:
  return false;
}

void js_callback_release(napi_env env, js_callback_t *cb) {
  /* A failed delete or destroy leaves nothing to retry or undo, so their statuses are not used. */
  for (int i = 0; i < JS_CALLBACK_BUFFERS; i++) {
    if (cb->buffers[i]) (void)napi_delete_reference(env, cb->buffers[i]);
    cb->buffers[i] = NULL;
  }
  if (cb->fn) (void)napi_delete_reference(env, cb->fn);
  if (cb->resource) (void)napi_delete_reference(env, cb->resource);
  if (cb->async_ctx) (void)napi_async_destroy(env, cb->async_ctx);
  cb->fn = NULL;
  cb->resource = NULL;
  cb->async_ctx = NULL;
}

/* After a failed call from the event loop there is no JavaScript caller to throw to: the
 * exception (the one pending, or the one call_failed made) goes where an exception thrown by an
 * I/O callback goes. When that is impossible too, JavaScript cannot run any more. */
static void report_from_loop(napi_env env, napi_status status, const char *call) {
  if (!call_failed(env, status, call)) return;
  bool pending = false;
  napi_value err;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  if (napi_get_and_clear_last_exception(env, &err) != napi_ok) return;
  (void)napi_fatal_exception(env, err);
}

void js_callback_call(napi_env env, const js_callback_t *cb, int32_t number) {
  napi_handle_scope scope;
  napi_value fn, recv, arg, result;
  napi_status status = napi_open_handle_scope(env, &scope);
  if (status != napi_ok) {
    report_from_loop(env, status, "napi_open_handle_scope");
    return;
  }
  const char *call = "napi_get_reference_value";
  status = napi_get_reference_value(env, cb->fn, &fn);
  if (status == napi_ok) status = napi_get_reference_value(env, cb->resource, &recv);
  if (status == napi_ok) {
    call = "napi_create_int32";
    status = napi_create_int32(env, number, &arg);
  }
  if (status == napi_ok) {
    call = "napi_make_callback";
    status = napi_make_callback(env, cb->async_ctx, recv, fn, 1, &arg, &result);
  }
  report_from_loop(env, status, call);
  report_from_loop(env, napi_close_handle_scope(env, scope), "napi_close_handle_scope");
}

/* ---- exports ------------------------------------------------------------------------------- */

bool export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  NAPI_CHECK_GOTO(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn), fail);
  NAPI_CHECK_GOTO(env, napi_set_named_property(env, exports, name, fn), fail);
  return true;
fail:
  return false;
}

bool export_int(napi_env env, napi_value exports, const char *name, int value) {
  napi_value v;
  NAPI_CHECK_GOTO(env, napi_create_int32(env, value, &v), fail);
  NAPI_CHECK_GOTO(env, napi_set_named_property(env, exports, name, v), fail);
  return true;
fail:
  return false;
}

NAPI_MODULE_INIT() {
  if (!register_udp_batch(env, exports) || !register_upstream_udp(env, exports) || !register_sd_notify(env, exports) ||
      !register_malloc_trim(env, exports))
    return NULL; /* the require() throws the pending exception */
  return exports;
}
