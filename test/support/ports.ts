import { createServer } from 'node:net';

/**
 * Ask the OS for a currently free TCP port on 127.0.0.1 (listen on port 0, read the port, close).
 * There is an inherent race between closing and the caller binding it; callers that bind
 * (e.g. the test broker) retry with a fresh port if the bind fails.
 */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
