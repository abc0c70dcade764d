#!/usr/bin/env node
// Entry point of the `wgvm` command; the code lives in dist/ (compiled from src/ by `npm run build`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('wgvm: not built yet: run "npm run build" in the project directory\n');
  process.exit(1);
}
const { main } = await import(cli.href);
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // An unexpected failure: one line for the user; the stack only when asked for.
  process.stderr.write(`wgvm: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.WGVM_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
  process.exitCode = 70;
}
