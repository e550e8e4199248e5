import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read once from package.json next to dist/ (this file is dist/cli/version.js). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
