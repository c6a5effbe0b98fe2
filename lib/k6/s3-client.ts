// Signed S3 requests from k6: SigV4 (lib/shared/sigv4.ts) on k6/crypto, path-style URLs
// (`<endpoint>/<bucket>/<key>`), built so the URL k6 sends is byte for byte the canonical one the
// signature covers. k6 modules only.
import crypto from 'k6/crypto';
import { canonicalPath, canonicalQuery, SigV4Signer, type SigV4Crypto } from '../shared/sigv4.ts';
import type { S3ObjectsConfig } from '../shared/scenario-config.ts';

export const k6SigV4Crypto: SigV4Crypto = {
  sha256Hex: (data) => crypto.sha256(data, 'hex'),
  hmac: (key, data) => crypto.hmac('sha256', key, data, 'binary'),
  hmacHex: (key, data) => crypto.hmac('sha256', key, data, 'hex'),
};

export interface SignedS3Request {
  url: string;
  headers: Record<string, string>;
}

export class K6S3Client {
  private readonly signer: SigV4Signer;
  private readonly base: string;

  constructor(private readonly config: S3ObjectsConfig) {
    this.signer = new SigV4Signer(k6SigV4Crypto, {
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
      service: 's3',
    });
    this.base = config.endpoint;
  }

  sha256Hex(body: string): string {
    return crypto.sha256(body, 'hex');
  }

  /** A signed request for `path` (`/bucket/key`, unencoded) with `query` and extra signed headers (`headers` is used and changed). */
  sign(
    method: string,
    path: string,
    payloadHash: string,
    headers: Record<string, string> = {},
    query: Array<[string, string]> = [],
  ): SignedS3Request {
    headers['x-amz-content-sha256'] = payloadHash;
    const signed = this.signer.sign(this.config.host, { method, path, query, headers, payloadHash }, Date.now());
    const qs = query.length === 0 ? '' : `?${canonicalQuery(query)}`;
    // k6 sets Host from the URL itself; sending it again would duplicate it.
    const send = signed.headers;
    delete send['host'];
    return { url: `${this.base}${canonicalPath(path)}${qs}`, headers: send };
  }
}
