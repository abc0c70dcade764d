// Who may call a route: the API token (for the API), a signed-in session (for the dashboard), and
// for the dashboard's state-changing requests, a page of its own origin. Each works as a fastify
// hook (a refusal is a 4xx {error, message} and the route never runs); the API token guard is also
// called from inside the few handlers whose routes are public unless configured otherwise.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiAuth } from './auth.js';
import { SESSION_COOKIE, type Sessions } from './sessions.js';

/** A hook's verdict: the refusal it sent, or nothing when the request may go on. */
export type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/** The API token in X-API-Key or Authorization: Bearer; failures are limited per source (429). */
export function apiTokenGuard(auth: ApiAuth): Guard {
  return async function requireToken(req, reply) {
    const source = req.ip;
    if (auth.blocked(source)) {
      return reply.code(429).header('retry-after', '60').send({ error: 'rate_limited', message: 'too many failed attempts; wait a minute' });
    }
    if (!auth.matches(ApiAuth.presented(req.headers))) {
      auth.recordFailure(source);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="wgvm"')
        .send({ error: 'unauthorized', message: 'a valid API token is needed in X-API-Key or Authorization: Bearer' });
    }
    return undefined;
  };
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The session a request presents in its cookie, if any. */
export const sessionOf = (req: FastifyRequest): string | undefined => cookieValue(req.headers.cookie, SESSION_COOKIE);

/** A live session, which then counts as used. */
export function sessionGuard(sessions: Sessions): Guard {
  return async function signedIn(req, reply) {
    if (!sessions.touch(sessionOf(req))) return reply.code(401).send({ error: 'unauthorized', message: 'sign in first' });
    return undefined;
  };
}

// A page on another site can make the browser send requests here; the Origin header says whose
// page it is. Browsers always send it with POST and DELETE.
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  return typeof origin === 'string' && typeof host === 'string' && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Anything but GET and HEAD must come from the dashboard's own page. */
export const sameOriginGuard: Guard = async function fromOwnPage(req, reply) {
  if (req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req)) {
    return reply.code(403).send({ error: 'forbidden', message: 'this request did not come from the dashboard page (Origin does not match)' });
  }
  return undefined;
};
