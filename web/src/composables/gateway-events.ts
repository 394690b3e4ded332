/** The gateway's event WebSocket (/api/ws), one per page, opened while a (non-guest) user is signed in. */
import { watch } from 'vue';
import { LiveSocket, socketUrl } from '../api/event-socket';
import { auth } from './auth';

let socket: LiveSocket | null = null;

export function gatewayEvents(): LiveSocket {
  if (!socket) {
    socket = new LiveSocket(() => {
      const current = auth.state.current;
      return current && current.role !== 'guest' ? socketUrl('/api/ws', { token: current.token }) : null;
    });
    // Signing out closes it; signing in again opens a fresh one with the new token.
    watch(
      () => auth.state.current?.token,
      () => {
        socket?.close();
        socket = null;
      },
    );
  }
  return socket;
}
