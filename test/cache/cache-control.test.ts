import { describe, expect, it } from 'vitest'
import { DELTA_SECONDS_MAX, deltaSeconds, NO_CACHE_CONTROL, parseCacheControl } from '../../src/cache/cache-control.ts'

describe('parseCacheControl', () => {
  it('gives the empty result for an absent or empty field', () => {
    expect(parseCacheControl(undefined)).toBe(NO_CACHE_CONTROL)
    expect(parseCacheControl('')).toBe(NO_CACHE_CONTROL)
  })

  it('reads the flags the cache acts on', () => {
    const cc = parseCacheControl('no-store, no-cache, private, public, must-revalidate, proxy-revalidate')
    expect(cc).toMatchObject({ noStore: true, noCache: true, isPrivate: true, isPublic: true, mustRevalidate: true, proxyRevalidate: true })
  })

  it('reads delta-seconds arguments', () => {
    expect(parseCacheControl('max-age=60, s-maxage=30, stale-if-error=600')).toMatchObject({ maxAge: 60, sMaxAge: 30, staleIfError: 600 })
  })

  it('ignores case and whitespace, including around =', () => {
    expect(parseCacheControl('  Max-Age = 60 ,\tPUBLIC,,')).toMatchObject({ maxAge: 60, isPublic: true, noStore: false })
  })

  it('accepts quoted arguments, with commas and escapes inside', () => {
    expect(parseCacheControl('max-age="120"')).toMatchObject({ maxAge: 120 })
    const cc = parseCacheControl('private="set-cookie, x-a", no-cache="x\\"y", max-age=5')
    expect(cc).toMatchObject({ isPrivate: true, noCache: true, maxAge: 5 })
  })

  it('joins repeated field lines', () => {
    expect(parseCacheControl(['public', 'max-age=9'])).toMatchObject({ isPublic: true, maxAge: 9 })
  })

  it('uses the first occurrence of a repeated directive (RFC 9111 §4.2.1)', () => {
    expect(parseCacheControl('max-age=10, max-age=1000').maxAge).toBe(10)
  })

  it('treats a missing or malformed argument as 0 (stale)', () => {
    expect(parseCacheControl('max-age').maxAge).toBe(0)
    expect(parseCacheControl('max-age=').maxAge).toBe(0)
    expect(parseCacheControl('max-age=1h').maxAge).toBe(0)
    expect(parseCacheControl('max-age=-5').maxAge).toBe(0)
    expect(parseCacheControl('s-maxage=1.5').sMaxAge).toBe(0)
  })

  it('ignores unknown directives and junk after an argument', () => {
    const cc = parseCacheControl('immutable, foo=bar, max-age=30 junk, community="UCI"')
    expect(cc).toMatchObject({ maxAge: 30, noStore: false, isPublic: false })
  })

  it('does not take a directive name for a prefix of another', () => {
    expect(parseCacheControl('no-storex, privately, max-ages=5')).toEqual(NO_CACHE_CONTROL)
  })

  it('caps huge values at 2^31 (RFC 9111 §1.2.2)', () => {
    expect(parseCacheControl('max-age=99999999999999999999').maxAge).toBe(DELTA_SECONDS_MAX)
    expect(deltaSeconds('2147483647')).toBe(2147483647)
  })
})
