// The dashboard's built front end (dist/web), served with its own Content-Security-Policy: no inline
// script or style anywhere, no framing, nothing fetched from elsewhere.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { loadStaticFiles, type StaticFile } from './static-files.js';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

// The page's own CSP (harden() leaves a CSP that is already set alone).
function sendFile(reply: FastifyReply, f: StaticFile): FastifyReply {
  return reply
    .type(f.type)
    .header('content-security-policy', f.type.startsWith('text/html') ? DASHBOARD_CSP : "default-src 'none'; frame-ancestors 'none'")
    .header('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .send(f.body);
}

/** The page at /, its files by path, and /health. */
export const pageRoutes: FastifyPluginAsync<{ webDir: string }> = async (app, { webDir }) => {
  const files = loadStaticFiles(webDir);
  app.get('/', async (_req, reply) => {
    const index = files?.get('/index.html');
    if (!index) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run "npm run build" (it writes dist/web).\n');
    }
    return sendFile(reply, index);
  });
  app.get('/*', async (req, reply) => {
    const f = files?.get(new URL(req.url, 'http://x').pathname);
    if (!f || f.type.startsWith('text/html')) return reply.code(404).send({ error: 'not_found', message: 'no such file' });
    return sendFile(reply, f);
  });
  app.get('/health', async () => ({ status: 'ok' }));
};
