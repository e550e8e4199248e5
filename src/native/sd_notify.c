/*
 * Readiness datagrams for systemd: one sd_notify(3) message ("READY=1", "STOPPING=1",
 * "WATCHDOG=1") to $NOTIFY_SOCKET, a unix datagram socket that Node's dgram cannot address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

/* notify(socketPath, message) -> undefined, or the errno name. A path starting with '@' is in the
 * abstract namespace. */
static napi_value js_notify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "notify")) return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  char message[256];
  size_t path_len = 0, message_len = 0;
  NAPI_CHECK(env, napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &path_len));
  NAPI_CHECK(env, napi_get_value_string_utf8(env, argv[1], message, sizeof message, &message_len));
  if (path_len == 0 || path_len >= sizeof addr.sun_path - 1) return js_errno_name(env, ENAMETOOLONG);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + (addr.sun_path[0] == '\0' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return js_errno_name(env, errno);
  ssize_t r;
  do r = sendto(fd, message, message_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  while (r < 0 && errno == EINTR);
  int err = errno;
  close(fd); /* the socket opened just above */
  return r >= 0 ? js_undefined(env) : js_errno_name(env, err);
}

bool register_sd_notify(napi_env env, napi_value exports) {
  return export_fn(env, exports, "notify", js_notify);
}
