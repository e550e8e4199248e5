/*
 * Gives freed heap memory back to the kernel: glibc keeps what a burst freed in its arenas (the
 * V8 helper threads' arenas grow during a flood of cache misses: ~12 MB of RSS that stayed after
 * the flood, measured with gdb calling malloc_trim on the running daemon). Elsewhere a no-op.
 */
#define _GNU_SOURCE
#include "addon.h" /* first: its C headers define __GLIBC__ */
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* trimMemory() -> true when memory was released */
static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value v;
  NAPI_CHECK(env, napi_get_boolean(env, released != 0, &v));
  return v;
}

bool register_malloc_trim(napi_env env, napi_value exports) {
  return export_fn(env, exports, "trimMemory", js_trim_memory);
}
