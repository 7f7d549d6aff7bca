import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { CutoverError } from '../../src/errors.ts'

const cloud = { url: 'http://127.0.0.1:3002' }

function problems(legacy: Record<string, unknown>): string[] {
  try {
    validateConfig({ backends: { legacy, cloud } })
  } catch (err) {
    expect(err).toBeInstanceOf(CutoverError)
    return [...(err as CutoverError).details]
  }
  throw new Error('expected the config to be refused')
}

describe('backend url / urls', () => {
  it('keeps a single url valid, listing it as the one endpoint, with the health defaults', () => {
    const cfg = validateConfig({ backends: { legacy: { url: 'http://127.0.0.1:3001/api' }, cloud } })
    expect(cfg.backends.legacy?.url).toBe('http://127.0.0.1:3001/api')
    expect(cfg.backends.legacy?.urls).toEqual(['http://127.0.0.1:3001/api'])
    expect(cfg.backends.legacy?.health).toEqual({ failures: 3, ejectMs: 10_000 })
  })

  it('takes several urls; url reads as the first', () => {
    const cfg = validateConfig({ backends: { legacy: { urls: ['http://10.0.0.1:80/v1', 'http://10.0.0.2:80/v1'], health: { failures: 5 } }, cloud } })
    expect(cfg.backends.legacy?.url).toBe('http://10.0.0.1:80/v1')
    expect(cfg.backends.legacy?.urls).toEqual(['http://10.0.0.1:80/v1', 'http://10.0.0.2:80/v1'])
    expect(cfg.backends.legacy?.health).toEqual({ failures: 5, ejectMs: 10_000 })
  })

  it('refuses neither, both, mixed schemes or paths, a repeated origin, an empty list, bad health, naming the path', () => {
    expect(problems({})).toEqual(['backends.legacy.url: is required (or urls, a list of endpoints)'])
    expect(problems({ url: 'http://a:1', urls: ['http://a:1'] })).toEqual(['backends.legacy.urls: cannot be given together with url: use one of the two'])
    expect(problems({ urls: ['http://a:1/v1', 'https://b:1/v1'] })).toEqual(['backends.legacy.urls[1]: must have the same scheme and path as urls[0] (http://…/v1)'])
    expect(problems({ urls: ['http://a:1/v1', 'http://b:1/v2'] })).toEqual(['backends.legacy.urls[1]: must have the same scheme and path as urls[0] (http://…/v1)'])
    expect(problems({ urls: ['http://a:1', 'http://b:1', 'http://a:1/'] })).toEqual(['backends.legacy.urls[2]: lists http://a:1 twice'])
    expect(problems({ urls: 'http://a:1' })).toEqual(['backends.legacy.urls: must be a list of URLs'])
    expect(problems({ urls: [] })).toEqual(['backends.legacy.urls: must list at least one URL'])
    expect(problems({ urls: ['http://a:1', 'ftp://b'] })).toEqual(['backends.legacy.urls[1]: must be an http:// or https:// URL without query or fragment'])
    expect(problems({ url: 'http://a:1', health: { failures: 0, ejectMs: 'x', extra: 1 } })).toEqual(
      expect.arrayContaining(['backends.legacy.health.failures: must be at least 1', 'backends.legacy.health.extra: unknown option']),
    )
  })
})
