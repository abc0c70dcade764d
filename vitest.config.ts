import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'web/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Namespace and interop tests share /var/run/wireguard and the host's network stack.
    fileParallelism: false,
  },
});
