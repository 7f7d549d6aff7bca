import * as zlib from 'node:zlib'
import type { BodyDecoding, CapturedResponse } from './captured-response.ts'

/** A node:zlib convenience decompressor: runs on the libuv threadpool, output bounded. */
type Decompress = (input: Buffer, options: { maxOutputLength: number }, cb: (err: Error | null, out: Buffer) => void) => void

// zstd arrived in node:zlib with Node 22.15 / 23.8; @types/node for Node 20 does not know it
const zstdDecompress = (zlib as unknown as { zstdDecompress?: Decompress }).zstdDecompress

/** Whether this runtime can decode `content-encoding: zstd` (else such bodies are compared by digest). */
export const ZSTD_DECODABLE = typeof zstdDecompress === 'function'

/** At most this many content codings are undone; a longer chain is reported as undecodable. */
export const MAX_CODINGS = 4

/**
 * RFC 9110 §8.4.1.2: `deflate` is the zlib format (RFC 1950), but some servers send raw deflate
 * (RFC 1951). A zlib stream starts with a CMF/FLG pair: method 8, window ≤ 32 KiB, a multiple of 31.
 */
function isZlibStream(b: Buffer): boolean {
  const cmf = b[0]
  const flg = b[1]
  return cmf !== undefined && flg !== undefined && (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0
}

const inflateAny: Decompress = (input, options, cb) => (isZlibStream(input) ? zlib.inflate(input, options, cb) : zlib.inflateRaw(input, options, cb))

const DECODERS: ReadonlyMap<string, Decompress> = new Map<string, Decompress>([
  ['gzip', zlib.gunzip],
  // RFC 9110 §8.4.1.3: x-gzip is an alias of gzip
  ['x-gzip', zlib.gunzip],
  ['deflate', inflateAny],
  ['br', zlib.brotliDecompress],
  ...(zstdDecompress === undefined ? [] : [['zstd', zstdDecompress] as const]),
])

function run(decode: Decompress, input: Buffer, maxOutputLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => decode(input, { maxOutputLength }, (err, out) => (err === null ? resolve(out) : reject(err))))
}

function unsupported(coding: string): string {
  if (coding === 'zstd') return `zstd is not supported by this Node.js runtime (${process.version}); compared as sent`
  return `unknown content-coding '${coding}'; compared as sent`
}

/**
 * Undoes an answer's content-encoding so that it can be compared by content: gzip, x-gzip,
 * deflate (zlib or raw), br, zstd where the runtime has it, and chains of them
 * (`content-encoding: gzip, br`). The decoded size is bounded by `cap` (limits.compareBodyBytes):
 * zlib stops at `maxOutputLength`, so a decompression bomb costs at most `cap` plus one chunk, and
 * is reported as too large. Never rejects: corrupt data and unknown codings leave the body as sent,
 * with `decoding.reason` saying why. Headers are kept as the backend sent them.
 */
export async function decodeBody(r: CapturedResponse, cap: number): Promise<CapturedResponse> {
  const header = r.headers['content-encoding']
  if (header === undefined) return r
  const encoding = Array.isArray(header) ? header.join(', ') : header
  const codings = encoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
  // HEAD, 204 and 304 answers carry the header without a body
  if (codings.length === 0 || r.length === 0) return r
  const as = (outcome: BodyDecoding['outcome'], reason: string): CapturedResponse => ({ ...r, truncated: r.truncated || outcome === 'too-large', decoding: { encoding, outcome, reason } })
  if (r.truncated) return as('too-large', `encoded body over limits.compareBodyBytes (${cap} bytes)`)
  if (codings.length > MAX_CODINGS) return as('undecodable', `more than ${MAX_CODINGS} content codings; compared as sent`)
  const decoders: Decompress[] = []
  for (const c of codings) {
    const d = DECODERS.get(c)
    if (d === undefined) return as('undecodable', unsupported(c))
    decoders.push(d)
  }
  let body = r.body
  // codings are listed in the order they were applied (RFC 9110 §8.4): undo the last one first
  for (let i = codings.length - 1; i >= 0; i--) {
    try {
      body = await run(decoders[i] as Decompress, body, Math.max(1, cap))
    } catch (err) {
      const e = err as Error & { code?: string }
      if (e.code === 'ERR_BUFFER_TOO_LARGE') return as('too-large', `decoded body over limits.compareBodyBytes (${cap} bytes)`)
      return as('undecodable', `corrupt ${codings[i]} data (${e.message}); compared as sent`)
    }
  }
  return { ...r, body, length: body.length, decoding: { encoding, outcome: 'decoded' } }
}

/**
 * What a length + SHA-256 digest of this body must add: when it was not decoded, the digest is of
 * the bytes as sent, and the event says which coding they still have and why.
 */
export function undecodedNote(r: CapturedResponse): { encoding: string; notDecoded: string } | undefined {
  const d = r.decoding
  if (d === undefined || d.outcome === 'decoded') return undefined
  return { encoding: d.encoding, notDecoded: d.reason ?? d.outcome }
}
