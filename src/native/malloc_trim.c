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

/*
 * holdTrimThreshold(bytes) -> true when set. glibc raises its trim threshold (up to 64 MB) each
 * time a large block it had mmapped is freed, and a helper thread's arena hands the free memory at
 * its top back only above that threshold (malloc_trim does not trim those tops): after a hub's
 * start at 10,000 names the V8 helper threads' arenas kept ~7 MB that way. Setting the threshold
 * fixes it (and the mmap threshold at its 128 KB default), so a freed top above it goes back at once.
 */
static napi_value js_hold_trim_threshold(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "holdTrimThreshold")) return NULL;
  int64_t bytes = 0;
  NAPI_CHECK(env, napi_get_value_int64(env, argv[0], &bytes));
  int set = 0;
#ifdef __GLIBC__
  if (bytes > 0 && bytes <= INT32_MAX) set = mallopt(M_TRIM_THRESHOLD, (int)bytes);
#endif
  napi_value v;
  NAPI_CHECK(env, napi_get_boolean(env, set != 0, &v));
  return v;
}

bool register_malloc_trim(napi_env env, napi_value exports) {
  return export_fn(env, exports, "trimMemory", js_trim_memory) && export_fn(env, exports, "holdTrimThreshold", js_hold_trim_threshold);
}
