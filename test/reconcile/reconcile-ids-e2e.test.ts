import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { startCloudPosts, startLegacyPosts, type PostStore } from '../support/post-stores.ts'

let legacy: PostStore
let cloud: PostStore
let gw: Gateway
let input: CutoverConfigInput

beforeAll(async () => {
  legacy = await startLegacyPosts()
  cloud = await startCloudPosts()
  input = testConfig(legacy.url, cloud.url, {
    routes: [
      { id: 'posts', methods: ['GET', 'POST'], path: '/posts', mirror: 'writes', ids: { map: 'posts', from: 'body.id' },
        reconcile: { list: '/posts', item: '/posts/:id', pagination: { style: 'page', pageSize: 7 } } },
      { id: 'post', methods: ['GET', 'PATCH', 'PUT', 'DELETE'], path: '/posts/:id', mirror: 'writes', ids: { map: 'posts', params: ['id'] } },
    ],
  } as Partial<CutoverConfigInput>)
  gw = await gatewayFor(input)
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
})

async function send(method: string, path: string, body?: unknown): Promise<{ id?: number }> {
  const res = await call(gw.dataUrl + path, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  expect(res.status).toBeLessThan(300)
  return res.json() as { id?: number }
}

describe('e2e: generated ids, mirrored through the gateway, then cutover reconcile', () => {
  it('0 differences after 50 creates + PATCH/DELETE; one divergent item reported exactly; --repair fixes it', async () => {
    const ids: number[] = []
    for (let i = 0; i < 50; i++) ids.push((await send('POST', '/posts', { title: `t${i}` })).id as number)
    for (const id of ids.slice(0, 20)) await send('PATCH', `/posts/${id}`, { text: `patched ${id}` })
    for (const id of ids.slice(40)) await send('DELETE', `/posts/${id}`)
    await gw.data.mirror.idle()
    const file = writeConfig(input)
    const clean = runCli(['reconcile', '--config', file])
    expect(await clean.exited).toBe(0)
    expect(clean.output()).toContain('0 differences in 1 route')
    const victim = [...cloud.posts.values()][3]!
    victim.title = 'diverged'
    const drift = runCli(['reconcile', '--config', file, '--json'])
    expect(await drift.exited).toBe(1)
    const out = drift.output()
    const report = JSON.parse(out.slice(out.indexOf('{\n  "schema"')))
    expect(report.routes[0].differs).toEqual([{ id: String(ids[3]), targetId: victim.id, truncated: false, total: 1, fields: [{ path: 'body.title', kind: 'changed', source: 't3', target: 'diverged' }] }])
    expect(report.differences).toBe(1)
    const fix = runCli(['reconcile', '--config', file, '--repair'])
    expect(await fix.exited).toBe(0)
    expect(victim.title === 't3' || cloud.posts.get(String(victim.id))?.title === 't3').toBe(true)
  })
})
