// Data-plane processes start with OpenSSL's AVX-512 IFMA Poly1305 masked (src/dataplane/openssl-env.ts),
// unless the admin chose a mask; every way we ship to start one uses the same value.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataPlaneEnv, OPENSSL_CPU_MASK } from '../../src/dataplane/openssl-env.js';

const file = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('data-plane OpenSSL environment', () => {
  it('masks only the IFMA bit of the extended feature word, keeping what OpenSSL detects otherwise', () => {
    // OPENSSL_ia32cap(3): an empty first word keeps the detected one; "~" clears the listed bits.
    expect(OPENSSL_CPU_MASK).toBe(':~0x200000');
    expect(dataPlaneEnv({ PATH: '/usr/bin' })).toEqual({ PATH: '/usr/bin', OPENSSL_ia32cap: ':~0x200000' });
  });

  it("keeps an admin's own value, even an empty one, and does not touch the caller's object", () => {
    const env = { OPENSSL_ia32cap: '~0x0' };
    expect(dataPlaneEnv(env)).toBe(env);
    expect(dataPlaneEnv({ OPENSSL_ia32cap: '' }).OPENSSL_ia32cap).toBe('');
    const plain: NodeJS.ProcessEnv = {};
    dataPlaneEnv(plain);
    expect(plain).toEqual({});
  });

  it('the Docker image, the systemd unit and npm start set the same mask', () => {
    expect(file('Dockerfile')).toContain(`OPENSSL_ia32cap=${OPENSSL_CPU_MASK} \\`);
    expect(file('deploy/wgvm.service')).toMatch(new RegExp(`^Environment=OPENSSL_ia32cap=${OPENSSL_CPU_MASK}$`, 'm'));
    const start = JSON.parse(file('package.json')).scripts.start as string;
    expect(start).toBe(`OPENSSL_ia32cap=\${OPENSSL_ia32cap-${OPENSSL_CPU_MASK}} exec node bin/wgvm.js serve`);
  });
});
