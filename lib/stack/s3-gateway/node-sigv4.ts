// SigV4's primitives on node:crypto, for the Node side's signed S3 requests (readiness, the
// credentials preflight, the final read-back). k6 hands in k6/crypto instead (lib/k6/s3-client.ts).
import { createHash, createHmac } from 'node:crypto';
import type { SigV4Crypto } from '../../shared/sigv4.ts';

export const nodeSigV4Crypto: SigV4Crypto = {
  sha256Hex: (data) => createHash('sha256').update(data).digest('hex'),
  hmac: (key, data) => {
    const digest = createHmac('sha256', typeof key === 'string' ? key : Buffer.from(key))
      .update(data)
      .digest();
    return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength) as ArrayBuffer;
  },
  hmacHex: (key, data) => createHmac('sha256', Buffer.from(key)).update(data).digest('hex'),
};
