import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'

const base = { backends: { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } } }

function problems(routes: unknown[]): readonly string[] {
  try {
    validateConfig({ ...base, routes })
  } catch (err) {
    return (err as { details: readonly string[] }).details
  }
  return []
}

describe('route transform options', () => {
  it('accepts every step', () => {
    expect(
      problems([
        {
          id: 'a',
          path: '/a',
          transform: {
            cloud: {
              request: { renameHeaders: { 'x-user': 'x-user-id' }, dropHeaders: ['x-debug'], body: [{ rename: 'userId', to: 'user_id' }, { wrap: 'data' }] },
              response: {
                status: { '201': 200 },
                renameHeaders: { 'x-count': 'x-total' },
                dropHeaders: ['x-internal'],
                body: [{ unwrap: 'data' }, { wrap: 'items' }, { rename: 'items[*].user_id', to: 'userId' }, { move: 'meta.total', to: 'total' }, { drop: 'meta' }],
              },
            },
          },
        },
      ]),
    ).toEqual([])
  })

  it('names each bad step, a bad status and an unknown backend', () => {
    expect(
      problems([
        { id: 'a', path: '/a', transform: { clod: { response: {} }, cloud: { response: { status: { '2xx': 200 }, body: [{ unwrap: '' }, { rename: 'a', to: 'b.c' }, { flatten: 'x' }] } } } },
      ]),
    ).toEqual([
      'routes[0].transform.cloud.response.status.2xx: must be a status code',
      "routes[0].transform.cloud.response.body[0].unwrap: must be a path such as 'data', 'meta.total' or 'items[*].user_id'",
      'routes[0].transform.cloud.response.body[1].to: must be one key (no dots or brackets)',
      'routes[0].transform.cloud.response.body[2]: must be one of { unwrap: PATH }, { wrap: KEY }, { rename: PATH, to: KEY }, { move: PATH, to: PATH }, { drop: PATH }',
      'routes[0].transform.clod: is not a configured backend',
    ])
  })
})
