import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { runCli, writeConfig } from '../support/cli.ts'

function problems(input: unknown): readonly string[] {
  try {
    validateConfig(input)
  } catch (err) {
    return (err as { details: readonly string[] }).details
  }
  return []
}

describe('every problem in one run', () => {
  it('a field error does not hide the cross-field checks', () => {
    const details = problems({
      backends: { legacy: { url: 5 } },
      routes: [
        { id: 'a', path: '/a', weight: 500 },
        { id: 'a', path: '/b/:id', rewrite: { nope: '/:x' } },
      ],
      fallback: 'zzz',
    })
    expect(details).toEqual(
      expect.arrayContaining([
        'backends.legacy.url: must be a URL',
        'routes[0].weight: must be an integer from 0 to 100',
        'backends.cloud: is required',
        'fallback: must be a backend name (legacy) or 404',
        "routes[1].id: duplicate route id 'a'",
        'routes[1].rewrite.nope: is not a configured backend',
        "routes[1].rewrite.nope: uses ':x' which the route path does not define",
      ]),
    )
    expect(details).toHaveLength(7)
  })

  it('survives input of the wrong shape anywhere', () => {
    expect(problems({ backends: 7, routes: 'x' })).toEqual(['backends: Invalid input: expected record, received number', 'routes: Invalid input: expected array, received string'])
    expect(problems({ backends: { legacy: { url: 'http://a' }, cloud: { url: 'http://b' } }, routes: [null, { id: 3, path: 4 }, { id: 'x', path: 'bad' }, { id: 'x', path: '/x' }] })).toEqual([
      'routes[0]: Invalid input: expected object, received null',
      'routes[1].id: must be a string',
      'routes[1].path: must be a path pattern',
      "routes[2].path: must start with '/'",
      "routes[3].id: duplicate route id 'x'",
    ])
  })

  it('cutover check prints a backend type error and a duplicate route id together', async () => {
    const file = writeConfig({
      backends: { legacy: { url: 'http://127.0.0.1:3001', timeoutMs: 'soon' }, cloud: { url: 'http://127.0.0.1:3002' } },
      routes: [
        { id: 'orders', path: '/orders' },
        { id: 'orders', path: '/orders/:id' },
      ],
    } as never)
    const run = runCli(['check', '--config', file])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain('backends.legacy.timeoutMs: must be a whole number of milliseconds')
    expect(run.output()).toContain("routes[1].id: duplicate route id 'orders'")
  })
})
