import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions, differencePath } from '../../src/compare/comparator.ts'
import { DEFAULT_NOISE_SAMPLES, MAX_NOISE_FIELDS, NOISE_MIN_PAIRS, NoiseLearner } from '../../src/compare/noise-learner.ts'

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

/** Feeds NOISE_MIN_PAIRS independent pairs; returns everything learned. */
function learnEnough(l: NoiseLearner, pair: (n: number) => [CapturedResponse, CapturedResponse], opts = compileCompareOptions(undefined)): string[] {
  const added: string[] = []
  for (let i = 0; i < NOISE_MIN_PAIRS; i++) added.push(...l.learn(...pair(i * 2), opts))
  return added
}

describe('NoiseLearner.learn', () => {
  const opts = compileCompareOptions(undefined)
  const orders = (n: number): [CapturedResponse, CapturedResponse] => [order(n), order(n + 1)]

  it('learns a field only once it differed in NOISE_MIN_PAIRS independent pairs', () => {
    const l = new NoiseLearner()
    for (let i = 0; i < NOISE_MIN_PAIRS - 1; i++) expect(l.learn(order(i), order(i + 1), opts)).toEqual([])
    expect(l.fields.size).toBe(0)
    expect(l.snapshot().candidates).toEqual([
      { path: 'body.generatedAt', pairs: NOISE_MIN_PAIRS - 1 },
      { path: 'body.items[*].ts', pairs: NOISE_MIN_PAIRS - 1 },
    ])
    expect(l.learn(order(8), order(9), opts)).toEqual(['body.generatedAt', 'body.items[*].ts'])
    expect(l.fields.list()).toEqual(['body.generatedAt', 'body.items[*].ts'])
  })

  it('after learning, those fields are counted as noise between the two backends, others still reported', () => {
    const l = new NoiseLearner()
    const primary = order(5)
    const secondary = order(6, 11)
    expect(compareResponses(primary, secondary, opts).differences.map(differencePath).sort()).toEqual([
      'body.generatedAt',
      'body.items[0].ts',
      'body.items[1].ts',
      'body.total',
    ])
    learnEnough(l, orders)
    const r = compareResponses(primary, secondary, opts, l.fields)
    expect(r.differences).toEqual([{ path: ['body', 'total'], kind: 'changed', a: 10, b: 11 }])
    expect(r.noise).toBe(3)
  })

  it('a learned [*] pattern covers elements the samples never had', () => {
    const l = new NoiseLearner()
    learnEnough(l, orders)
    const long = (n: number): CapturedResponse => jsonResponse({ id: 7, total: 10, generatedAt: 'x', items: Array.from({ length: 5 }, (_, i) => ({ sku: 's', qty: i, ts: `${n}-${i}` })) })
    const r = compareResponses(long(1), long(2), opts, l.fields)
    expect(r.differences).toEqual([])
    expect(r.noise).toBe(5)
  })

  it('a learned field that is missing on one side is still reported', () => {
    const l = new NoiseLearner()
    learnEnough(l, orders)
    const r = compareResponses(jsonResponse({ generatedAt: 'x' }), jsonResponse({}), opts, l.fields)
    expect(r.differences).toEqual([{ path: ['body', 'generatedAt'], kind: 'missing', a: 'x', b: undefined }])
  })

  it('never learns a container or a whole array, so a list of 44 against an empty list is always reported', () => {
    const l = new NoiseLearner()
    const list = (n: number): CapturedResponse => jsonResponse(Array.from({ length: n }, (_, i) => ({ id: i, title: `t${i}` })))
    const ids = (n: number): CapturedResponse => jsonResponse({ ids: Array.from({ length: 3 }, (_, i) => n * 10 + i), meta: n % 2 === 0 ? null : { x: 1 } })
    // lists that change under concurrent writes, scalar arrays, objects turning null
    for (let i = 0; i < 10; i++) {
      expect(l.learn(list(44), list(i), opts)).toEqual([])
      expect(l.learn(ids(i), ids(i + 1), opts)).toEqual([])
    }
    expect(l.fields.list()).toEqual([])
    const r = compareResponses(list(44), list(0), opts, l.fields)
    expect(r.total).toBe(45)
    expect(r.differences[0]).toEqual({ path: ['body'], kind: 'length', a: 44, b: 0 })
  })

  it('a discarded pair teaches nothing and is replaced by another sample', () => {
    const l = new NoiseLearner(2)
    expect(l.take()).toBe(true)
    l.discard()
    expect(l.take()).toBe(true)
    expect(l.take()).toBe(true)
    expect(l.take()).toBe(false)
    expect(l.snapshot()).toMatchObject({ samples: 2, discarded: 1, learning: false })
  })

  it('gives up sampling after five times its samples in discarded pairs', () => {
    const l = new NoiseLearner(2)
    let taken = 0
    while (l.take()) {
      taken++
      l.discard()
    }
    expect(taken).toBe(10)
  })

  it('clear() forgets what it learned and starts sampling again', () => {
    const l = new NoiseLearner(3)
    while (l.take());
    learnEnough(l, orders)
    expect(l.fields.size).toBe(2)
    l.clear()
    expect(l.snapshot()).toEqual({ fields: [], candidates: [], samples: 0, pairs: 0, discarded: 0, learning: true })
    expect(l.take()).toBe(true)
  })

  it('returns only newly learned paths; identical samples teach nothing', () => {
    const l = new NoiseLearner()
    expect(learnEnough(l, orders)).toHaveLength(2)
    expect(l.learn(order(3), order(4), opts)).toEqual([])
    expect(l.learn(order(3), order(3), opts)).toEqual([])
    expect(l.fields.size).toBe(2)
  })

  it('does not learn a status that changes between calls', () => {
    const l = new NoiseLearner()
    expect(learnEnough(l, () => [jsonResponse({ a: 1 }, { status: 200 }), jsonResponse({ a: 1 }, { status: 503 })])).toEqual([])
    expect(l.fields.size).toBe(0)
    const r = compareResponses(jsonResponse({}, { status: 200 }), jsonResponse({}, { status: 503 }), opts, l.fields)
    expect(r.differences.map(differencePath)).toEqual(['status'])
  })

  it('does not learn a whole-body digest difference (non-JSON bodies)', () => {
    const l = new NoiseLearner()
    expect(learnEnough(l, (n) => [textResponse(`<p>nonce=${n}</p>`), textResponse(`<p>nonce=${n + 1}</p>`)])).toEqual([])
    expect(l.fields.size).toBe(0)
    expect(compareResponses(textResponse('<p>a</p>'), textResponse('<p>b</p>'), opts, l.fields).differences.map(differencePath)).toEqual(['body[0]'])
  })

  it('does not learn a whole-body difference between top-level scalars', () => {
    const l = new NoiseLearner()
    expect(learnEnough(l, (n) => [jsonResponse(n), jsonResponse(n + 1)])).toEqual([])
    expect(l.fields.size).toBe(0)
  })

  it('learns a named header that changes between calls', () => {
    const l = new NoiseLearner()
    const withHeaders = compileCompareOptions({ headers: ['x-trace'] })
    expect(learnEnough(l, (n) => [jsonResponse({}, { headers: { 'x-trace': `t${n}` } }), jsonResponse({}, { headers: { 'x-trace': `t${n + 1}` } })], withHeaders)).toEqual(['headers.x-trace'])
  })

  it('does not learn fields the route already ignores', () => {
    const l = new NoiseLearner()
    const ignoring = compileCompareOptions({ ignore: ['body.generatedAt'] })
    expect(learnEnough(l, orders, ignoring)).toEqual(['body.items[*].ts'])
  })

  it('learns at most MAX_NOISE_FIELDS fields, however many differ', () => {
    const l = new NoiseLearner()
    const wide = (v: number): CapturedResponse => jsonResponse(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, v])))
    const learned = learnEnough(l, (n) => [wide(n), wide(n + 1)])
    expect(l.fields.size).toBe(MAX_NOISE_FIELDS)
    expect(learned).toHaveLength(MAX_NOISE_FIELDS)
    expect(new Set(learned).size).toBe(MAX_NOISE_FIELDS)
    expect(l.learn(wide(10), wide(11), opts)).toEqual([])
    expect(l.fields.size).toBe(MAX_NOISE_FIELDS)
    // the learned fields are noise; the rest still show, and every one is counted
    const r = compareResponses(wide(20), wide(21), opts, l.fields)
    expect(r.differences.map(differencePath)[0]).toBe(`body.f${MAX_NOISE_FIELDS}`)
    expect(r.total).toBe(200 - MAX_NOISE_FIELDS)
    expect(r.noise).toBe(MAX_NOISE_FIELDS)
  })
})

describe('NoiseLearner.adopt', () => {
  it('takes over leaf fields another learner learned, within MAX_NOISE_FIELDS, and lists them as fromFleet', () => {
    const l = new NoiseLearner()
    expect(l.adopt('body.generatedAt')).toBe(true)
    expect(l.adopt('body.generatedAt')).toBe(false)
    for (const p of ['body', 'status', 'headers', 'body.tags[*]', 'body.items[*]', 'body.items[0]', 'nonsense']) expect(l.adopt(p), p).toBe(false)
    expect(l.snapshot()).toMatchObject({ fields: ['body.generatedAt'], fromFleet: ['body.generatedAt'], samples: 0, learning: true })
    for (let i = 0; l.fields.size < MAX_NOISE_FIELDS; i++) l.adopt(`body.f${i}`)
    expect(l.adopt('body.oneMore')).toBe(false)
    l.clear()
    expect(l.snapshot()).toEqual({ fields: [], candidates: [], samples: 0, pairs: 0, discarded: 0, learning: true })
  })

  it('an adopted field hides only a changed value, like a learned one', () => {
    const l = new NoiseLearner()
    l.adopt('body.generatedAt')
    const opts = compileCompareOptions(undefined)
    expect(compareResponses(order(1), order(2), opts, l.fields).differences.map(differencePath)).toEqual(['body.items[0].ts', 'body.items[1].ts'])
    expect(compareResponses(jsonResponse({ generatedAt: 'x' }), jsonResponse({}), opts, l.fields).differences.map(differencePath)).toEqual(['body.generatedAt'])
  })
})
