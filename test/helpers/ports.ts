// A TCP port nothing listens on right now (the kernel's pick), for servers a test starts.
import { createServer } from 'node:net';

export function freePort(host = '::'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
