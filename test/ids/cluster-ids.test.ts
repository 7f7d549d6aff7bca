import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until } from '../support/cli.ts'
import { admin, testConfig } from '../support/gateway.ts'
import { startCloudPosts, startLegacyPosts, type PostStore } from '../support/post-stores.ts'
import { startCliGateway } from '../support/setup.ts'

let legacy: PostStore
let cloud: PostStore

beforeAll(async () => {
  legacy = await startLegacyPosts()
  cloud = await startCloudPosts()
})
afterAll(async () => {
  await Promise.all([legacy.close(), cloud.close()])
})

/** One request on a fresh connection, so the cluster spreads them over the workers. */
async function fresh(url: string, method: string, body: unknown): Promise<{ status: number; value: Record<string, unknown> }> {
  const res = await request(url, { method: method as 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify(body) })
  return { status: res.statusCode, value: (await res.body.json()) as Record<string, unknown> }
}

describe('--workers 2 without Kafka', () => {
  it('a pair one worker records reaches the other, so PATCHes land on the right cloud post whichever worker takes them', async () => {
    const cfg = testConfig(legacy.url, cloud.url, {
      routes: [
        { id: 'posts', methods: ['POST'], path: '/posts', ids: { map: 'posts', from: 'body.id' } },
        { id: 'post', methods: ['PATCH'], path: '/posts/:id', ids: { map: 'posts', params: ['id'] } },
      ],
    })
    // no Kafka, even when the test run has a broker: the workers share pairs over the cluster channel alone
    const { run, gw, port } = await startCliGateway(cfg, { args: ['--workers', '2'], env: { CUTOVER_KAFKA_BROKERS: '' } })
    const ids: number[] = []
    for (let i = 1; i <= 20; i++) ids.push((await fresh(`http://127.0.0.1:${port}/posts`, 'POST', { title: `t${i}` })).value.id as number)
    // every worker holds all 20 pairs
    await until(async () => ((await admin(gw, '/ids').catch(() => null))?.json() as { maps?: Record<string, number> } | null)?.maps?.posts === 20, 15_000, 'both workers to hold 20 pairs')
    for (const id of ids) expect((await fresh(`http://127.0.0.1:${port}/posts/${id}`, 'PATCH', { text: `patched ${id}` })).status).toBe(200)
    await until(() => [...cloud.posts.values()].filter((p) => typeof p.text === 'string').length === 20, 15_000, 'the mirrored PATCHes')
    for (const p of legacy.posts.values()) expect([...cloud.posts.values()].find((c) => c.title === p.title)?.text).toBe(`patched ${String(p.id)}`)
    expect(cloud.origin.requests.filter((r) => /^\/posts\/\d+$/.test(r.url))).toEqual([])
    const pids = new Set([...run.output().matchAll(/"workerPid":(\d+)[^\n]*worker listening/g)].map((m) => m[1]))
    expect(pids.size).toBe(2)
  })
})
