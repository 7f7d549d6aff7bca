import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { MemoryIdMap } from '../../src/ids/id-map.ts'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { exitCode, reconcile } from '../../src/reconcile/reconcile.ts'
import { call, gatewayFor, testConfig } from '../support/gateway.ts'
import { startStoreBackend, type StoreBackend } from '../support/store-backend.ts'

// Writes go through the gateway and are mirrored (the secondary takes the primary's id through
// `propagate`); reconcile then finds both stores equal, and finds what the mirror missed.
let legacy: StoreBackend
let cloud: StoreBackend
let gw: Gateway
let input: CutoverConfigInput

beforeAll(async () => {
  legacy = await startStoreBackend('legacy')
  cloud = await startStoreBackend('cloud')
  input = testConfig(legacy.origin.url, cloud.origin.url, {
    routes: [
      {
        id: 'items',
        methods: ['POST', 'PUT', 'DELETE', 'GET'],
        path: '/items/*',
        weight: 0,
        mirror: 'writes',
        propagate: [{ from: 'body.id', to: 'header.x-cutover-entity-id' }],
        reconcile: { list: '/items', item: '/items/:id', pagination: { style: 'none' } },
      },
    ],
  })
  gw = await gatewayFor(input)
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([legacy?.origin.close(), cloud?.origin.close()])
})

async function write(method: string, path: string, body: unknown): Promise<void> {
  const res = await call(`${gw.dataUrl}${path}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  expect(res.status).toBeLessThan(300)
}

describe('reconcile after mirrored writes', () => {
  it('0 differences after 50 mirrored creates, updates and deletes; a write the mirror missed is found and repaired', async () => {
    for (let i = 0; i < 50; i++) await write('POST', '/items', { n: i })
    for (let i = 1; i <= 10; i++) await write('PUT', `/items/legacy-${i}`, { n: i, edited: true })
    for (let i = 11; i <= 15; i++) await write('DELETE', `/items/legacy-${i}`, {})
    await gw.data.mirror.idle()
    const opts = { config: validateConfig(input), ids: new MemoryIdMap(), repair: false, repairExtra: false, maxPages: 10, timeoutMs: 10_000, headers: {} }
    const clean = await reconcile(opts)
    expect(clean.routes[0]).toMatchObject({ matched: 45, differences: 0, complete: true })

    cloud.down = true
    await write('PUT', '/items/legacy-20', { n: 19, edited: 'while cloud was down' })
    await gw.data.mirror.idle()
    cloud.down = false
    const drift = await reconcile(opts)
    expect(drift.routes[0]!.differs).toEqual([
      { id: 'legacy-20', targetId: 'legacy-20', truncated: false, total: 1, fields: [{ path: 'body.edited', kind: 'missing', source: 'while cloud was down', target: undefined }] },
    ])
    expect(exitCode(drift)).toBe(1)

    const fixed = await reconcile({ ...opts, repair: true })
    expect(fixed.routes[0]!.repair).toMatchObject({ updated: 1, failed: [] })
    expect(fixed.differences).toBe(0)
    expect(cloud.items.get('legacy-20')).toEqual(legacy.items.get('legacy-20'))
  })
})
