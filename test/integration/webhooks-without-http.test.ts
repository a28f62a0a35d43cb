import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signBody } from '../../src/api/webhooks.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { siteStack, type SiteStack } from '../support/site-stack.js';
import { waitFor } from '../support/wait.js';

describe('webhooks with the HTTP API switched off', () => {
  let broker: TestBroker;
  let stack: SiteStack;
  let receiver: Server;
  const received: Array<{ body: string; signature: string | undefined }> = [];

  beforeAll(async () => {
    broker = await startBroker();
    // A back-end's webhook endpoint, played by a local HTTP server.
    receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const header = req.headers[SIGNATURE_HEADER.toLowerCase()];
        received.push({ body, signature: Array.isArray(header) ? header[0] : header });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    stack = await siteStack(broker.url, { webhooks: [{ url: `http://127.0.0.1:${port}/hook`, secret: 's3cret' }] });
  });
  afterAll(async () => {
    await stack.close();
    await new Promise((resolve) => receiver.close(resolve));
    await broker.stop();
  });

  it('still delivers signed action events', async () => {
    expect(stack.app.http).toBeUndefined();
    const result = stack.app.service.requestAction('evse_1', { type: 'release' }, 'api');
    if (!result.ok) throw new Error(result.message);
    const { action } = result;
    const hit = await waitFor(() => received.find((r) => r.body.includes(action.id) && r.body.includes('"completed"')), { message: 'webhook for the completed action' });
    expect(hit.signature).toBe(signBody(hit.body, 's3cret'));
  });
});
