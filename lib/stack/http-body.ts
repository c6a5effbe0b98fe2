// One bounded request-body reader for the HTTP servers we run (publisher, EventStore fixture,
// sidecar control API). It reads to the end even past the limit, so the client gets the 413
// instead of a reset connection.
import type { IncomingMessage } from 'node:http';

/** The whole body, or null when it is larger than `limit` bytes. */
export async function readBodyWithin(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? null : Buffer.concat(chunks);
}
