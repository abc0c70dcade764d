// The control plane's layering (README, Layout): each directory of src/ has a rank, and a module
// imports only from its own directory or from directories of a lower rank — never from one above
// it, never from a sibling of the same rank. cli.ts, the entry point, is the only file at the top.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

const LAYERS: readonly (readonly string[])[] = [
  ['domain'], // the node model, names, keys, addresses, install data, errors: imports nothing of ours
  ['config', 'store', 'render', 'dataplane'],
  ['runtime', 'uapi', 'paths'],
  ['nodes'],
  ['http', 'migrate', 'bench', 'daemon', 'dns'],
  ['hub'],
  ['cli.ts'],
];
const rankOf = new Map(LAYERS.flatMap((names, rank) => names.map((name) => [name, rank] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The directory of src/ a path lies in (or the file's own name at the top). */
const unitOf = (path: string) => relative(SRC, path).split(sep)[0]!;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
  return specifiers.map((s) => resolve(file, '..', s));
}

describe('the layers of src/', () => {
  const files = sources(SRC);

  it('has a rank for every directory, and only cli.ts at the top', () => {
    const units = [...new Set(files.map(unitOf))].sort();
    expect(units.filter((u) => !rankOf.has(u))).toEqual([]);
  });

  it('imports only downwards: nothing from a directory above, nothing between siblings', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = unitOf(file);
      for (const target of importsOf(file)) {
        const to = unitOf(target);
        if (to === from) continue;
        if (to.startsWith('..') || !(rankOf.get(to)! < rankOf.get(from)!)) {
          wrong.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
