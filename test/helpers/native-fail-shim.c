/*
 * Test-only stand-ins for the two libuv calls that start the addon's poll handles, compiled into
 * a test copy of the addon (test/native/addon-failure-paths.test.ts) with
 * -Duv_poll_init=shim_uv_poll_init -Duv_poll_start=shim_uv_poll_start. The call named by
 * $PLDNS_TEST_FAIL fails with UV_ENOMEM; any other goes to libuv. That reaches the failure paths
 * of open() and upOpen() after the socket, the references and the async context exist, which a
 * real system does not produce on demand.
 */
#undef uv_poll_init
#undef uv_poll_start
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int failing(const char *call) {
  const char *which = getenv("PLDNS_TEST_FAIL");
  return which != NULL && strcmp(which, call) == 0;
}

int shim_uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd) {
  return failing("uv_poll_init") ? UV_ENOMEM : uv_poll_init(loop, handle, fd);
}

int shim_uv_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb) {
  return failing("uv_poll_start") ? UV_ENOMEM : uv_poll_start(handle, events, cb);
}
