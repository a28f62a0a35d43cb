// A minimal EventSource over fetch, so tests can send the Authorization header and see comments.
import { waitFor } from './wait.js';

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: Headers;
  /** Live: appended as messages arrive. */
  messages: SseMessage[];
  /** Comment lines (keepalives), without the leading colon. */
  comments: string[];
  /** True once the server ended the stream. */
  readonly ended: boolean;
  next(predicate: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let ended = false;
  const client: SseClient = {
    status: response.status,
    headers: response.headers,
    messages,
    comments,
    get ended() {
      return ended;
    },
    next: (predicate, timeoutMs = 5000) => waitFor(() => messages.find(predicate), { timeoutMs, message: 'no matching SSE message' }),
    close: () => abort.abort(),
  };
  if (!response.body || response.status !== 200) return client;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          return;
        }
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          parseBlock(buffer.slice(0, end), messages, comments);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return client;
}

function parseBlock(block: string, messages: SseMessage[], comments: string[]): void {
  const message: SseMessage = { data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'id') message.id = value;
    else if (field === 'event') message.event = value;
  }
  if (data.length === 0) return;
  message.data = data.join('\n');
  messages.push(message);
}
