import type { ServerResponse } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { until } from '../support/cli.ts'
import { metricValue } from '../support/faults.ts'
import { fleetKafka, startReplica, whenReady, type Replica } from '../support/fleet.ts'
import { admin as adminCall, call } from '../support/gateway.ts'
import { topicsFor } from '../support/kafka.ts'
import type { Origin } from '../support/origin.ts'
import { withOrigins } from '../support/setup.ts'

/**
 * Both backends stamp every answer with a fresh `generatedAt` (noise); item 999 also has another
 * name on cloud (a real difference). Weight 0: legacy answers, cloud is mirrored and compared.
 */
let legacy: Origin
let cloud: Origin
let stamp = 0

function item(res: ServerResponse, id: string, name: string): void {
  const text = JSON.stringify({ id, name, generatedAt: `2026-12-01T00:00:00.${String(++stamp).padStart(6, '0')}Z` })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

beforeAll(async () => {
  const idOf = (url: string | undefined): string => (url ?? '').split('/').at(-1) ?? ''
  ;({ legacy, cloud } = await withOrigins({
    legacy: (req, res) => item(res, idOf(req.url), `item ${idOf(req.url)}`),
    cloud: (req, res) => item(res, idOf(req.url), idOf(req.url) === '999' ? 'renamed' : `item ${idOf(req.url)}`),
  }))
})

type Noise = { fields: string[]; fromFleet?: string[]; samples: number }
type Diff = { kind: string; noise: number; fields: { path: string; kind: string }[] }

const noiseOf = async (r: Replica): Promise<Noise> => (await adminCall(r.gw, '/routes/items/noise')).json() as Noise

async function outcomes(r: Replica): Promise<Record<'match' | 'noise' | 'mismatch', number>> {
  const [match, noise, mismatch] = await Promise.all((['match', 'noise', 'mismatch'] as const).map((outcome) => metricValue(r.gw, 'cutover_mirror_total', { route: 'items', outcome })))
  return { match: match as number, noise: noise as number, mismatch: mismatch as number }
}

async function newestDiff(r: Replica): Promise<Diff> {
  return ((await adminCall(r.gw, '/diffs?route=items&limit=1')).json() as Diff[])[0] as Diff
}

describe('state.shared: learned noise is shared by the fleet', () => {
  it('noise learned on replica 1 hides that field on replica 2, never a real difference; a clear on replica 2 clears it everywhere', async () => {
    const shared = {
      kafka: fleetKafka(topicsFor('fleet-noise')),
      routes: [{ id: 'items', methods: ['GET' as const], path: '/items/:id', weight: 0, mirror: 'all' as const }],
    }
    const [n1, n2] = (await Promise.all(['n1', 'n2'].map((n) => startReplica(n, shared, { legacy, cloud })))) as [Replica, Replica]
    for (const r of [n1, n2]) await whenReady(r)

    // mirrored reads through replica 1 only, until its learner has the timestamp
    for (let i = 0; !(await noiseOf(n1)).fields.includes('body.generatedAt'); i++) {
      expect(i, 'reads through n1 before it learned body.generatedAt').toBeLessThan(50)
      expect((await call(`${n1.dataUrl}/items/1`)).status).toBe(200)
    }
    expect((await noiseOf(n1)).fields).toEqual(['body.generatedAt'])
    await until(async () => (await noiseOf(n2)).fromFleet?.includes('body.generatedAt') === true, 5000, 'n2 to take over the field n1 learned')
    expect(await noiseOf(n2)).toMatchObject({ fields: ['body.generatedAt'], fromFleet: ['body.generatedAt'], samples: 0 })
    expect(await outcomes(n2)).toMatchObject({ match: 0, noise: 0, mismatch: 0 })

    // replica 2's very first mirrored exchange: only the timestamp differs, so it is no mismatch
    // (its own learner has one sample pair at most: it could not have learned the field itself)
    expect((await call(`${n2.dataUrl}/items/2`)).status).toBe(200)
    await until(async () => (await outcomes(n2)).noise === 1, 5000, 'the exchange through n2 counted')
    expect(await outcomes(n2)).toMatchObject({ noise: 1, mismatch: 0 })
    expect((await adminCall(n2.gw, '/diffs/summary?route=items')).json()).toMatchObject({ groups: [], events: 0 })

    // a real difference still shows, and the shared field stays hidden in it
    expect((await call(`${n2.dataUrl}/items/999`)).status).toBe(200)
    await until(async () => (await outcomes(n2)).mismatch === 1, 5000, 'the mismatch through n2 counted')
    expect(await newestDiff(n2)).toMatchObject({ kind: 'mismatch', noise: 1, fields: [{ path: 'body.name', kind: 'changed' }] })

    // a replica started later has what the fleet learned when it is ready
    const n3 = await startReplica('n3', shared, { legacy, cloud })
    await whenReady(n3)
    expect(await noiseOf(n3)).toMatchObject({ fields: ['body.generatedAt'], fromFleet: ['body.generatedAt'] })

    // a clear on replica 2 clears replicas 1 and 3 too
    const cleared = await adminCall(n2.gw, '/routes/items/noise', { method: 'DELETE' })
    expect(cleared.status).toBe(200)
    expect(cleared.json()).toMatchObject({ fields: [], samples: 0 })
    for (const r of [n1, n3]) await until(async () => (await noiseOf(r)).fields.length === 0, 5000, `${r.name} to forget the noise`)
    expect(await noiseOf(n1)).toMatchObject({ fields: [], samples: 0 })
    const before = (await outcomes(n1)).mismatch
    expect((await call(`${n1.dataUrl}/items/3`)).status).toBe(200)
    await until(async () => (await outcomes(n1)).mismatch === before + 1, 5000, 'the timestamp reported again on n1')
    expect(await newestDiff(n1)).toMatchObject({ kind: 'mismatch', noise: 0, fields: [{ path: 'body.generatedAt', kind: 'changed' }] })

    // the clear is audited once, where it was made, and listed by the other replicas
    await until(async () => ((await adminCall(n1.gw, '/audit')).json() as { action: string }[]).some((a) => a.action === 'noise-clear'), 5000, 'the clear in n1 GET /audit')
    const clears = ((await adminCall(n1.gw, '/audit')).json() as { action: string; replica?: string }[]).filter((a) => a.action === 'noise-clear')
    expect(clears).toEqual([expect.objectContaining({ replica: 'n2' })])
  }, 120_000)
})
