/**
 * A WebSocket that stays connected: reconnects with capped back-off, exposes its state so every screen can
 * show it (an operator must see when the alarm list is no longer live), and dispatches `{ type, data }`
 * messages to typed handlers. Used for the gateway's event socket and for consultation sessions.
 */
import { ref, type Ref } from 'vue';

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SocketMessage {
  type: string;
  data: unknown;
}

type Handler = (data: unknown) => void;

export class LiveSocket {
  readonly state: Ref<SocketState> = ref('connecting');
  /** Set on every (re)connect, so screens can reload what they may have missed. */
  readonly connectedAt: Ref<number | null> = ref(null);
  private socket: WebSocket | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly url: () => string | null) {
    this.connect();
  }

  on(type: string, handler: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  send(type: string, data: unknown): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({ type, data }));
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.socket = null;
    this.state.value = 'closed';
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.url();
    if (!url) {
      this.state.value = 'closed';
      return;
    }
    this.state.value = this.attempt === 0 ? 'connecting' : 'reconnecting';
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.state.value = 'open';
      this.connectedAt.value = Date.now();
    };
    socket.onmessage = (event) => {
      let message: SocketMessage;
      try {
        message = JSON.parse(String(event.data)) as SocketMessage;
      } catch {
        return;
      }
      for (const handler of this.handlers.get(message.type) ?? []) handler(message.data);
      for (const handler of this.handlers.get('*') ?? []) handler(message);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      this.state.value = 'reconnecting';
      const delay = Math.min(10_000, 500 * 2 ** this.attempt++);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }
}

/** ws:// or wss:// URL of a gateway path on the page's own origin. */
export function socketUrl(path: string, query: Record<string, string>): string {
  const origin = location.origin.replace(/^http/, 'ws');
  return `${origin}${path}?${new URLSearchParams(query).toString()}`;
}
