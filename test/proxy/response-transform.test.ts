import type { ServerResponse } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { withGateway } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway

const POSTS = [
  { id: 1, userId: 'ann', title: 'a' },
  { id: 2, userId: 'bob', title: 'b' },
]

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

beforeAll(async () => {
  const toLegacyContract = {
    response: {
      status: { '201': 200 },
      renameHeaders: { 'x-count': 'x-total' },
      body: [{ unwrap: 'data' }, { rename: '[*].user_id', to: 'userId' }],
    },
  }
  ;({ legacy, cloud, gw } = await withGateway({
    // legacy: the contract clients use — a bare array, x-total, 200 on create
    legacy: (req, res) => {
      if (req.method === 'POST') return json(res, 200, { id: 3 })
      if (req.url === '/notes') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end('{"data":"not json for us"}')
      }
      json(res, 200, POSTS, { 'x-total': '2' })
    },
    // cloud: its new contract — an envelope, snake_case, x-count, 201 on create
    cloud: (req, res) => {
      if (req.method === 'POST') return json(res, 201, { data: { id: 3 } })
      if (req.url === '/v2/notes') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end('{"data":"not json for us"}')
      }
      json(res, 200, { data: POSTS.map((p) => ({ id: p.id, user_id: p.userId, title: p.title })), total: 2 }, { 'x-count': '2' })
    },
    config: {
      routes: [
        { id: 'posts', methods: ['GET'], path: '/posts', rewrite: { cloud: '/v2/posts' }, weight: 100, mirror: 'all', compare: { headers: ['x-total'], learnNoise: false }, transform: { cloud: toLegacyContract } },
        { id: 'create', methods: ['POST'], path: '/posts/new', rewrite: { cloud: '/v2/posts/new' }, weight: 100, mirror: 'off', transform: { cloud: { response: { status: { '201': 200 }, body: [{ unwrap: 'data' }] } } } },
        {
          id: 'orders',
          methods: ['POST'],
          path: '/orders',
          weight: 100,
          mirror: 'writes',
          transform: { cloud: { request: { renameHeaders: { 'x-user': 'x-user-id' }, dropHeaders: ['x-legacy-only'], body: [{ rename: 'userId', to: 'user_id' }, { wrap: 'data' }] } } },
        },
        { id: 'notes', methods: ['GET'], path: '/notes', rewrite: { cloud: '/v2/notes' }, weight: 100, mirror: 'off', transform: { cloud: { response: { body: [{ unwrap: 'data' }] } } } },
      ],
    },
  }))
})

async function mirrorCount(outcome: string): Promise<number> {
  const m = new RegExp(`cutover_mirror_total\\{route="posts",outcome="${outcome}"\\} (\\d+)`).exec((await admin(gw, '/metrics')).text)
  return Number(m?.[1] ?? 0)
}

describe('response transforms', () => {
  it('cloud’s { data: [...], total } reaches the client as the legacy bare array, and the comparison finds no difference', async () => {
    const res = await call(`${gw.dataUrl}/posts`)
    expect(res.headers['x-cutover-backend']).toBe('cloud')
    expect(res.json()).toEqual(POSTS)
    expect(res.headers['x-total']).toBe('2')
    expect(res.headers['x-count']).toBeUndefined()
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text))
    await expect.poll(() => mirrorCount('match'), { timeout: 5000 }).toBe(1)
    expect(await mirrorCount('mismatch')).toBe(0)
    expect((await admin(gw, '/diffs?route=posts')).json()).toEqual([])
  })

  it('the secondary’s answer is reshaped before comparing too (legacy primary, cloud mirrored)', async () => {
    await admin(gw, '/routes/posts', { method: 'PATCH', body: { weight: 0 } })
    const res = await call(`${gw.dataUrl}/posts`)
    expect(res.headers['x-cutover-backend']).toBe('legacy')
    expect(res.json()).toEqual(POSTS)
    await expect.poll(() => mirrorCount('match'), { timeout: 5000 }).toBe(2)
    expect(await mirrorCount('mismatch')).toBe(0)
  })

  it('maps the status and unwraps a write’s answer', async () => {
    const res = await call(`${gw.dataUrl}/posts/new`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ id: 3 })
  })

  it('leaves a body that is not JSON as sent', async () => {
    const res = await call(`${gw.dataUrl}/notes`)
    expect(res.text).toBe('{"data":"not json for us"}')
  })

  it('reshapes the request for the backend that wants it, and not for the other side', async () => {
    const res = await call(`${gw.dataUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'ann', 'x-legacy-only': '1' }, body: '{"userId":"ann","title":"t"}' })
    expect(res.headers['x-cutover-backend']).toBe('cloud')
    const toCloud = cloud.requests.find((r) => r.url === '/orders')
    expect(JSON.parse(toCloud?.body.toString() ?? '')).toEqual({ data: { user_id: 'ann', title: 't' } })
    expect(Number(toCloud?.headers['content-length'])).toBe(toCloud?.body.length)
    expect(toCloud?.headers['x-user-id']).toBe('ann')
    expect(toCloud?.headers['x-user']).toBeUndefined()
    expect(toCloud?.headers['x-legacy-only']).toBeUndefined()
    // the mirrored copy to legacy is the client's request as sent
    await expect.poll(() => legacy.requests.some((r) => r.url === '/orders'), { timeout: 5000 }).toBe(true)
    const toLegacy = legacy.requests.find((r) => r.url === '/orders')
    expect(toLegacy?.body.toString()).toBe('{"userId":"ann","title":"t"}')
    expect(toLegacy?.headers['x-user']).toBe('ann')
  })
})
