// freePort hands out ports an outgoing connection cannot take before their server binds them.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ephemeralPortRange, freePort } from '../../lib/stack/free-port.ts';

describe('freePort', () => {
  it('hands out distinct, bindable ports outside the kernel ephemeral range', async () => {
    const [low, high] = ephemeralPortRange();
    const ports = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const port = await freePort();
      assert.ok(port < low || port > high, `port ${port} is inside the ephemeral range ${low}-${high}`);
      assert.ok(!ports.has(port), `port ${port} handed out twice`);
      ports.add(port);
    }
    const first = [...ports][0] as number;
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(first, '127.0.0.1', () => srv.close(() => resolve()));
    });
  });
});
