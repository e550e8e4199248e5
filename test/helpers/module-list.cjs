// Preloaded into a daemon by test/e2e/startup-modules.test.ts: on SIGUSR2 it writes the paths of
// every module loaded so far, one a line, to $PLDNS_MODULE_LIST.
const { writeFileSync } = require('node:fs');
process.on('SIGUSR2', () => {
  writeFileSync(process.env.PLDNS_MODULE_LIST, Object.keys(require.cache).join('\n'));
});
