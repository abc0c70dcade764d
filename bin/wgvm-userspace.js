#!/usr/bin/env node
// `wgvm-userspace [-f|--foreground] <iface>`: the same as `wgvm up`, in the shape wg-quick expects of a
// userspace implementation (WG_QUICK_USERSPACE_IMPLEMENTATION=wgvm-userspace).
process.argv.splice(2, 0, 'up');
await import('./wgvm.js');
