import { get, type ServerResponse } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { until } from '../support/cli.ts'
import { backendOf, fleetKafka, routeOf, startReplica as startOn, whenReady, type Replica, type RouteView } from '../support/fleet.ts'
import { admin as adminCall, call } from '../support/gateway.ts'
import { collect, topicsFor } from '../support/kafka.ts'
import { deadPort, type Origin } from '../support/origin.ts'
import { openOrigin, withOrigins } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin
const startReplica = (name: string, shared: Parameters<typeof startOn>[1], backends = { legacy, cloud }, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []): Promise<Replica> =>
  startOn(name, shared, backends, env, args)

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
})

describe('state.shared: three replicas, one control topic', () => {
  const shared = {
    kafka: fleetKafka(topicsFor('fleet')),
    routes: [{ id: 'r', methods: ['GET' as const], path: '/r', weight: 0 }],
  }
  let replicas: Replica[] = []

  beforeAll(async () => {
    replicas = await Promise.all(['r1', 'r2', 'r3'].map((n) => startReplica(n, shared)))
    for (const r of replicas) await whenReady(r)
    // everyone starts from the config: nothing on the topic yet
    for (const r of replicas) {
      expect(r.run.output()).toContain('control topic read: 0 routes')
      expect(await routeOf(r, 'r')).toMatchObject({ weight: 0, version: 1, sources: { weight: 'config', mirror: 'config', readSample: 'config' } })
    }
  }, 90_000)

  it('a PATCH on replica 1 is in effect on replicas 2 and 3 within 1 s', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica]
    const patch = await adminCall(r1.gw, '/routes/r', { method: 'PATCH', body: { weight: 100 } })
    expect(patch.status).toBe(200)
    expect(patch.json()).toMatchObject({ weight: 100, version: 2, sources: { weight: 'control-topic', mirror: 'control-topic', readSample: 'control-topic' } })
    const t0 = Date.now()
    for (const r of [r2, r3]) {
      await until(async () => (await backendOf(r, '/r')) === 'cloud', 1000 - (Date.now() - t0), `${r.name} to route /r to cloud`)
      expect(await routeOf(r, 'r')).toMatchObject({ weight: 100, version: 2, sources: { weight: 'control-topic', mirror: 'control-topic', readSample: 'control-topic' } })
    }
    // and it stays there: every request through every replica
    for (const r of replicas) for (let i = 0; i < 10; i++) expect(await backendOf(r, '/r')).toBe('cloud')
  })

  it('two concurrent PATCHes with the same If-Match on two replicas: one 200, one 409', async () => {
    const [, r2, r3] = replicas as [Replica, Replica, Replica]
    const answers = await Promise.all([
      adminCall(r2.gw, '/routes/r', { method: 'PATCH', headers: { 'if-match': '"2"' }, body: { weight: 40 } }),
      adminCall(r3.gw, '/routes/r', { method: 'PATCH', headers: { 'if-match': '"2"' }, body: { weight: 60 } }),
    ])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409])
    const winner = answers.find((a) => a.status === 200)?.json() as RouteView
    const loser = answers.find((a) => a.status === 409)?.json() as { error: { code: string } }
    expect(loser.error.code).toBe('CUTOVER_VERSION_CONFLICT')
    expect(winner.version).toBe(3)
    for (const r of replicas) await until(async () => (await routeOf(r, 'r')).version === 3, 1000, `${r.name} at version 3`)
    for (const r of replicas) expect((await routeOf(r, 'r')).weight).toBe(winner.weight)
  })

  it('GET /audit on replica 3 lists the change made on replica 1, once', async () => {
    const [, , r3] = replicas as [Replica, Replica, Replica]
    type Audit = { action: string; replica?: string; route: string; after: { weight: number; version: number } }
    const fromR1 = async (): Promise<Audit[]> => ((await adminCall(r3.gw, '/audit')).json() as Audit[]).filter((a) => a.replica === 'r1')
    await until(async () => (await fromR1()).length > 0, 5000, 'the audit record to reach replica 3')
    const records = await fromR1()
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ action: 'patch', route: 'r', after: { weight: 100, version: 2 } })
    // the rejected PATCH is not a change: two changes in all
    const all = (await adminCall(r3.gw, '/audit')).json() as Audit[]
    expect(all.map((a) => a.after.version).sort()).toEqual([2, 3])
  })

  it('a replica started later is ready only once it has the current state, and routes by it', async () => {
    await adminCall((replicas[0] as Replica).gw, '/routes/r', { method: 'PATCH', body: { weight: 100 } }).then((a) => expect(a.status).toBe(200))
    const late = await startReplica('r4', shared)
    await whenReady(late)
    // the first moment it says ready, it has the fleet's state, not the config's
    expect(await routeOf(late, 'r')).toMatchObject({ weight: 100, version: 4, sources: { weight: 'control-topic', mirror: 'control-topic', readSample: 'control-topic' } })
    expect(late.run.output()).toContain('control topic read: 1 routes')
    expect(late.run.output()).toContain('route r: state from the control topic')
    for (let i = 0; i < 10; i++) expect(await backendOf(late, '/r')).toBe('cloud')
  }, 60_000)
})

describe('state.shared: a guard trip on one replica', () => {
  it('rolls the route back on all three, with one audit record', async () => {
    const topics = topicsFor('fleet-guard')
    const shared = {
      kafka: fleetKafka(topics),
      routes: [{ id: 'g', methods: ['GET' as const], path: '/g/:id', weight: 50, mirror: 'off' as const, guard: { maxErrorRate: 0.02, windowMs: 10_000, minRequests: 50 } }],
    }
    let calls = 0
    const ok = (res: ServerResponse, status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': 2 })
      res.end('{}')
    }
    const good = await openOrigin('legacy', (_req, res) => ok(res, 200))
    // every tenth answer is a 500: a 10 % error rate, over the guard's 2 %
    const bad = await openOrigin('cloud', (_req, res) => ok(res, ++calls % 10 === 0 ? 500 : 200))
    const audit = await collect<{ action: string; route: string; replica?: string; after: { weight: number } }>(topics.audit)
    const fleet = await Promise.all(['g1', 'g2', 'g3'].map((n) => startReplica(n, shared, { legacy: good, cloud: bad })))
    for (const r of fleet) await whenReady(r)
    const [g1, g2, g3] = fleet as [Replica, Replica, Replica]
    // traffic through replica 2 only: only its guard sees the errors
    for (let i = 0; i < 300 && (await routeOf(g2, 'g')).weight > 0; i++) await call(`${g2.dataUrl}/g/${i}`)
    for (const r of fleet) await until(async () => (await routeOf(r, 'g')).weight === 0, 5000, `${r.name} rolled back`)
    for (const r of [g1, g3]) for (let i = 0; i < 20; i++) expect(await backendOf(r, `/g/${i}`)).toBe('legacy')
    await until(() => audit.messages.length >= 1, 5000, 'the audit record')
    const trips = audit.messages.filter((m) => m.value.action.startsWith('guard-trip'))
    expect(trips).toHaveLength(1)
    expect(trips[0]?.value).toMatchObject({ route: 'g', replica: 'g2', after: { weight: 0 } })
    const onG3 = ((await adminCall(g3.gw, '/audit')).json() as { action: string }[]).filter((a) => a.action.startsWith('guard-trip'))
    expect(onG3).toHaveLength(1)
    await audit.stop()
  }, 90_000)
})

describe('state.shared at start', () => {
  it('exits with a clear error when Kafka cannot be reached', async () => {
    const dead = `127.0.0.1:${await deadPort()}`
    const r = await startReplica('x1', { kafka: fleetKafka(topicsFor('fleet-dead'), [dead]), routes: [] }, { legacy, cloud }, { CUTOVER_KAFKA_BROKERS: dead })
    expect(await r.run.exited).toBe(1)
    expect(r.run.output()).toContain(`cannot read the control topic`)
    expect(r.run.output()).toContain(dead)
  }, 60_000)
})

describe('state.shared with --workers', () => {
  it('a change on another replica reaches every worker of a clustered replica', async () => {
    const shared = {
      kafka: fleetKafka(topicsFor('fleet-workers')),
      routes: [{ id: 'r', methods: ['GET' as const], path: '/r', weight: 0 }],
    }
    const [plain, clustered] = await Promise.all([startReplica('c1', shared), startReplica('c2', shared, { legacy, cloud }, {}, ['--workers', '2'])])
    for (const r of [plain as Replica, clustered as Replica]) await whenReady(r)
    const patch = await adminCall((plain as Replica).gw, '/routes/r', { method: 'PATCH', body: { weight: 100 } })
    expect(patch.status).toBe(200)
    await until(async () => (await routeOf(clustered as Replica, 'r')).version === 2, 1000, 'the clustered replica at version 2')
    // fresh connections: the cluster spreads them over both workers
    const backends = await Promise.all(Array.from({ length: 20 }, () => freshBackend(`${(clustered as Replica).dataUrl}/r`)))
    expect(new Set(backends)).toEqual(new Set(['cloud']))
    // and a change made on the clustered one reaches the plain one
    expect((await adminCall((clustered as Replica).gw, '/routes/r/rollback', { method: 'POST' })).status).toBe(200)
    await until(async () => (await routeOf(plain as Replica, 'r')).weight === 0, 1000, 'the rollback on the plain replica')
  }, 90_000)
})

function freshBackend(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(String(res.headers['x-cutover-backend'])))
    }).on('error', reject)
  })
}
