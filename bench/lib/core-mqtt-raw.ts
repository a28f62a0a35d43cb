// Hand-encoded MQTT 3.1.1 over a bare TCP socket, for the two places where mqtt.js itself would be
// the thing measured: the burst publisher (it must outrun any subscriber, so the packets are encoded
// once and written as one buffer) and the "broker ceiling" subscriber (it only counts frames, so it
// shows how fast Mosquitto can deliver at all, independent of any client library).
import { connect, type Socket } from 'node:net';

const PUBLISH = 3;
const CONNACK = 2;
const SUBACK = 9;

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  let x = n;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    bytes.push(byte);
  } while (x > 0);
  return Buffer.from(bytes);
}

function utf8Field(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export function connectPacket(clientId: string): Buffer {
  // Keepalive 0: the bursts are short and a PINGREQ in the middle would only add noise.
  const variable = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0x02, 0, 0])]);
  return packet(0x10, Buffer.concat([variable, utf8Field(clientId)]));
}

export function publishPacket(topic: string, payload: string): Buffer {
  return packet(0x30, Buffer.concat([utf8Field(topic), Buffer.from(payload, 'utf8')]));
}

export function subscribePacket(packetId: number, filters: readonly string[]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  return packet(0x82, Buffer.concat([id, ...filters.map((f) => Buffer.concat([utf8Field(f), Buffer.from([0])]))]));
}

export const DISCONNECT_PACKET = Buffer.from([0xe0, 0]);

/**
 * Streaming frame splitter that never copies packet bodies: it reads the fixed header and then skips the
 * body, so its per-message cost is a handful of byte reads and a callback.
 */
export class FrameCounter {
  private head: number[] = [];
  private skip = 0;

  constructor(private readonly onPacket: (type: number) => void) {}

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const s = Math.min(this.skip, n - i);
        this.skip -= s;
        i += s;
        continue;
      }
      const byte = chunk[i++] ?? 0;
      this.head.push(byte);
      if (this.head.length === 1) continue;
      if (byte & 0x80 && this.head.length < 5) continue;
      let len = 0;
      let mult = 1;
      for (let k = 1; k < this.head.length; k++) {
        len += ((this.head[k] ?? 0) & 0x7f) * mult;
        mult *= 128;
      }
      const type = (this.head[0] ?? 0) >> 4;
      this.head = [];
      this.skip = len;
      this.onPacket(type);
    }
  }
}

export interface RawConnection {
  socket: Socket;
  /** Replaced by the caller to see every packet type after CONNACK. */
  onPacket: (type: number) => void;
  close(): Promise<void>;
}

/** Opens a TCP connection, sends CONNECT and resolves after CONNACK. */
export function rawConnect(url: string, clientId: string, timeoutMs = 5000): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise<RawConnection>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw MQTT connect to ${url}: no CONNACK within ${timeoutMs} ms`));
    }, timeoutMs);
    const conn: RawConnection = {
      socket,
      onPacket: () => undefined,
      close: () =>
        new Promise<void>((done) => {
          if (socket.destroyed) return done();
          socket.once('close', () => done());
          socket.end(DISCONNECT_PACKET);
        }),
    };
    let connected = false;
    const counter = new FrameCounter((type) => {
      if (!connected) {
        if (type !== CONNACK) return;
        connected = true;
        clearTimeout(timer);
        resolve(conn);
        return;
      }
      conn.onPacket(type);
    });
    socket.on('data', (chunk: Buffer) => counter.push(chunk));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(connectPacket(clientId));
  });
}

/** Subscribes (QoS 0) and resolves on SUBACK; afterwards `onPublish` sees each PUBLISH. */
export function rawSubscribe(conn: RawConnection, filters: readonly string[], onPublish: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    conn.onPacket = (type) => {
      if (type === PUBLISH) onPublish();
      else if (type === SUBACK) resolve();
    };
    conn.socket.write(subscribePacket(1, filters));
  });
}
