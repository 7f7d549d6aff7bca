import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import * as zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { BodyCollector, type CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions, differencePath } from '../../src/compare/comparator.ts'
import { decodeBody, MAX_CODINGS, ZSTD_DECODABLE } from '../../src/compare/decode.ts'

const CAP = 256 * 1024
const JSON_CT = { 'content-type': 'application/json' }
const doc = Buffer.from(JSON.stringify({ id: 7, items: [{ sku: 'a', price: 10 }], note: 'é'.repeat(100) }))

function captured(body: Buffer, headers: IncomingHttpHeaders, over: Partial<CapturedResponse> = {}): CapturedResponse {
  return { status: 200, headers, body, length: body.length, truncated: false, latencyMs: 1, ...over }
}

/** What BodyCollector keeps of `body` under `cap`, as the mirror captures it. */
function collected(body: Buffer, headers: IncomingHttpHeaders, cap = CAP): CapturedResponse {
  const c = new BodyCollector(cap)
  for (let i = 0; i < body.length; i += 16_384) c.push(body.subarray(i, i + 16_384))
  return { status: 200, headers, body: c.body, length: c.length, truncated: c.truncated, latencyMs: 1 }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
// zstd compression needs a runtime that has it; the same guard as the decoder's
const zstdCompressSync = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync

describe('decodeBody', () => {
  const cases: [string, Buffer][] = [
    ['gzip', zlib.gzipSync(doc)],
    ['x-gzip', zlib.gzipSync(doc)],
    ['deflate', zlib.deflateSync(doc)],
    ['br', zlib.brotliCompressSync(doc)],
    ['GZip ', zlib.gzipSync(doc)],
  ]
  for (const [encoding, bytes] of cases) {
    it(`decodes content-encoding '${encoding}'`, async () => {
      const r = await decodeBody(captured(bytes, { ...JSON_CT, 'content-encoding': encoding }), CAP)
      expect(r.body.equals(doc)).toBe(true)
      expect(r.length).toBe(doc.length)
      expect(r.truncated).toBe(false)
      expect(r.decoding).toEqual({ encoding, outcome: 'decoded' })
      // headers stay as the backend sent them
      expect(r.headers['content-encoding']).toBe(encoding)
    })
  }

  it('decodes raw deflate (no zlib header), which some servers send for deflate', async () => {
    const r = await decodeBody(captured(zlib.deflateRawSync(doc), { 'content-encoding': 'deflate' }), CAP)
    expect(r.body.equals(doc)).toBe(true)
    expect(r.decoding?.outcome).toBe('decoded')
  })

  it('undoes chained codings last first (gzip applied, then br)', async () => {
    const bytes = zlib.brotliCompressSync(zlib.gzipSync(doc))
    const r = await decodeBody(captured(bytes, { 'content-encoding': 'gzip, br' }), CAP)
    expect(r.body.equals(doc)).toBe(true)
    expect(r.decoding).toEqual({ encoding: 'gzip, br', outcome: 'decoded' })
    // the same chain written as two header lines, and with identity in it
    const split = await decodeBody(captured(bytes, { 'content-encoding': ['identity, gzip', 'br'] as unknown as string }), CAP)
    expect(split.body.equals(doc)).toBe(true)
  })

  it('leaves an answer without a coding, with identity, or without a body as it is', async () => {
    const plain = captured(doc, JSON_CT)
    expect(await decodeBody(plain, CAP)).toBe(plain)
    const identity = captured(doc, { 'content-encoding': 'identity' })
    expect(await decodeBody(identity, CAP)).toBe(identity)
    const head = captured(Buffer.alloc(0), { 'content-encoding': 'gzip' })
    expect(await decodeBody(head, CAP)).toBe(head)
  })

  it('a decompression bomb stops at the cap: too-large, the body still the bytes as sent', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024))
    const r = await decodeBody(collected(bomb, { 'content-encoding': 'gzip' }), CAP)
    expect(r.truncated).toBe(true)
    expect(r.decoding).toEqual({ encoding: 'gzip', outcome: 'too-large', reason: `decoded body over limits.compareBodyBytes (${CAP} bytes)` })
    expect(r.body.equals(bomb)).toBe(true)
    expect(r.length).toBe(bomb.length)
    // br and a chained bomb too
    const brBomb = zlib.brotliCompressSync(Buffer.alloc(10 * 1024 * 1024), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })
    expect((await decodeBody(collected(brBomb, { 'content-encoding': 'br' }), CAP)).decoding?.outcome).toBe('too-large')
    expect((await decodeBody(collected(zlib.gzipSync(bomb), { 'content-encoding': 'gzip, gzip' }), CAP)).decoding?.outcome).toBe('too-large')
  })

  it('a decoded body exactly at the cap is decoded; one byte over is too large', async () => {
    const at = await decodeBody(captured(zlib.gzipSync(Buffer.alloc(1000, 'a')), { 'content-encoding': 'gzip' }), 1000)
    expect(at.decoding?.outcome).toBe('decoded')
    expect(at.length).toBe(1000)
    const over = await decodeBody(captured(zlib.gzipSync(Buffer.alloc(1001, 'a')), { 'content-encoding': 'gzip' }), 1000)
    expect(over.decoding?.outcome).toBe('too-large')
  })

  it('an encoded body already over the capture cap is too large without decoding', async () => {
    const big = zlib.gzipSync(Buffer.from(Array.from({ length: 60_000 }, (_, i) => createHash('md5').update(String(i)).digest('hex')).join('')))
    expect(big.length).toBeGreaterThan(CAP)
    const r = await decodeBody(collected(big, { 'content-encoding': 'gzip' }), CAP)
    expect(r.truncated).toBe(true)
    expect(r.decoding).toEqual({ encoding: 'gzip', outcome: 'too-large', reason: `encoded body over limits.compareBodyBytes (${CAP} bytes)` })
    expect(r.length).toBe(big.length)
  })

  it('corrupt or cut data is undecodable with the reason, never a throw', async () => {
    const garbage = await decodeBody(captured(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }), CAP)
    expect(garbage.decoding).toEqual({ encoding: 'gzip', outcome: 'undecodable', reason: 'corrupt gzip data (incorrect header check); compared as sent' })
    expect(garbage.body.toString()).toBe('not gzip at all')
    expect(garbage.truncated).toBe(false)
    const gz = zlib.gzipSync(doc)
    const cut = await decodeBody(captured(gz.subarray(0, gz.length - 10), { 'content-encoding': 'gzip' }), CAP)
    expect(cut.decoding?.reason).toBe('corrupt gzip data (unexpected end of file); compared as sent')
    const br = await decodeBody(captured(Buffer.from('garbage!!'), { 'content-encoding': 'br' }), CAP)
    expect(br.decoding?.outcome).toBe('undecodable')
    expect(br.decoding?.reason).toMatch(/^corrupt br data \(.+\); compared as sent$/)
  })

  it('an unknown coding or too long a chain is undecodable', async () => {
    const lzw = await decodeBody(captured(doc, { 'content-encoding': 'compress' }), CAP)
    expect(lzw.decoding).toEqual({ encoding: 'compress', outcome: 'undecodable', reason: "unknown content-coding 'compress'; compared as sent" })
    const chain = Array.from({ length: MAX_CODINGS + 1 }, () => 'gzip').join(', ')
    expect((await decodeBody(captured(doc, { 'content-encoding': chain }), CAP)).decoding?.reason).toBe(`more than ${MAX_CODINGS} content codings; compared as sent`)
  })

  it('zstd: decoded where the runtime has it, else compared as sent and said so', async () => {
    if (ZSTD_DECODABLE) {
      const r = await decodeBody(captured((zstdCompressSync as (b: Buffer) => Buffer)(doc), { 'content-encoding': 'zstd' }), CAP)
      expect(r.body.equals(doc)).toBe(true)
    } else {
      expect(zstdCompressSync).toBeUndefined()
      const r = await decodeBody(captured(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]), { 'content-encoding': 'zstd' }), CAP)
      expect(r.decoding).toEqual({ encoding: 'zstd', outcome: 'undecodable', reason: `zstd is not supported by this Node.js runtime (${process.version}); compared as sent` })
    }
  })
})

describe('comparing decoded answers', () => {
  const opts = compileCompareOptions(undefined)

  it('a gzip answer and a plain one with the same JSON match; a differing field is named', async () => {
    const gz = await decodeBody(captured(zlib.gzipSync(doc), { ...JSON_CT, 'content-encoding': 'gzip' }), CAP)
    expect(compareResponses(gz, captured(doc, JSON_CT), opts).differences).toEqual([])
    const other = Buffer.from(JSON.stringify({ id: 7, items: [{ sku: 'a', price: 11 }], note: 'é'.repeat(100) }))
    expect(compareResponses(gz, captured(other, JSON_CT), opts).differences.map(differencePath)).toEqual(['body.items[0].price'])
  })

  it('an undecodable body is compared by digest of the bytes as sent, and the value says why', async () => {
    const bad = await decodeBody(captured(Buffer.from('not gzip'), { ...JSON_CT, 'content-encoding': 'gzip' }), CAP)
    const r = compareResponses(bad, captured(doc, JSON_CT), opts)
    expect(r.differences).toEqual([
      {
        path: ['body'],
        kind: 'changed',
        a: { length: 8, sha256: sha256(Buffer.from('not gzip')), encoding: 'gzip', notDecoded: 'corrupt gzip data (incorrect header check); compared as sent' },
        b: { length: doc.length, sha256: sha256(doc) },
      },
    ])
  })

  it('a bomb against a plain answer is a too-large difference', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024))
    const a = await decodeBody(collected(bomb, { 'content-encoding': 'gzip' }), CAP)
    const r = compareResponses(a, captured(Buffer.from('small'), {}), opts)
    expect(r.truncated).toBe(true)
    expect(r.differences).toHaveLength(1)
    expect(r.differences[0]).toMatchObject({ path: ['body'], kind: 'too-large', a: { length: bomb.length, encoding: 'gzip', notDecoded: `decoded body over limits.compareBodyBytes (${CAP} bytes)` } })
  })
})
