import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { assessResponse, type FreshnessInput } from '../../src/cache/freshness.ts'

const NOW = Date.parse('2024-05-01T12:00:00Z')

function assess(headers: IncomingHttpHeaders, over: Partial<FreshnessInput> = {}) {
  return assessResponse({ status: 200, headers, authorization: false, requestCacheControl: undefined, ttlMs: 60_000, staleIfErrorMs: 30_000, now: NOW, ...over })
}

describe('assessResponse: what may be stored', () => {
  it.each([200, 203, 300, 301, 404, 410])('stores status %i', (status) => {
    expect(assess({}, { status }).storable).toBe(true)
  })

  it.each([201, 204, 206, 302, 304, 400, 401, 403, 500, 502, 503])('does not store status %i', (status) => {
    expect(assess({}, { status })).toEqual({ storable: false, reason: 'status' })
  })

  it.each([
    ['no-store', 'no-store'],
    ['max-age=60, no-store', 'no-store'],
    ['private', 'private'],
    ['private="set-cookie", max-age=60', 'private'],
    ['public, private', 'private'],
    ['no-cache', 'no-cache'],
    ['no-cache="x-user", max-age=60', 'no-cache'],
    ['max-age=0', 'expired'],
    ['s-maxage=0, max-age=60', 'expired'],
    ['max-age=abc', 'expired'],
  ])('Cache-Control: %s → not storable (%s)', (cc, reason) => {
    expect(assess({ 'cache-control': cc })).toEqual({ storable: false, reason })
  })

  it.each(['public', 'max-age=30', 'public, max-age=30', 's-maxage=10', 'must-revalidate', 'immutable, max-age=30'])('Cache-Control: %s → storable', (cc) => {
    expect(assess({ 'cache-control': cc }).storable).toBe(true)
  })

  it('never stores an answer that sets a cookie', () => {
    expect(assess({ 'set-cookie': ['sid=1'], 'cache-control': 'public, max-age=60' })).toEqual({ storable: false, reason: 'set-cookie' })
  })

  it('stores an answer to a request with Authorization only when a shared cache may (RFC 9111 §3.5)', () => {
    expect(assess({}, { authorization: true })).toEqual({ storable: false, reason: 'authorization' })
    expect(assess({ 'cache-control': 'max-age=60' }, { authorization: true })).toEqual({ storable: false, reason: 'authorization' })
    expect(assess({ 'cache-control': 'public' }, { authorization: true }).storable).toBe(true)
    expect(assess({ 'cache-control': 's-maxage=60' }, { authorization: true }).storable).toBe(true)
    expect(assess({ 'cache-control': 'must-revalidate, max-age=60' }, { authorization: true }).storable).toBe(true)
  })

  it('honours a request no-store and ignores request no-cache', () => {
    expect(assess({}, { requestCacheControl: 'no-store' })).toEqual({ storable: false, reason: 'request-no-store' })
    expect(assess({}, { requestCacheControl: 'no-cache, max-age=0' }).storable).toBe(true)
  })
})

describe('assessResponse: how long', () => {
  it('uses the route ttl when the backend says nothing', () => {
    expect(assess({})).toEqual({ storable: true, freshMs: 60_000, staleMs: 30_000, initialAgeMs: 0 })
  })

  it('caps the route ttl with max-age, and max-age with the route ttl', () => {
    expect(assess({ 'cache-control': 'max-age=10' })).toMatchObject({ freshMs: 10_000 })
    expect(assess({ 'cache-control': 'max-age=600' })).toMatchObject({ freshMs: 60_000 })
  })

  it('prefers s-maxage over max-age (shared cache, RFC 9111 §5.2.2.10)', () => {
    expect(assess({ 'cache-control': 'max-age=5, s-maxage=20' })).toMatchObject({ freshMs: 20_000 })
    expect(assess({ 'cache-control': 'max-age=50, s-maxage=20' })).toMatchObject({ freshMs: 20_000 })
  })

  it('subtracts the Age the answer already has', () => {
    expect(assess({ 'cache-control': 'max-age=60', age: '45' })).toMatchObject({ freshMs: 15_000, initialAgeMs: 45_000 })
    expect(assess({ 'cache-control': 'max-age=60', age: '60' })).toEqual({ storable: false, reason: 'expired' })
    expect(assess({ 'cache-control': 'max-age=60', age: 'soon' })).toMatchObject({ freshMs: 60_000, initialAgeMs: 0 })
  })

  it('uses Expires − Date without max-age, and treats an invalid Expires as expired', () => {
    const date = new Date(NOW - 3600_000).toUTCString() // the backend's clock is an hour behind
    expect(assess({ date, expires: new Date(NOW - 3600_000 + 20_000).toUTCString() })).toMatchObject({ freshMs: 20_000 })
    expect(assess({ expires: new Date(NOW + 5_000).toUTCString() })).toMatchObject({ freshMs: 5_000 })
    expect(assess({ expires: '0' })).toEqual({ storable: false, reason: 'expired' })
    expect(assess({ expires: new Date(NOW - 1000).toUTCString() })).toEqual({ storable: false, reason: 'expired' })
    expect(assess({ 'cache-control': 'max-age=30', expires: '0' })).toMatchObject({ freshMs: 30_000 })
  })

  it('sizes the stale window from the route, capped by stale-if-error', () => {
    expect(assess({ 'cache-control': 'max-age=10, stale-if-error=5' })).toMatchObject({ staleMs: 5_000 })
    expect(assess({ 'cache-control': 'max-age=10, stale-if-error=3600' })).toMatchObject({ staleMs: 30_000 })
    expect(assess({ 'cache-control': 'stale-if-error=3600' }, { staleIfErrorMs: 0 })).toMatchObject({ staleMs: 0 })
  })

  it('allows no stale use after must-revalidate, proxy-revalidate or s-maxage, unless stale-if-error says so', () => {
    expect(assess({ 'cache-control': 'max-age=10, must-revalidate' })).toMatchObject({ staleMs: 0 })
    expect(assess({ 'cache-control': 'max-age=10, proxy-revalidate' })).toMatchObject({ staleMs: 0 })
    expect(assess({ 'cache-control': 's-maxage=10' })).toMatchObject({ staleMs: 0 })
    expect(assess({ 'cache-control': 's-maxage=10, stale-if-error=20' })).toMatchObject({ staleMs: 20_000 })
  })
})
