import type { ServerResponse } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_NOISE_SAMPLES, type NoiseSnapshot } from '../../src/compare/noise-learner.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

/**
 * Noise learning while writes go through the gateway: legacy holds 44 posts, cloud none, and
 * every answer carries a fresh timestamp. During learning, legacy's list changes between the
 * two calls of some sample pairs, because a client created a post through the gateway in
 * between. Learning must learn the timestamp, and never the list or its count.
 */
let gw: Gateway
let stamp = 0
const posts: { id: number; title: string }[] = Array.from({ length: 44 }, (_, i) => ({ id: i + 1, title: `post ${i + 1}` }))
let writesDuringReads = true
let legacyReads = 0

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

beforeAll(async () => {
  ;({ gw } = await withGateway({
    legacy: (req, res, body) => {
      if (req.method === 'POST') {
        const post = { id: posts.length + 1, title: (JSON.parse(body.toString()) as { title: string }).title }
        posts.push(post)
        return sendJson(res, 201, post)
      }
      const list = () => sendJson(res, 200, { count: posts.length, items: posts, generatedAt: `2026-12-01T00:00:${String(++stamp % 60).padStart(2, '0')}Z` })
      // every fourth read of the list, a client creates a post through the gateway before the
      // list is answered: that read and the one after it see different lists for a real reason
      if (writesDuringReads && legacyReads++ % 4 === 0) {
        void call(`${gw.dataUrl}/posts`, { method: 'POST', body: JSON.stringify({ title: `new ${stamp}` }), headers: { 'content-type': 'application/json' } }).then(list)
      } else list()
    },
    cloud: (req, res) => {
      if (req.method === 'POST') return sendJson(res, 201, { id: 1 })
      sendJson(res, 200, { count: 0, items: [], generatedAt: `2026-12-01T00:00:${String(++stamp % 60).padStart(2, '0')}Z` })
    },
    config: {
      routes: [
        { id: 'posts-list', methods: ['GET'], path: '/posts', mirror: 'all' },
        { id: 'posts-create', methods: ['POST'], path: '/posts', mirror: 'off' },
      ],
    },
  }))
})

const noise = async (): Promise<NoiseSnapshot> => (await admin(gw, '/routes/posts-list/noise')).json() as NoiseSnapshot

describe('noise learning with writes in between', () => {
  it('learns the timestamp only, discards the pairs a write spoiled, and still reports 44 items against none', async () => {
    while ((await noise()).learning) {
      expect((await call(`${gw.dataUrl}/posts`)).status).toBe(200)
      await gw.data.mirror.idle()
    }
    const learned = await noise()
    expect(learned.fields).toEqual(['body.generatedAt'])
    expect(learned.samples).toBe(DEFAULT_NOISE_SAMPLES)
    expect(learned.discarded).toBeGreaterThanOrEqual(5)
    expect(posts.length).toBeGreaterThan(44)

    writesDuringReads = false
    const res = await call(`${gw.dataUrl}/posts`)
    await gw.data.mirror.idle()
    const event = gw.data.diffs.recent({ route: 'posts-list' }, 1)[0]!
    expect(event.requestId).toBe(res.headers['x-request-id'])
    const fields = event.fields.map((f) => `${f.kind} ${f.path}`)
    expect(fields).toContain('changed body.count')
    expect(fields).toContain('length body.items')
    expect(fields).toContain('missing body.items[*]')
    expect(fields.some((f) => f.includes('generatedAt'))).toBe(false)
    expect(event.noise).toBe(1)
    // the hidden timestamp is still counted
    const counted = (await gw.metrics.noiseDifferences.get()).values.find((v) => v.labels.route === 'posts-list')?.value ?? 0
    expect(counted).toBeGreaterThanOrEqual(1)
  })

  it('GET /routes lists the learned fields; DELETE …/noise clears them and learning starts again, audited', async () => {
    const routes = (await admin(gw, '/routes')).json() as { id: string; noise: string[] }[]
    expect(routes.find((r) => r.id === 'posts-list')!.noise).toEqual(['body.generatedAt'])
    const cleared = await admin(gw, '/routes/posts-list/noise', { method: 'DELETE' })
    expect(cleared.status).toBe(200)
    expect(cleared.json()).toMatchObject({ fields: [], samples: 0, learning: true })
    const res = await call(`${gw.dataUrl}/posts`)
    await gw.data.mirror.idle()
    // with nothing learned the timestamp is reported again
    const event = gw.data.diffs.recent({ route: 'posts-list' }, 1)[0]!
    expect(event.requestId).toBe(res.headers['x-request-id'])
    expect(event.fields.map((f) => f.path)).toContain('body.generatedAt')
    const audit = (await admin(gw, '/audit?limit=5')).json() as { action: string; route: string }[]
    expect(audit[0]).toMatchObject({ action: 'noise-clear', route: 'posts-list' })
    expect((await admin(gw, '/routes/nope/noise')).status).toBe(404)
    expect((await admin(gw, '/routes/posts-create/noise', { method: 'DELETE', token: null })).status).toBe(401)
  })
})
