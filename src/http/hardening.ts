// What every HTTP app of the hub applies to itself: security headers on every answer, bounds on
// bodies, connections and time, and a record of its routes (so tests can walk every one of them).
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { RegistryError } from '../domain/errors.js';

/** The largest request body any route takes (a registration is well under 1 KiB). */
export const BODY_LIMIT = 64 * 1024;

/** Limits on the HTTP server itself: slow or idle clients cannot hold connections for long. */
export interface ServerLimits {
  /** A socket with no traffic for this long is closed. */
  idleTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this time; else 408. */
  requestTimeoutMs: number;
  /** The request headers must arrive within this time (slowloris). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Requests served on one keep-alive connection before it is closed. */
  maxRequestsPerSocket: number;
  /** Open connections at once; more are refused until some close. */
  maxConnections: number;
  /** How often the header and request deadlines are checked. */
  checkIntervalMs: number;
  /** Largest request head (request line and headers); larger gets 431. */
  maxHeaderBytes: number;
}

export const SERVER_LIMITS: ServerLimits = {
  idleTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1000,
  maxConnections: 1024,
  checkIntervalMs: 5_000,
  maxHeaderBytes: 16 * 1024,
};

/**
 * The management API's: every worker agent holds one long poll open (docs/agent-protocol.md), so the
 * API takes a connection per agent and some to spare; each is a file descriptor (deploy/wgvm.service
 * raises LimitNOFILE).
 */
export const API_SERVER_LIMITS: ServerLimits = { ...SERVER_LIMITS, maxConnections: 12_000 };

/** Fastify's constructor options for these limits. */
export function serverOptions(limits: ServerLimits) {
  return {
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    bodyLimit: BODY_LIMIT,
    connectionTimeout: limits.idleTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
  } satisfies FastifyServerOptions & { http: object };
}

// Our own pages load scripts and styles only from this origin, and nothing may frame them.
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// Anything that is not a page (JSON, configs, installers) runs nothing if a browser opens it.
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * The Swagger UI's own CSP (made by @fastify/swagger-ui, hashes pinned) with framing forbidden and
 * without upgrade-insecure-requests (the hub is often reached over plain http).
 */
export function docsCsp(generated: string): string {
  return `${generated
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d && !d.startsWith('frame-ancestors') && !d.startsWith('upgrade-insecure-requests'))
    .join('; ')}; frame-ancestors 'none'`;
}

export interface RouteEntry {
  method: string;
  url: string;
  /** Whether the route declares a body schema. */
  hasBody: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route `app` has, as registered (HEAD routes fastify adds included). */
export function routesOf(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

/**
 * Call right after creating the app, before any route: records routes, applies the server limits and
 * adds the security headers. Secrets travel only in answers marked no-store (everything under /api
 * and /install), so no proxy or browser keeps a copy.
 */
export function harden(app: FastifyInstance, limits: ServerLimits): void {
  const routes: RouteEntry[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, hasBody: Boolean(r.schema?.body) });
  });
  app.server.maxConnections = limits.maxConnections;

  // A route that takes no body refuses one rather than ignore it: what a client sent is what is acted on.
  app.addHook('preValidation', async (req, reply) => {
    if (req.routeOptions.schema?.body) return;
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) {
      return reply.code(400).send({ error: 'bad_request', message: 'this route takes no request body' });
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    if (!reply.hasHeader('content-security-policy')) {
      const html = /^text\/html/.test(String(reply.getHeader('content-type') ?? ''));
      reply.header('content-security-policy', html ? PAGE_CSP : DATA_CSP);
    }
    const path = req.url.split('?')[0]!;
    if (path.startsWith('/api/') || path.startsWith('/install/')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

const STATUS_CODES: Record<RegistryError['code'], number> = {
  duplicate: 409,
  range_full: 409,
  not_found: 404,
  invalid: 400,
  gone: 410,
  rate_limited: 429,
  limit: 409,
  unavailable: 503,
};

/** The HTTP status a registry mistake answers with. */
export const httpStatusOf = (err: RegistryError): number => STATUS_CODES[err.code];

/**
 * A client mistake is a 4xx with `{error, message, field?}` and changes nothing; anything else is a
 * 500 that says no more than "internal error" (the details go to the log, never to the client).
 */
export function answerErrors(app: FastifyInstance, label: string): void {
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    if (err instanceof RegistryError) {
      if (err.code === 'rate_limited') reply.header('retry-after', '60');
      if (err.code === 'unavailable') reply.header('retry-after', '5');
      return reply.code(STATUS_CODES[err.code]).send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) });
    }
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: 'too_large', message: `the body is over ${BODY_LIMIT} bytes` });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
    }
    req.log.error({ err }, `${label} internal error`);
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such route' }));
}
