// AWS Signature Version 4 (header auth), written out so that k6 can sign S3 requests with nothing
// but k6/crypto, and the Node side (the preflight, the read-back) with node:crypto — the same code
// on both sides, the hash and HMAC functions handed in. Pure: no clock, no I/O.
//
// Checked against AWS's published vectors (test/unit/sigv4.test.ts): the aws-sig-v4-test-suite
// cases get-vanilla, post-vanilla, get-vanilla-query-order-key-case and the S3 "GET Object" example
// of the S3 header-auth documentation, each by canonical request, string to sign and signature.
//
// S3's rules where they differ from the generic suite: the path is URI-encoded once (segment by
// segment, '/' kept) and never normalised, and x-amz-content-sha256 is a signed header.

/** The hash and HMAC primitives (k6/crypto in k6, node:crypto in Node). */
export interface SigV4Crypto {
  sha256Hex(data: string): string;
  /** HMAC-SHA256 with the raw digest as the next key */
  hmac(key: string | ArrayBuffer, data: string): ArrayBuffer;
  hmacHex(key: ArrayBuffer, data: string): string;
}

export interface SigV4Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
  /** "s3" for S3; the generic suite uses "service" */
  service: string;
}

export interface SigV4Request {
  method: string;
  /** the request path as sent, not yet encoded: "/bucket/key with space" */
  path: string;
  /** query parameters, unencoded, any order */
  query?: ReadonlyArray<readonly [string, string]>;
  /** headers to sign (host and x-amz-date are added); names in any case */
  headers?: Readonly<Record<string, string>>;
  /** hex sha256 of the body (EMPTY_SHA256 for none), or UNSIGNED-PAYLOAD */
  payloadHash: string;
}

export interface SignedRequest {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  authorization: string;
  /** every header to send: the request's own, host, x-amz-date, authorization */
  headers: Record<string, string>;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ALGORITHM = 'AWS4-HMAC-SHA256';

/** RFC 3986 percent-encoding as SigV4's UriEncode: everything but A-Z a-z 0-9 - . _ ~, uppercase hex. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Path characters that need no encoding: a path made of them only is its own canonical form. */
const PLAIN_PATH = /^[A-Za-z0-9/._~-]*$/;

/** The canonical URI: each segment encoded once, the slashes kept (S3: no normalisation). */
export function canonicalPath(path: string): string {
  if (path === '') return '/';
  return PLAIN_PATH.test(path) ? path : path.split('/').map(uriEncode).join('/');
}

export function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  if (query.length === 0) return '';
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** A header value as SigV4 signs it: trimmed, runs of whitespace as one space (regex only when there are any). */
function canonicalValue(value: string): string {
  const v = value.trim();
  return v.indexOf('  ') === -1 && v.indexOf('\t') === -1 && v.indexOf('\n') === -1 ? v : v.replace(/\s+/g, ' ');
}

/** YYYYMMDD'T'HHMMSS'Z' of an epoch-ms instant. */
export function amzDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The signing key of one day, region and service; worth caching (it changes once a day). */
export function signingKey(crypto: SigV4Crypto, creds: SigV4Credentials, date: string): ArrayBuffer {
  const kDate = crypto.hmac(`AWS4${creds.secretKey}`, date);
  const kRegion = crypto.hmac(kDate, creds.region);
  const kService = crypto.hmac(kRegion, creds.service);
  return crypto.hmac(kService, 'aws4_request');
}

/** Signs `req` as of `xAmzDate` (see amzDate); `host` is the Host header's value. */
export function signRequest(
  crypto: SigV4Crypto,
  creds: SigV4Credentials,
  host: string,
  req: SigV4Request,
  xAmzDate: string,
  key?: ArrayBuffer,
): SignedRequest {
  // Plain loops and one object: this runs for every request k6 sends (see the s3-objects benchmark).
  const headers: Record<string, string> = {};
  const canonical: Record<string, string> = {};
  const names: string[] = [];
  const add = (name: string, value: string): void => {
    headers[name] = value;
    const n = name.toLowerCase();
    const v = canonicalValue(value);
    if (n in canonical) canonical[n] = `${canonical[n]},${v}`;
    else {
      canonical[n] = v;
      names.push(n);
    }
  };
  const own = req.headers ?? {};
  for (const name in own) add(name, own[name] as string);
  add('host', host);
  add('x-amz-date', xAmzDate);
  names.sort();
  let canonicalHeaders = '';
  for (const n of names) canonicalHeaders += `${n}:${canonical[n]}\n`;
  const signedHeaders = names.join(';');
  const canonicalRequest = `${req.method.toUpperCase()}\n${canonicalPath(req.path)}\n${canonicalQuery(req.query ?? [])}\n${canonicalHeaders}\n${signedHeaders}\n${req.payloadHash}`;
  const date = xAmzDate.slice(0, 8);
  const scope = `${date}/${creds.region}/${creds.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${xAmzDate}\n${scope}\n${crypto.sha256Hex(canonicalRequest)}`;
  const signature = crypto.hmacHex(key ?? signingKey(crypto, creds, date), stringToSign);
  const authorization = `${ALGORITHM} Credential=${creds.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  headers['authorization'] = authorization;
  return { canonicalRequest, stringToSign, signature, authorization, headers };
}

/**
 * Signs requests with a signing key cached per day: one HMAC chain a day instead of four HMACs a
 * request (the k6 scenario signs thousands a second).
 */
export class SigV4Signer {
  private keyDate = '';
  private key: ArrayBuffer | null = null;
  private second = -1;
  private xAmzDate = '';

  constructor(
    private readonly crypto: SigV4Crypto,
    readonly creds: SigV4Credentials,
  ) {}

  sign(host: string, req: SigV4Request, epochMs: number): SignedRequest {
    // x-amz-date has whole seconds: formatted once a second.
    const second = Math.floor(epochMs / 1000);
    if (second !== this.second) {
      this.second = second;
      this.xAmzDate = amzDate(epochMs);
    }
    const xAmzDate = this.xAmzDate;
    const date = xAmzDate.slice(0, 8);
    if (this.key === null || date !== this.keyDate) {
      this.key = signingKey(this.crypto, this.creds, date);
      this.keyDate = date;
    }
    return signRequest(this.crypto, this.creds, host, req, xAmzDate, this.key);
  }
}
