import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { BodyCollector, type CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions, differencePath, DEFAULT_MAX_EXAMPLES, type CompareResult } from '../../src/compare/comparator.ts'
import { FieldMatcher } from '../../src/compare/field-path.ts'

const JSON_CT = { 'content-type': 'application/json; charset=utf-8' }

function captured(body: string | Buffer, over: Partial<Omit<CapturedResponse, 'body'>> = {}): CapturedResponse {
  const buf = typeof body === 'string' ? Buffer.from(body) : body
  return { status: 200, headers: {}, body: buf, length: buf.length, truncated: false, latencyMs: 1, ...over }
}

function jsonResponse(value: unknown, over: Partial<Omit<CapturedResponse, 'body'>> = {}): CapturedResponse {
  const headers: IncomingHttpHeaders = { ...JSON_CT, ...over.headers }
  return captured(JSON.stringify(value), { ...over, headers })
}

/** The differences without their kind (kinds have tests of their own). */
function plain(r: CompareResult): { path: unknown; a: unknown; b: unknown }[] {
  return r.differences.map(({ path, a, b }) => ({ path, a, b }))
}

function paths(r: CompareResult): string[] {
  return r.differences.map(differencePath)
}

function diffJson(a: unknown, b: unknown, compare?: Parameters<typeof compileCompareOptions>[0]): CompareResult {
  return compareResponses(jsonResponse(a), jsonResponse(b), compileCompareOptions(compare))
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex')

describe('BodyCollector', () => {
  it('keeps everything under the cap', () => {
    const c = new BodyCollector(10)
    c.push(Buffer.from('abc'))
    c.push(Buffer.from('def'))
    expect(c.body.toString()).toBe('abcdef')
    expect(c.length).toBe(6)
    expect(c.truncated).toBe(false)
  })

  it('a body exactly at the cap is not truncated', () => {
    const c = new BodyCollector(6)
    c.push(Buffer.from('abc'))
    c.push(Buffer.from('def'))
    c.push(Buffer.alloc(0))
    expect(c.body.toString()).toBe('abcdef')
    expect(c.truncated).toBe(false)
  })

  it('keeps the first cap bytes and counts the rest', () => {
    const c = new BodyCollector(5)
    c.push(Buffer.from('abc'))
    c.push(Buffer.from('defgh'))
    c.push(Buffer.from('ijklmnop'))
    expect(c.body.toString()).toBe('abcde')
    expect(c.length).toBe(16)
    expect(c.truncated).toBe(true)
  })

  it('truncates on a chunk that starts exactly at the cap', () => {
    const c = new BodyCollector(3)
    c.push(Buffer.from('abc'))
    c.push(Buffer.from('d'))
    expect(c.body.toString()).toBe('abc')
    expect(c.length).toBe(4)
    expect(c.truncated).toBe(true)
  })

  it('with a cap of 0 keeps nothing but still counts', () => {
    const c = new BodyCollector(0)
    c.push(Buffer.from('hello'))
    expect(c.body.length).toBe(0)
    expect(c.length).toBe(5)
    expect(c.truncated).toBe(true)
  })

  it('an empty body is empty and not truncated', () => {
    const c = new BodyCollector(5)
    expect(c.body.length).toBe(0)
    expect(c.length).toBe(0)
    expect(c.truncated).toBe(false)
  })
})

describe('compileCompareOptions', () => {
  it('defaults to no ignores, no headers, positional arrays', () => {
    const o = compileCompareOptions(undefined)
    expect(o.ignore.size).toBe(0)
    expect(o.headers).toEqual([])
    expect(o.ignoreArrayOrder).toBe(false)
  })

  it('lower-cases header names', () => {
    expect(compileCompareOptions({ headers: ['ETag', 'X-Request-Id'] }).headers).toEqual(['etag', 'x-request-id'])
  })
})

describe('compareResponses: status and headers', () => {
  it('equal answers have no differences', () => {
    const r = diffJson({ a: 1, b: [1, 2, { c: null }] }, { b: [1, 2, { c: null }], a: 1 })
    expect(plain(r)).toEqual([])
    expect(r.truncated).toBe(false)
  })

  it('reports a status difference', () => {
    const r = compareResponses(jsonResponse({}, { status: 200 }), jsonResponse({}, { status: 404 }), compileCompareOptions(undefined))
    expect(plain(r)).toEqual([{ path: ['status'], a: 200, b: 404 }])
  })

  it('an ignored status is not reported', () => {
    const r = compareResponses(jsonResponse({}, { status: 200 }), jsonResponse({}, { status: 201 }), compileCompareOptions({ ignore: ['status'] }))
    expect(plain(r)).toEqual([])
  })

  it('compares only the headers the route names, case-insensitively', () => {
    const a = jsonResponse({}, { headers: { etag: '"1"', date: 'Mon', 'x-v': 'a' } })
    const b = jsonResponse({}, { headers: { etag: '"2"', date: 'Tue', 'x-v': 'a' } })
    const r = compareResponses(a, b, compileCompareOptions({ headers: ['ETag', 'X-V'] }))
    expect(plain(r)).toEqual([{ path: ['headers', 'etag'], a: '"1"', b: '"2"' }])
    expect(paths(r)).toEqual(['headers.etag'])
  })

  it('a named header missing on one side is a difference with undefined', () => {
    const r = compareResponses(jsonResponse({}, { headers: { 'cache-control': 'no-store' } }), jsonResponse({}), compileCompareOptions({ headers: ['cache-control'] }))
    expect(plain(r)).toEqual([{ path: ['headers', 'cache-control'], a: 'no-store', b: undefined }])
  })

  it('joins multi-valued headers before comparing', () => {
    const a = jsonResponse({}, { headers: { 'x-tag': ['accept', 'origin'] } })
    const same = jsonResponse({}, { headers: { 'x-tag': 'accept, origin' } })
    const other = jsonResponse({}, { headers: { 'x-tag': ['origin', 'accept'] } })
    const opts = compileCompareOptions({ headers: ['x-tag'] })
    expect(compareResponses(a, same, opts).differences).toEqual([])
    expect(plain(compareResponses(a, other, opts))).toEqual([{ path: ['headers', 'x-tag'], a: 'accept, origin', b: 'origin, accept' }])
  })

  it('an ignored header is not reported', () => {
    const a = jsonResponse({}, { headers: { etag: '"1"' } })
    const b = jsonResponse({}, { headers: { etag: '"2"' } })
    expect(compareResponses(a, b, compileCompareOptions({ headers: ['etag'], ignore: ['headers.etag'] })).differences).toEqual([])
  })
})

describe('compareResponses: JSON bodies', () => {
  it('reports a changed scalar with both values', () => {
    const r = diffJson({ total: 10, name: 'x' }, { total: 11, name: 'x' })
    expect(plain(r)).toEqual([{ path: ['body', 'total'], a: 10, b: 11 }])
  })

  it('a key missing on b shows b as undefined; an extra key on b shows a as undefined', () => {
    const r = diffJson({ id: 1, legacyOnly: 'x' }, { id: 1, cloudOnly: true })
    expect(plain(r)).toContainEqual({ path: ['body', 'legacyOnly'], a: 'x', b: undefined })
    expect(plain(r)).toContainEqual({ path: ['body', 'cloudOnly'], a: undefined, b: true })
    expect(r.differences).toHaveLength(2)
  })

  it('a key holding null is not the same as a missing key', () => {
    const r = diffJson({ id: 1, note: null }, { id: 1 })
    expect(plain(r)).toEqual([{ path: ['body', 'note'], a: null, b: undefined }])
  })

  it.each<[string, unknown, unknown]>([
    ['number vs string', 1, '1'],
    ['object vs array', { x: 1 }, [1]],
    ['null vs object', null, { x: 1 }],
    ['array vs scalar', [1], 1],
    ['boolean vs number', true, 1],
  ])('a type change (%s) is one difference at that path, not a walk inside', (_name, a, b) => {
    const r = diffJson({ v: a }, { v: b })
    expect(plain(r)).toEqual([{ path: ['body', 'v'], a, b }])
  })

  it('reports nested differences with their full path', () => {
    const r = diffJson({ order: { lines: [{ sku: 'a', qty: 1 }] } }, { order: { lines: [{ sku: 'a', qty: 2 }] } })
    expect(paths(r)).toEqual(['body.order.lines[0].qty'])
  })

  it('a top-level scalar or array body is compared too', () => {
    expect(paths(diffJson(1, 2))).toEqual(['body'])
    expect(paths(diffJson([1, 2], [1, 3]))).toEqual(['body[1]'])
  })

  it('compares arrays by position: a reorder is reported element by element', () => {
    const r = diffJson({ ids: [1, 2, 3] }, { ids: [3, 2, 1] })
    expect(plain(r)).toEqual([
      { path: ['body', 'ids', 0], a: 1, b: 3 },
      { path: ['body', 'ids', 2], a: 3, b: 1 },
    ])
  })

  it('arrays of different lengths: a length difference, then each extra element as undefined on the shorter side', () => {
    expect(diffJson({ ids: [1, 2] }, { ids: [1, 2, 3] }).differences).toEqual([
      { path: ['body', 'ids'], kind: 'length', a: 2, b: 3 },
      { path: ['body', 'ids', 2], kind: 'extra', a: undefined, b: 3 },
    ])
    expect(plain(diffJson({ ids: [1, 2, 3] }, { ids: [1] })).slice(1)).toEqual([
      { path: ['body', 'ids', 1], a: 2, b: undefined },
      { path: ['body', 'ids', 2], a: 3, b: undefined },
    ])
  })

  it('an empty JSON body on both sides is equal; empty vs {} is a body difference', () => {
    const opts = compileCompareOptions(undefined)
    const empty = captured('', { headers: JSON_CT })
    expect(compareResponses(empty, captured('', { headers: JSON_CT }), opts).differences).toEqual([])
    expect(plain(compareResponses(empty, jsonResponse({}), opts))).toEqual([{ path: ['body'], a: undefined, b: {} }])
  })

  it('recognises +json media types', () => {
    const a = captured('{"title":"a","status":400}', { headers: { 'content-type': 'application/problem+json' } })
    const b = captured('{"title":"b","status":400}', { headers: { 'content-type': 'application/problem+json' } })
    expect(paths(compareResponses(a, b, compileCompareOptions(undefined)))).toEqual(['body.title'])
  })
})

describe('compareResponses: ignore paths', () => {
  const a = {
    id: 7,
    generatedAt: '2024-01-01T00:00:00Z',
    meta: { host: 'legacy-1', region: 'eu' },
    items: [
      { sku: 'a', updatedAt: 't1' },
      { sku: 'b', updatedAt: 't2' },
    ],
  }
  const b = {
    id: 7,
    generatedAt: '2024-01-01T00:00:05Z',
    meta: { host: 'cloud-9', region: 'us' },
    items: [
      { sku: 'a', updatedAt: 't8' },
      { sku: 'b', updatedAt: 't9' },
    ],
  }

  it('without ignores every field that differs is reported', () => {
    expect(paths(diffJson(a, b)).sort()).toEqual(['body.generatedAt', 'body.items[0].updatedAt', 'body.items[1].updatedAt', 'body.meta.host', 'body.meta.region'])
  })

  it('body.items[*].updatedAt ignores that field in every element, and a prefix ignores a subtree', () => {
    const r = diffJson(a, b, { ignore: ['body.generatedAt', 'body.items[*].updatedAt', 'body.meta'] })
    expect(plain(r)).toEqual([])
  })

  it('an ignore rule hides only what it names', () => {
    const b2 = { ...b, id: 8, items: [{ sku: 'a', updatedAt: 't8' }, { sku: 'z', updatedAt: 't9' }] }
    const r = diffJson(a, b2, { ignore: ['body.generatedAt', 'body.items[*].updatedAt', 'body.meta'] })
    expect(plain(r)).toEqual([
      { path: ['body', 'id'], a: 7, b: 8 },
      { path: ['body', 'items', 1, 'sku'], a: 'b', b: 'z' },
    ])
  })

  it('an ignored field missing on one side is not reported', () => {
    const r = diffJson({ items: [{ sku: 'a', updatedAt: 't1' }] }, { items: [{ sku: 'a' }] }, { ignore: ['body.items[*].updatedAt'] })
    expect(plain(r)).toEqual([])
  })

  it('ignoring body skips the body entirely, JSON or not', () => {
    const opts = compileCompareOptions({ ignore: ['body'] })
    expect(compareResponses(jsonResponse({ a: 1 }), jsonResponse({ a: 2 }), opts).differences).toEqual([])
    expect(compareResponses(captured('x'), captured('yy'), opts).differences).toEqual([])
  })

  it('a learned matcher is applied on top of the route ignores', () => {
    const learned = new FieldMatcher(['body.items[*].updatedAt'])
    const r = compareResponses(jsonResponse(a), jsonResponse(b), compileCompareOptions({ ignore: ['body.meta'] }), learned)
    expect(paths(r)).toEqual(['body.generatedAt'])
  })
})

describe('compareResponses: ignoreArrayOrder', () => {
  it('a reordered array is equal', () => {
    const r = diffJson({ ids: [1, 2, 3], objs: [{ a: 1, b: 2 }, { a: 3 }] }, { ids: [3, 1, 2], objs: [{ a: 3 }, { b: 2, a: 1 }] }, { ignoreArrayOrder: true })
    expect(plain(r)).toEqual([])
  })

  it('compares as a multiset: repeated elements must repeat as often', () => {
    const r = diffJson({ ids: [1, 1, 2] }, { ids: [1, 2, 2] }, { ignoreArrayOrder: true })
    expect(plain(r)).toEqual([{ path: ['body', 'ids'], a: [1, 1, 2], b: [1, 2, 2] }])
  })

  it('a difference names the whole array', () => {
    expect(diffJson({ ids: [1, 2] }, { ids: [2, 3] }, { ignoreArrayOrder: true }).differences).toEqual([{ path: ['body', 'ids'], kind: 'changed', a: [1, 2], b: [2, 3] }])
    expect(diffJson({ ids: [1, 2] }, { ids: [2, 1, 1] }, { ignoreArrayOrder: true }).differences[0]?.kind).toBe('length')
    expect(paths(diffJson({ ids: [1, 2] }, { ids: [2, 1, 1] }, { ignoreArrayOrder: true }))).toEqual(['body.ids'])
  })

  it('distinguishes 1 from "1"', () => {
    expect(paths(diffJson({ ids: [1, '2'] }, { ids: ['2', '1'] }, { ignoreArrayOrder: true }))).toEqual(['body.ids'])
  })

  it('ignored fields inside elements do not count', () => {
    const r = diffJson(
      { items: [{ sku: 'a', updatedAt: 't1' }, { sku: 'b', updatedAt: 't2' }] },
      { items: [{ sku: 'b', updatedAt: 't9' }, { sku: 'a', updatedAt: 't8' }] },
      { ignoreArrayOrder: true, ignore: ['body.items[*].updatedAt'] },
    )
    expect(plain(r)).toEqual([])
  })

  // BUG (json-diff.ts canonical()): the doc says ignored fields are "left out" of the canonical
  // form, but they are written as `"key":~`, so an ignored field present on one side only makes
  // the elements differ. Positional comparison (above) ignores the same input.
  it('an ignored field missing on one side is not reported (as with positional comparison)', () => {
    const r = diffJson({ items: [{ sku: 'a', updatedAt: 't1' }, { sku: 'b' }] }, { items: [{ sku: 'b' }, { sku: 'a' }] }, { ignoreArrayOrder: true, ignore: ['body.items[*].updatedAt'] })
    expect(plain(r)).toEqual([])
  })

  // BUG (json-diff.ts canonical()): nested arrays keep their order in the canonical form, so
  // ignoreArrayOrder ignores the order of `body.item.tags` but not of `body.items[0].tags`.
  it('ignores the order of arrays nested inside array elements too', () => {
    expect(diffJson({ item: { tags: ['x', 'y'] } }, { item: { tags: ['y', 'x'] } }, { ignoreArrayOrder: true }).differences).toEqual([])
    expect(diffJson({ items: [{ tags: ['x', 'y'] }] }, { items: [{ tags: ['y', 'x'] }] }, { ignoreArrayOrder: true }).differences).toEqual([])
  })

  it('an ignored array is not compared at all', () => {
    expect(diffJson({ ids: [1] }, { ids: [2, 3] }, { ignoreArrayOrder: true, ignore: ['body.ids'] }).differences).toEqual([])
  })
})

describe('compareResponses: non-JSON and truncated bodies', () => {
  const opts = compileCompareOptions(undefined)

  it('compares non-JSON bodies by length and SHA-256', () => {
    const a = captured('hello', { headers: { 'content-type': 'application/octet-stream' } })
    const b = captured('hellO', { headers: { 'content-type': 'application/octet-stream' } })
    expect(compareResponses(a, b, opts).differences).toEqual([{ path: ['body'], kind: 'changed', a: { length: 5, sha256: sha256('hello') }, b: { length: 5, sha256: sha256('hellO') } }])
    expect(compareResponses(a, captured('hello', { headers: { 'content-type': 'application/octet-stream' } }), opts).differences).toEqual([])
  })

  it('a body without a content-type is not parsed, even when it is JSON', () => {
    const r = compareResponses(captured('{"a":1}'), captured('{ "a": 1 }'), opts)
    expect(r.differences).toHaveLength(1)
    expect(r.differences[0]?.path).toEqual(['body'])
  })

  it('a body that claims JSON but does not parse is compared by digest', () => {
    const a = captured('{not json', { headers: JSON_CT })
    const b = captured('{not json!', { headers: JSON_CT })
    expect(plain(compareResponses(a, b, opts))).toEqual([{ path: ['body'], a: { length: 9, sha256: sha256('{not json') }, b: { length: 10, sha256: sha256('{not json!') } }])
  })

  it('JSON against non-JSON falls back to the digest', () => {
    const a = jsonResponse({ a: 1 })
    const b = captured('{"a":1}', { headers: { 'content-type': 'text/plain' } })
    expect(compareResponses(a, b, opts).differences).toEqual([])
    const c = captured('{"a":2}', { headers: { 'content-type': 'text/plain' } })
    expect(paths(compareResponses(a, c, opts))).toEqual(['body'])
  })

  it('never JSON-parses a truncated capture, even if the kept prefix is valid JSON', () => {
    // the first 7 bytes are a complete JSON document, but the real body was 100 bytes long
    const a = captured('{"a":1}', { headers: JSON_CT, length: 100, truncated: true })
    const b = captured('{"a":1}', { headers: JSON_CT })
    const r = compareResponses(a, b, opts)
    expect(plain(r)).toEqual([{ path: ['body'], a: { length: 100, sha256: sha256('{"a":1}') }, b: { length: 7, sha256: sha256('{"a":1}') } }])
    expect(r.truncated).toBe(true)
  })

  it('two truncated captures with the same length and prefix show no difference but say truncated', () => {
    const a = captured('{"items":[1,2', { headers: JSON_CT, length: 5000, truncated: true })
    const b = captured('{"items":[1,2', { headers: JSON_CT, length: 5000, truncated: true })
    const r = compareResponses(a, b, opts)
    expect(plain(r)).toEqual([])
    expect(r.truncated).toBe(true)
  })

  it('truncated captures with different prefixes differ at body', () => {
    const a = captured('{"items":[1,2', { headers: JSON_CT, length: 5000, truncated: true })
    const b = captured('{"items":[1,3', { headers: JSON_CT, length: 5000, truncated: true })
    const r = compareResponses(a, b, opts)
    expect(paths(r)).toEqual(['body'])
    expect(r.truncated).toBe(true)
  })

  it('works with a capture produced by BodyCollector', () => {
    const c = new BodyCollector(8)
    for (const part of ['{"a":', '1,"b":', '2}']) c.push(Buffer.from(part))
    const a: CapturedResponse = { status: 200, headers: JSON_CT, body: c.body, length: c.length, truncated: c.truncated, latencyMs: 1 }
    const r = compareResponses(a, jsonResponse({ a: 1, b: 2 }), opts)
    expect(r.truncated).toBe(true)
    expect(plain(r)).toEqual([{ path: ['body'], a: { length: 13, sha256: sha256('{"a":1,"') }, b: { length: 13, sha256: sha256('{"a":1,"b":2}') } }])
  })
})

describe('compareResponses: DEFAULT_MAX_EXAMPLES', () => {
  const many = (n: number, v: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, v]))

  it('under the cap: every difference, not truncated', () => {
    const r = diffJson(many(10, 1), many(10, 2))
    expect(r.differences).toHaveLength(10)
    expect(r.truncated).toBe(false)
  })

  it('cuts the list at DEFAULT_MAX_EXAMPLES and sets truncated', () => {
    const r = diffJson(many(DEFAULT_MAX_EXAMPLES * 3, 1), many(DEFAULT_MAX_EXAMPLES * 3, 2))
    expect(r.differences).toHaveLength(DEFAULT_MAX_EXAMPLES)
    expect(r.truncated).toBe(true)
    expect(paths(r).slice(0, 3)).toEqual(['body.k0', 'body.k1', 'body.k2'])
  })

  it('the cap counts status and header differences too', () => {
    const a = jsonResponse(many(100, 1), { status: 200, headers: { etag: '1' } })
    const b = jsonResponse(many(100, 2), { status: 500, headers: { etag: '2' } })
    const r = compareResponses(a, b, compileCompareOptions({ headers: ['etag'] }))
    expect(r.differences).toHaveLength(DEFAULT_MAX_EXAMPLES)
    expect(paths(r).slice(0, 3)).toEqual(['status', 'headers.etag', 'body.k0'])
    expect(r.truncated).toBe(true)
  })

  it('caps array differences too', () => {
    const r = diffJson({ xs: Array.from({ length: 200 }, () => 1) }, { xs: Array.from({ length: 200 }, () => 2) })
    expect(r.differences).toHaveLength(DEFAULT_MAX_EXAMPLES)
    expect(r.truncated).toBe(true)
  })
})
