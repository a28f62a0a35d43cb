import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** 0 or undefined: a free port chosen by the OS. */
  port?: number;
  host?: string;
}

/** An in-process MQTT broker (aedes) so the demo runs without installing Mosquitto. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw new Error(`embedded broker: cannot listen on ${host}:${options.port ?? 0}: ${(err as Error).message}`);
  }
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    close: async () => {
      if (closed) return;
      closed = true;
      // Clients keep sockets open; aedes closes them, then the listener can finish.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
