// Signing in to the dashboard and out again, with the API token or ADMIN_PASSWORD_HASH's password.
// The session is an HttpOnly, SameSite=Strict cookie (sessions.ts holds them); failed sign-ins are
// limited per source address.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { parsePasswordHash, verifyPassword, type PasswordHash } from '../domain/password.js';
import { ApiAuth, FailureLimiter } from './auth.js';
import { sessionOf } from './guards.js';
import { signInBody, type SignInBody } from './schemas.js';
import { SESSION_COOKIE, type Sessions } from './sessions.js';
import type { SessionState } from './views.js';

/** Password checks (scrypt, 32 MiB each) running at once; more sign-ins wait (429). */
const MAX_CONCURRENT_VERIFICATIONS = 2;

export interface SessionRoutesOptions {
  sessions: Sessions;
  apiToken: string;
  /** ADMIN_PASSWORD_HASH, when a password may sign in too. */
  passwordHash: string | null;
  /** Failed sign-ins allowed per source address per minute. */
  maxFailures: number;
  /** After a sign-out: that session's open event streams end. */
  signedOut: () => void;
}

// Secure when the page came over https (directly, or through a proxy named in TRUST_PROXY): the
// browser then never sends the session over plain http.
function sessionCookie(req: FastifyRequest, value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${req.protocol === 'https' ? '; Secure' : ''}`;
}

type Verdict = 'signed-in' | 'wrong' | 'blocked' | 'busy';

/** Whether a sign-in secret is the API token or the admin password, with failures limited per source. */
class SecretCheck {
  private readonly token: ApiAuth;
  private readonly password: PasswordHash | null;
  private readonly failures: FailureLimiter;
  private verifying = 0;

  constructor(o: SessionRoutesOptions) {
    this.token = new ApiAuth(o.apiToken);
    this.password = o.passwordHash ? parsePasswordHash(o.passwordHash) : null;
    this.failures = new FailureLimiter(o.maxFailures);
  }

  get passwordEnabled(): boolean {
    return this.password !== null;
  }

  async check(secret: string, source: string): Promise<Verdict> {
    if (this.failures.blocked(source)) return 'blocked';
    if (this.token.matches(secret)) return 'signed-in';
    if (this.password === null) {
      this.failures.recordFailure(source);
      return 'wrong';
    }
    // scrypt takes a while and 32 MiB: attempts in flight count as failures until they pass (so
    // parallel guesses meet the limit too), and only a few run at once.
    if (this.verifying >= MAX_CONCURRENT_VERIFICATIONS) return 'busy';
    this.failures.recordFailure(source);
    this.verifying++;
    try {
      if (!(await verifyPassword(secret, this.password))) return 'wrong';
    } finally {
      this.verifying--;
    }
    this.failures.forgive(source);
    return 'signed-in';
  }
}

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (app, o) => {
  const { sessions } = o;
  const secrets = new SecretCheck(o);

  app.get('/api/session', async (req): Promise<SessionState> => ({ signed_in: sessions.touch(sessionOf(req)), password_enabled: secrets.passwordEnabled }));

  app.post<{ Body: SignInBody }>('/api/session', { schema: { body: signInBody } }, async (req, reply) => {
    switch (await secrets.check(req.body.secret, req.ip)) {
      case 'blocked':
        return reply.code(429).header('retry-after', '60').send({ error: 'rate_limited', message: 'too many failed sign-ins from this address; wait a minute' });
      case 'busy':
        return reply.code(429).header('retry-after', '1').send({ error: 'rate_limited', message: 'too many sign-ins at once; try again in a moment' });
      case 'wrong':
        return reply.code(401).send({ error: 'unauthorized', message: secrets.passwordEnabled ? 'wrong password or API token' : 'wrong API token' });
      case 'signed-in':
        return reply.code(204).header('set-cookie', sessionCookie(req, sessions.create(), sessions.maxAgeSeconds)).send();
    }
  });

  app.delete('/api/session', async (req, reply) => {
    sessions.end(sessionOf(req));
    o.signedOut();
    return reply.code(204).header('set-cookie', sessionCookie(req, '', 0)).send();
  });
};
