// What both HTTP apps are before their routes: the server limits and security headers
// (hardening.ts), the access log, client addresses and https believed only from a proxy named in
// TRUST_PROXY, and JSON bodies checked strictly.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { fastifyLogging, logRequests, type Logger } from '../runtime/log.js';
import { harden, serverOptions, type ServerLimits } from './hardening.js';

export interface AppOptions {
  limits: ServerLimits;
  logger: Logger;
  /** Largest request body, when smaller than hardening.ts's BODY_LIMIT. */
  bodyLimit?: number;
}

export function createApp(name: 'api' | 'dashboard', config: Config, { limits, logger, bodyLimit }: AppOptions): FastifyInstance {
  const app = Fastify({
    ...serverOptions(limits),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    ...fastifyLogging(logger, name),
    // Client addresses (the failure limits) and https (links, Secure cookies) from X-Forwarded-*
    // only when they come from a proxy named in TRUST_PROXY.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    // Unknown properties are an error, not silently dropped, and types are never coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  harden(app, limits);
  logRequests(app);
  return app;
}
