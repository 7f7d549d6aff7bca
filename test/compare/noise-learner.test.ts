import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions, differencePath, MAX_DIFFERENCES } from '../../src/compare/comparator.ts'
import { DEFAULT_NOISE_SAMPLES, MAX_NOISE_FIELDS, NoiseLearner } from '../../src/compare/noise-learner.ts'

function jsonResponse(value: unknown, over: { status?: number; headers?: IncomingHttpHeaders } = {}): CapturedResponse {
  const body = Buffer.from(JSON.stringify(value))
  return { status: over.status ?? 200, headers: { 'content-type': 'application/json', ...over.headers }, body, length: body.length, truncated: false, latencyMs: 1 }
}

function textResponse(text: string): CapturedResponse {
  const body = Buffer.from(text)
  return { status: 200, headers: { 'content-type': 'text/html' }, body, length: body.length, truncated: false, latencyMs: 1 }
}

/** One backend's answer to GET /orders/7 at call number `n`: a fresh timestamp and per-item ts. */
function order(n: number, total = 10): CapturedResponse {
  return jsonResponse({
    id: 7,
    total,
    generatedAt: `2024-01-01T00:00:0${n}Z`,
    items: [
      { sku: 'a', qty: 1, ts: `a-${n}` },
      { sku: 'b', qty: 2, ts: `b-${n}` },
    ],
  })
}

describe('NoiseLearner.take', () => {
  it('hands out exactly maxSamples samples, then refuses', () => {
    const l = new NoiseLearner(3)
    expect([l.take(), l.take(), l.take(), l.take(), l.take()]).toEqual([true, true, true, false, false])
    expect(l.samples).toBe(3)
  })

  it('defaults to DEFAULT_NOISE_SAMPLES', () => {
    const l = new NoiseLearner()
    let taken = 0
    while (l.take()) taken++
    expect(taken).toBe(DEFAULT_NOISE_SAMPLES)
    expect(l.samples).toBe(DEFAULT_NOISE_SAMPLES)
  })

  it('a learner that wants no samples never takes one', () => {
    const l = new NoiseLearner(0)
    expect(l.take()).toBe(false)
    expect(l.samples).toBe(0)
  })
})

describe('NoiseLearner.learn', () => {
  const opts = compileCompareOptions(undefined)

  it('learns the fields that differ between two calls, array indexes generalised', () => {
    const l = new NoiseLearner()
    const added = l.learn(order(1), order(2), opts)
    expect(added).toEqual(['body.generatedAt', 'body.items[*].ts'])
    expect(l.fields.list()).toEqual(['body.generatedAt', 'body.items[*].ts'])
  })

  it('after learning, those fields are no longer reported between the two backends, others still are', () => {
    const l = new NoiseLearner()
    const primary = order(5)
    const secondary = order(6, 11)
    expect(compareResponses(primary, secondary, opts).differences.map(differencePath).sort()).toEqual([
      'body.generatedAt',
      'body.items[0].ts',
      'body.items[1].ts',
      'body.total',
    ])
    l.learn(order(1), order(2), opts)
    const r = compareResponses(primary, secondary, opts, l.fields)
    expect(r.differences).toEqual([{ path: ['body', 'total'], a: 10, b: 11 }])
  })

  it('a learned [*] pattern covers elements the samples never had', () => {
    const l = new NoiseLearner()
    l.learn(order(1), order(2), opts)
    const long = (n: number): CapturedResponse => jsonResponse({ id: 7, total: 10, generatedAt: 'x', items: Array.from({ length: 5 }, (_, i) => ({ sku: 's', qty: i, ts: `${n}-${i}` })) })
    expect(compareResponses(long(1), long(2), opts, l.fields).differences).toEqual([])
  })

  it('returns only newly learned paths; identical samples teach nothing', () => {
    const l = new NoiseLearner()
    expect(l.learn(order(1), order(2), opts)).toHaveLength(2)
    expect(l.learn(order(3), order(4), opts)).toEqual([])
    expect(l.learn(order(3), order(3), opts)).toEqual([])
    expect(l.fields.size).toBe(2)
  })

  it('does not learn a status that changes between calls', () => {
    const l = new NoiseLearner()
    expect(l.learn(jsonResponse({ a: 1 }, { status: 200 }), jsonResponse({ a: 1 }, { status: 503 }), opts)).toEqual([])
    expect(l.fields.size).toBe(0)
    const r = compareResponses(jsonResponse({}, { status: 200 }), jsonResponse({}, { status: 503 }), opts, l.fields)
    expect(r.differences.map(differencePath)).toEqual(['status'])
  })

  it('does not learn a whole-body digest difference (non-JSON bodies)', () => {
    const l = new NoiseLearner()
    expect(l.learn(textResponse('<p>nonce=1</p>'), textResponse('<p>nonce=2</p>'), opts)).toEqual([])
    expect(l.fields.size).toBe(0)
    expect(compareResponses(textResponse('<p>a</p>'), textResponse('<p>b</p>'), opts, l.fields).differences.map(differencePath)).toEqual(['body[0]'])
  })

  it('does not learn a whole-body difference between top-level scalars', () => {
    const l = new NoiseLearner()
    expect(l.learn(jsonResponse(1), jsonResponse(2), opts)).toEqual([])
    expect(l.fields.size).toBe(0)
  })

  it('learns a named header that changes between calls', () => {
    const l = new NoiseLearner()
    const withHeaders = compileCompareOptions({ headers: ['x-trace'] })
    expect(l.learn(jsonResponse({}, { headers: { 'x-trace': 't1' } }), jsonResponse({}, { headers: { 'x-trace': 't2' } }), withHeaders)).toEqual(['headers.x-trace'])
  })

  it('does not learn fields the route already ignores', () => {
    const l = new NoiseLearner()
    const ignoring = compileCompareOptions({ ignore: ['body.generatedAt'] })
    expect(l.learn(order(1), order(2), ignoring)).toEqual(['body.items[*].ts'])
  })

  it('learns at most MAX_NOISE_FIELDS fields, however many differ', () => {
    const l = new NoiseLearner()
    const wide = (v: number): CapturedResponse => jsonResponse(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, v])))
    const learned: string[] = []
    for (let i = 0; i < 6; i++) learned.push(...l.learn(wide(i), wide(i + 1), opts))
    expect(l.fields.size).toBe(MAX_NOISE_FIELDS)
    expect(learned).toHaveLength(MAX_NOISE_FIELDS)
    expect(new Set(learned).size).toBe(MAX_NOISE_FIELDS)
    // one comparison yields at most MAX_DIFFERENCES, so the bound is reached over several samples
    expect(MAX_NOISE_FIELDS).toBeGreaterThan(MAX_DIFFERENCES)
    expect(l.learn(wide(10), wide(11), opts)).toEqual([])
    expect(l.fields.size).toBe(MAX_NOISE_FIELDS)
    // the learned fields are ignored; the rest still show
    const r = compareResponses(wide(20), wide(21), opts, l.fields)
    expect(r.differences.map(differencePath)[0]).toBe(`body.f${MAX_NOISE_FIELDS}`)
  })
})
