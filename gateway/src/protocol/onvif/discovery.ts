/**
 * WS-Discovery client: multicast one Probe on one interface (by name, e.g. "lo", or by address) and collect the
 * ProbeMatches that come back within a time window, de-duplicated by endpoint. The Probe leaves only through
 * that interface (IP_MULTICAST_IF) with the TTL given (default 1: the local segment); the operator chooses the
 * interface (SE_ONVIF_DISCOVERY_INTERFACE), the gateway never probes every interface on its own.
 */
import { createSocket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { WS_DISCOVERY_ADDRESS, WS_DISCOVERY_PORT, buildProbe, parseProbeMatches, readScopes, type DiscoveredScopes } from '../../codecs/onvif/discovery.js';

export interface DiscoveredDevice {
  endpoint: string;
  xaddrs: string[];
  scopes: DiscoveredScopes;
  rawScopes: string[];
  types: string[];
  /** Where the answer came from (the address to reach the device at when its XAddrs name another). */
  from: string;
}

export interface DiscoverOptions {
  /** Interface name ("lo", "eth0") or an IPv4 address of this machine. */
  interface: string;
  timeoutMs: number;
  /** Multicast TTL. Default 1. */
  ttl?: number;
  /** Destination port (tests use a private one). Default 3702. */
  port?: number;
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

/** The IPv4 address of an interface name, or the address itself when one is given. */
export function interfaceAddress(nameOrAddress: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(nameOrAddress)) return nameOrAddress;
  const entries = networkInterfaces()[nameOrAddress];
  const v4 = entries?.find((e) => e.family === 'IPv4');
  if (!v4) throw new DiscoveryError(`interface ${JSON.stringify(nameOrAddress)} has no IPv4 address on this machine`);
  return v4.address;
}

export async function discoverOnvif(opts: DiscoverOptions): Promise<DiscoveredDevice[]> {
  const address = interfaceAddress(opts.interface);
  const timeoutMs = Math.max(100, Math.min(opts.timeoutMs, 30_000));
  const socket = createSocket({ type: 'udp4' });
  const found = new Map<string, DiscoveredDevice>();
  socket.on('message', (msg, rinfo) => {
    if (msg.length > 64 * 1024) return;
    for (const m of parseProbeMatches(msg.toString('utf8'))) {
      const key = m.endpoint || m.xaddrs.join(' ');
      if (found.has(key)) continue;
      found.set(key, { endpoint: m.endpoint, xaddrs: m.xaddrs, scopes: readScopes(m.scopes), rawScopes: m.scopes, types: m.types, from: rinfo.address });
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.setMulticastInterface(address);
    socket.setMulticastTTL(opts.ttl ?? 1);
    socket.setMulticastLoopback(true);
    const probe = Buffer.from(buildProbe(randomUUID()));
    await new Promise<void>((resolve, reject) => socket.send(probe, opts.port ?? WS_DISCOVERY_PORT, WS_DISCOVERY_ADDRESS, (err) => (err ? reject(err) : resolve())));
    await new Promise((r) => setTimeout(r, timeoutMs));
  } catch (err) {
    throw new DiscoveryError(`WS-Discovery on ${opts.interface} (${address}) failed: ${(err as Error).message}`);
  } finally {
    socket.close();
  }
  return [...found.values()];
}
