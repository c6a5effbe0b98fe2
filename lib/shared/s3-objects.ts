// What the s3-objects scenario writes, as pure functions of the run tag and the iteration number,
// shared by k6 (which writes and checks the objects) and the sidecar (which reads every one back
// after the run): which operation an iteration does, its object's key, size and bytes. The
// sidecar's expected checksum is therefore computed independently of what k6 said, from the same
// rule — a checksum k6 got wrong, or the gateway stored wrong, shows up as corrupt either way.

export const S3_OPS = ['put', 'get', 'list'] as const;
export type S3Op = (typeof S3_OPS)[number];

export interface S3Mix {
  put: number;
  get: number;
  list: number;
}

/** 32-bit multiplicative hash (Knuth), so operations and sizes interleave instead of running in blocks. */
function spread(seq: number, salt: number): number {
  return Math.imul((seq ^ salt) >>> 0, 2654435761) >>> 0;
}

/** The operation of iteration `seq` under `mix` (weights; a zero weight never happens). */
export function opOf(seq: number, mix: S3Mix): S3Op {
  const total = mix.put + mix.get + mix.list;
  const r = spread(seq, 0) % total;
  if (r < mix.put) return 'put';
  if (r < mix.put + mix.get) return 'get';
  return 'list';
}

/** The object size of iteration `seq`: one of `sizes`, spread evenly. */
export function sizeOf(seq: number, sizes: readonly number[]): number {
  return sizes[spread(seq, 0x5bd1e995) % sizes.length] as number;
}

/** Where this run's objects live in the bucket: `k6ha/<runTag>/`. */
export function runPrefix(runTag: string): string {
  return `k6ha/${runTag}/`;
}

export function objectKey(runTag: string, seq: number): string {
  return `${runPrefix(runTag)}${seq}`;
}

/** The seq of a key of this run, or null for anything else. */
export function seqOfKey(runTag: string, key: string): number | null {
  const prefix = runPrefix(runTag);
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  return /^(?:0|[1-9]\d{0,15})$/.test(rest) ? Number(rest) : null;
}

/**
 * The object's bytes (ASCII): its key and size repeated to `size` bytes, so a body that belongs to
 * another object, or is cut short, or padded, has a different checksum.
 */
export function objectBody(key: string, size: number): string {
  const unit = `${key}#${size};`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

const SIZE = /^(\d{1,9})\s*(B|KiB|MiB|KB|MB)?$/;
const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024, KB: 1000, MB: 1000 * 1000 };

/** "1KiB" → 1024; null when it is not a size. */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (m === null) return null;
  return Number(m[1]) * (UNIT_BYTES[m[2] ?? 'B'] ?? 1);
}
