/**
 * Fleet mode's modules (src/fleet/loader.ts), required only by a config with `transfer` or
 * `primaries`: a standalone daemon never loads them. Only their types are imported statically.
 */
export function fleet(): typeof import('../fleet/loader') {
  return require('../fleet/loader');
}
