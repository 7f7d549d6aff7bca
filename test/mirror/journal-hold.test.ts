import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

/** What a journalled write's client sees: its answer only once the write is on disk, unchanged. */
let gw: Gateway
let spool: string
const BIG = 'x'.repeat(200_000)

beforeAll(async () => {
  const setup = await withGateway({
    legacy: (req, res) => {
      const text = req.url?.includes('big') ? JSON.stringify({ big: BIG }) : '{"ok":true}'
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    },
    // cloud never answers in time: every job stays unfinished until its replay event is spooled
    cloud: () => undefined,
    config: ({ legacy, cloud }) => ({
      routes: [{ id: 'items', methods: ['POST'], path: '/items/*', weight: 0, mirror: 'writes' }],
      backends: { legacy: { url: legacy.url }, cloud: { url: cloud.url, timeoutMs: 300 } },
    }),
  })
  gw = setup.gw
  spool = (setup.config.spool as { dir: string }).dir
})

function journalText(): string {
  const dir = join(spool, 'w0', 'journal')
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('')
}

describe('a journalled write', () => {
  it('gets its answer only once its record is on disk', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call(`${gw.dataUrl}/items/${i}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `hold-${i}` }, body: `{"i":${i}}` })
      expect(res.status).toBe(201)
      expect(res.text).toBe('{"ok":true}')
      // read straight after the answer: the record is already in the file
      expect(journalText()).toContain(`"requestId":"hold-${i}"`)
    }
  })

  it('streams a large answer whole (all but its last chunk before the record is durable)', async () => {
    const res = await call(`${gw.dataUrl}/items/big`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'hold-big' }, body: '{}' })
    expect(res.status).toBe(201)
    expect(res.json()).toEqual({ big: BIG })
    expect(journalText()).toContain('"requestId":"hold-big"')
  })

  it('is done once its replay event is durable: nothing left to recover', async () => {
    await gw.data.mirror.idle()
    await expect.poll(() => gw.data.journal?.pending, { timeout: 10_000 }).toBe(0)
    const spooled = readdirSync(join(spool, 'w0')).filter((f) => f.endsWith('.ndjson'))
    const replays = spooled.flatMap((f) => readFileSync(join(spool, 'w0', f), 'utf8').trim().split('\n')).filter((l) => l.includes('"topic":"replay"'))
    expect(replays).toHaveLength(6)
  })
})
