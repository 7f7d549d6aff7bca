import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { backends, problems } from '../support/config.ts'


describe('config validation', () => {
  it('fills defaults and freezes the result', () => {
    const cfg = validateConfig({ backends, routes: [{ id: 'a', path: '/a' }] })
    expect(cfg.listen).toEqual({ host: '0.0.0.0', port: 8080, trustProxy: false })
    expect(cfg.routes[0]).toMatchObject({ weight: 0, mirror: 'writes', readSample: 1 })
    expect(cfg.fallback).toBe('legacy')
    expect(Object.isFrozen(cfg.routes[0])).toBe(true)
    expect(() => {
      ;(cfg.routes[0] as { weight: number }).weight = 5
    }).toThrow()
  })

  it('refuses an admin token of whitespace, or with whitespace in it', () => {
    expect(problems({ backends, admin: { token: ' '.repeat(16) } })).toEqual(['admin.token: must not contain whitespace'])
    expect(problems({ backends, admin: { token: 'abcdefgh ijklmnop' } })).toEqual(['admin.token: must not contain whitespace'])
    expect(validateConfig({ backends, admin: { token: 'abcdefghijklmnop' } }).admin.token).toBe('abcdefghijklmnop')
  })

  it('refuses state.shared without a kafka section', () => {
    expect(problems({ backends, state: { shared: true } })).toEqual(['state.shared: needs a kafka section'])
    expect(validateConfig({ backends, state: { shared: true }, kafka: { brokers: ['127.0.0.1:9092'] } }).state.shared).toBe(true)
    expect(validateConfig({ backends }).state.shared).toBe(false)
  })

  it('reads request bodies before forwarding unless a route sets streamBody', () => {
    const cfg = validateConfig({ backends, routes: [{ id: 'a', path: '/a' }, { id: 'b', path: '/b', streamBody: true }] })
    expect(cfg.routes.map((r) => r.streamBody)).toEqual([false, true])
  })

  it('names the path of every bad field', () => {
    const list = problems({
      backends: { ...backends, cloud: { url: 'ftp://x', timeoutMs: -1 } },
      routes: [
        { id: 'ok', path: '/a' },
        { id: 'ok2', path: '/b', weight: 7 },
        { id: 'bad', path: '/c', weight: 101, mirror: 'sometimes', readSample: 2 },
      ],
    })
    expect(list).toContain('routes[2].weight: must be an integer from 0 to 100')
    expect(list).toContain("routes[2].mirror: must be one of 'off', 'writes', 'all'")
    expect(list).toContain('routes[2].readSample: must be a number from 0 to 1')
    expect(list).toContain('backends.cloud.url: must be an http:// or https:// URL without query or fragment')
    expect(list).toContain('backends.cloud.timeoutMs: must be at least 1 ms')
  })

  it('rejects unknown keys with their path', () => {
    const list = problems({ backends, routes: [{ id: 'a', path: '/a', wieght: 5 }], extra: true })
    expect(list).toContain('routes[0].wieght: unknown option')
    expect(list).toContain('extra: unknown option')
  })

  it('checks cross-field rules: backends, fallback, duplicate ids, rewrite params, patterns', () => {
    const list = problems({
      backends: { legacy: backends.legacy },
      fallback: 'nowhere',
      routes: [
        { id: 'a', path: '/a/:id', rewrite: { cloud: '/v2/:key' } },
        { id: 'a', path: 'no-slash' },
        { id: 'c', path: '/x/*/y' },
      ],
    })
    expect(list).toContain('backends.cloud: is required')
    expect(list.some((l) => l.startsWith('fallback: must be a backend name'))).toBe(true)
    expect(list).toContain("routes[1].id: duplicate route id 'a'")
    expect(list).toContain("routes[0].rewrite.cloud: uses ':key' which the route path does not define")
    expect(list).toContain("routes[1].path: must start with '/'")
    expect(list).toContain("routes[2].path: '*' is only allowed as the last segment")
  })

  it('accepts the shapes the README and docs/config.md document', () => {
    const cfg = validateConfig({
      backends,
      routes: [
        { id: 'a', path: '/a/:id', sticky: { header: 'X-User-Id' }, rewrite: { cloud: '/v2/a/:id' } },
        { id: 'b', path: '/b/*', sticky: { cookie: 'sid' } },
        { id: 'c', path: '/c', sticky: 'ip', match: { headers: { 'x-tenant': 'acme' } } },
      ],
      fallback: 404,
    })
    expect(cfg.routes[0]?.sticky).toEqual({ header: 'x-user-id' })
    expect(cfg.fallback).toBe(404)
  })
})

describe('field paths in the config', () => {
  const route = (extra: Record<string, unknown>) => ({ backends, routes: [{ id: 'r', path: '/r', ...extra }] })

  it('accepts every form an event reports, and its wildcard form, in ignore, redact and propagate', () => {
    const paths = ['status', 'headers.etag', 'body', 'body[3].id', 'body[*].id', 'body[*]', 'body.items[*].price', 'body["a.b"]']
    expect(() => validateConfig(route({ compare: { ignore: paths }, redact: paths, propagate: [{ from: 'body[0].id', to: 'body.items[0].id' }, { from: 'headers.location', to: 'header.x-loc' }] }))).not.toThrow()
  })

  it('names the bad path and says why', () => {
    const list = problems(route({ compare: { ignore: ['body.ok', 'bodyy.x'] }, redact: ['body[x]'], propagate: [{ from: 'body.id', to: 'body[*].id' }, { from: 'body.id', to: 'query.id' }] }))
    expect(list).toContainEqual(expect.stringMatching(/^routes\[0\]\.compare\.ignore\[1\]: 'bodyy\.x' is not a field path: it must start with/))
    expect(list).toContainEqual(expect.stringMatching(/^routes\[0\]\.redact\[0\]: 'body\[x\]' is not a field path/))
    expect(list).toContainEqual(expect.stringMatching(/^routes\[0\]\.propagate\[0\]\.to: 'body\[\*\]\.id' may not contain a wildcard/))
    expect(list).toContainEqual(expect.stringMatching(/^routes\[0\]\.propagate\[1\]\.to: 'query\.id' must be 'header\.NAME' or a body field path/))
  })

  it('compare.normalize takes true/false or field paths per rule; maxExamples is bounded', () => {
    expect(() => validateConfig(route({ compare: { normalize: { numericStrings: true, timestamps: ['body.at'], decimals: false }, maxExamples: 5 } }))).not.toThrow()
    const list = problems(route({ compare: { normalize: { numericStrings: 'yes', typo: true }, maxExamples: 0 } }))
    expect(list).toContain('routes[0].compare.normalize.numericStrings: must be true, false or a list of field paths')
    expect(list).toContain('routes[0].compare.normalize.typo: unknown option')
    expect(list).toContain('routes[0].compare.maxExamples: must be from 1 to 1000')
  })
})
