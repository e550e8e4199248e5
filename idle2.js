require('node:dgram'); require('node:http'); require('node:crypto'); require('node:zlib');require('node:perf_hooks'); require('node:worker_threads');
setTimeout(()=>{},1e5)
