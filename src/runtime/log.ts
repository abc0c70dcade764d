// The hub's log: JSON lines (pino, as fastify uses it) on stderr, with a level (LOG_LEVEL) and one
// access-log line per HTTP request. Secrets never reach it: request headers are not logged at all
// (API tokens, cookies), install tokens are cut out of URLs, and the redaction below is a second
// line of defence for anything that logs a header object anyway. stdout stays free for what the
// admin must see once (the generated API token).
import { createRequire } from 'node:module';
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import type { SonicBoom as SonicBoomStream } from 'sonic-boom';
import type { LogLevel } from '../config/index.js';

// sonic-boom is CommonJS whose module.exports is the class (its types call it a default export).
const SonicBoom = createRequire(import.meta.url)('sonic-boom') as typeof SonicBoomStream;

export type { Logger };

const REDACTED = '[redacted]';

/** The URL with install tokens (the path /install/<token>…, a `token=` query) replaced. */
export function redactUrl(url: string): string {
  return url
    .replace(/^\/install\/[^/?#]+/, `/install/${REDACTED}`)
    .replace(/([?&]token=)[^&#]*/gi, `$1${REDACTED}`);
}

export function createLogger(level: LogLevel, destination: NodeJS.WritableStream | number = 2): Logger {
  const stream = typeof destination === 'number' ? fdStream(destination) : destination;
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers["x-api-key"]', 'headers.cookie'],
        censor: REDACTED,
      },
    },
    stream,
  );
}

// Asynchronous: a slow or stuck reader of stderr (a full pipe) must not stop the event loop. Up to
// 16 MiB waits in memory; beyond that lines are dropped rather than the hub blocking. A reader that
// went away (EPIPE, a closed descriptor) costs the log, never the hub. A SonicBoom of our own rather
// than pino.destination(): pino's would also flush synchronously at exit, which a stuck reader turns
// into a process that never exits.
function fdStream(fd: number): SonicBoomStream {
  const stream = new SonicBoom({ fd, sync: false, maxLength: 16 << 20 });
  stream.on('error', () => {});
  return stream;
}

/** Writes what waits (the last lines before an exit), for at most `ms`. */
export function flushLog(logger: Logger, ms = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** fastify's own options for a logger of ours: one line per request (below), no header ever. */
export function fastifyLogging(logger: Logger, app: string) {
  return {
    // pino's Logger is what fastify wants; its type carries more than FastifyBaseLogger names.
    loggerInstance: logger.child({ app }) as unknown as FastifyBaseLogger,
    // fastify's own request lines are off: logRequests writes ours.
    logController: new LogController({ disableRequestLogging: true }),
  };
}

/** The access log: one line per answered request, at info (4xx at info too, 5xx at error). */
export function logRequests(app: FastifyInstance): void {
  app.addHook('onResponse', async (req: FastifyRequest, reply) => {
    const line = {
      method: req.method,
      url: redactUrl(req.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ip: req.ip,
    };
    if (reply.statusCode >= 500) req.log.error(line, 'request');
    else req.log.info(line, 'request');
  });
}
