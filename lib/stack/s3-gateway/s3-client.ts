// A small signed S3 client for the Node side (path-style, SigV4 from lib/shared/sigv4.ts on
// node:crypto): the gateway's readiness probe, the credentials preflight, creating the bucket, and
// the sidecar's final read-back of every object. fetch only; no AWS SDK (the signer is the one k6
// uses, so the preflight proves the scenario's signing against the real server too).
import { createHash } from 'node:crypto';
import { canonicalPath, canonicalQuery, EMPTY_SHA256, SigV4Signer } from '../../shared/sigv4.ts';
import { nodeSigV4Crypto } from './node-sigv4.ts';

export interface S3ClientOptions {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  timeoutMs?: number;
}

export interface S3Response {
  status: number;
  body: Buffer;
  headers: Headers;
}

/** S3's error code from an XML error body (<Code>…</Code>), or null. */
export function s3ErrorCode(body: Buffer | string): string | null {
  return /<Code>([^<]+)<\/Code>/.exec(body.toString())?.[1] ?? null;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class NodeS3Client {
  private readonly signer: SigV4Signer;
  private readonly host: string;

  constructor(private readonly opts: S3ClientOptions) {
    this.signer = new SigV4Signer(nodeSigV4Crypto, {
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      region: opts.region,
      service: 's3',
    });
    this.host = new URL(opts.endpoint).host;
  }

  async request(
    method: string,
    path: string,
    opts: { query?: Array<[string, string]>; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<S3Response> {
    const query = opts.query ?? [];
    const payloadHash = opts.body === undefined ? EMPTY_SHA256 : sha256Hex(opts.body);
    const signed = this.signer.sign(
      this.host,
      { method, path, query, headers: { ...opts.headers, 'x-amz-content-sha256': payloadHash }, payloadHash },
      Date.now(),
    );
    const { host: _host, ...headers } = signed.headers;
    const qs = query.length === 0 ? '' : `?${canonicalQuery(query)}`;
    const res = await fetch(`${this.opts.endpoint}${canonicalPath(path)}${qs}`, {
      method,
      headers,
      ...(opts.body === undefined ? {} : { body: opts.body }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  }

  listBuckets(): Promise<S3Response> {
    return this.request('GET', '/');
  }

  /** Creates the bucket; true when created, or when it already was ours. */
  async createBucket(bucket: string): Promise<S3Response> {
    return this.request('PUT', `/${bucket}`);
  }

  getObject(bucket: string, key: string): Promise<S3Response> {
    return this.request('GET', `/${bucket}/${key}`);
  }

  /** Every key under `prefix` (ListObjectsV2, page by page). */
  async listKeys(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | null = null;
    for (;;) {
      const query: Array<[string, string]> = [
        ['list-type', '2'],
        ['prefix', prefix],
        ['max-keys', '1000'],
      ];
      if (token !== null) query.push(['continuation-token', token]);
      const res = await this.request('GET', `/${bucket}`, { query });
      if (res.status !== 200)
        throw new Error(`listing ${bucket}/${prefix} answered ${res.status} ${s3ErrorCode(res.body) ?? ''}`.trim());
      const xml = res.body.toString();
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(unescapeXml(m[1] as string));
      const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
      token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? null;
      if (!truncated || token === null) return keys;
      token = unescapeXml(token);
    }
  }
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
