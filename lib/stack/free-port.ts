// Ports for the servers we start (nats-server members, the publisher's stand-ins, k6's REST API).
// A port is chosen first and bound later by another process, sometimes seconds later; a port from
// the kernel's ephemeral range (what listen(0) hands out) can meanwhile become the local end of any
// outgoing connection — nats routes, clients — and the bind then fails (seen in CI: k6's
// `--address`, "bind: address already in use", exit 106). Ports below that range are only ever
// taken by an explicit bind, so one that is free now stays free.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10_000;
const handedOut = new Set<number>();

/** The kernel's ephemeral port range (Linux), or the IANA default where it cannot be read. */
export function ephemeralPortRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi)
      return [lo, hi];
  } catch {
    // not Linux: fall through
  }
  return [49_152, 65_535];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A port on 127.0.0.1 that is free now, outside the ephemeral range, and not handed out before. */
export async function freePort(): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = ephemeralPortRange();
  const [low, high] = ephemeralLow - LOWEST >= 1000 ? [LOWEST, ephemeralLow - 1] : [ephemeralHigh + 1, 65_535];
  for (let attempt = 0; high > low && attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  return anyPort(); // a crowded machine: the ephemeral range is better than nothing
}
