// The dashboard's built front end (dist/web), read into memory once: a handful of small files.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

export interface StaticFile {
  body: Buffer;
  type: string;
  /** Vite puts a content hash in every name under assets/: those may be cached for good. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Every file under `dir` by URL path ("/index.html", "/assets/index-3f2a.js"); null if no bundle. */
export function loadStaticFiles(dir: string): Map<string, StaticFile> | null {
  let names: string[];
  try {
    if (!statSync(join(dir, 'index.html')).isFile()) return null;
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return null;
  }
  const files = new Map<string, StaticFile>();
  for (const name of names) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const url = `/${relative(dir, path).split(sep).join('/')}`;
    files.set(url, {
      body: readFileSync(path),
      type: TYPES[extname(name)] ?? 'application/octet-stream',
      immutable: url.startsWith('/assets/'),
    });
  }
  return files;
}
