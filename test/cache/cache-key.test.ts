import { describe, expect, it } from 'vitest'
import { indexPath, NO_VARY, normaliseQuery, parentPath, parseVary, varyKeyPart, varySet } from '../../src/cache/cache-key.ts'

describe('normaliseQuery', () => {
  it('drops an empty query', () => {
    expect(normaliseQuery('')).toBe('')
    expect(normaliseQuery('?')).toBe('')
    expect(normaliseQuery('?&&')).toBe('')
  })

  it('keeps a single parameter as it is', () => {
    expect(normaliseQuery('?a=1')).toBe('?a=1')
  })

  it('sorts parameters by name, stably, and drops empty pieces', () => {
    expect(normaliseQuery('?b=2&a=1')).toBe('?a=1&b=2')
    expect(normaliseQuery('?b=2&a=3&&a=1&c')).toBe('?a=3&a=1&b=2&c')
  })
})

describe('parseVary', () => {
  const base = varySet(['x-tenant'])

  it('joins the answer names with the route names, lower-case and sorted', () => {
    expect(parseVary('Accept-Language, Accept', base)?.names).toEqual(['accept', 'accept-language', 'x-tenant'])
  })

  it('returns the route set itself when the answer adds nothing', () => {
    expect(parseVary(undefined, base)).toBe(base)
    expect(parseVary('X-Tenant', base)).toBe(base)
    expect(parseVary(' , ', NO_VARY)).toBe(NO_VARY)
  })

  it('returns null for *', () => {
    expect(parseVary('accept, *', base)).toBeNull()
  })
})

describe('varyKeyPart', () => {
  it('tells an absent header from an empty one, and one name set from another', () => {
    const a = varySet(['a'])
    const b = varySet(['b'])
    expect(varyKeyPart(a, {})).not.toBe(varyKeyPart(a, { a: '' }))
    expect(varyKeyPart(a, { a: '1' })).not.toBe(varyKeyPart(b, { b: '1' }))
    expect(varyKeyPart(a, { a: '1' })).toBe(varyKeyPart(a, { a: '1', b: '2' }))
  })
})

describe('indexPath / parentPath', () => {
  it('strips a trailing slash except on the root', () => {
    expect(indexPath('/api/orders/')).toBe('/api/orders')
    expect(indexPath('/')).toBe('/')
  })

  it('finds the parent collection', () => {
    expect(parentPath('/api/orders/42')).toBe('/api/orders')
    expect(parentPath('/orders')).toBe('/')
    expect(parentPath('/')).toBeNull()
  })
})
