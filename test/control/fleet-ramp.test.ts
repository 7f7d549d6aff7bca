import { beforeAll, describe, expect, it } from 'vitest'
import { until } from '../support/cli.ts'
import { fleetKafka, routeOf, startReplica, whenReady, type Replica, type RouteView } from '../support/fleet.ts'
import { admin as adminCall, call } from '../support/gateway.ts'
import { collect, topicsFor } from '../support/kafka.ts'
import type { ServerResponse } from 'node:http'
import type { Origin } from '../support/origin.ts'
import { openOrigin, withOrigins } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
})

const INTERVAL_MS = 400
type RampRoute = RouteView & { ramp: { paused: boolean; pausedReason?: string } }
type AuditEntry = { action: string; route: string; replica?: string; ramp?: { paused: boolean; reason?: string } }

const view = async (r: Replica): Promise<RampRoute> => (await routeOf(r, 'ramped')) as RampRoute

/** The replica whose last `control leader:` log line says it applies the requests. */
function leading(r: Replica): boolean {
  const lines = r.run.output().split('\n').filter((l) => l.includes('control leader:'))
  return lines.at(-1)?.includes('this replica applies') === true
}

async function leaderOf(fleet: readonly Replica[]): Promise<Replica> {
  await until(() => fleet.filter(leading).length === 1, 30_000, 'one control leader')
  return fleet.find(leading) as Replica
}

/** Every replica shows the ramp held, at one version, with the same reason. */
async function heldEverywhere(fleet: readonly Replica[], reason: string): Promise<RampRoute> {
  let seen: RampRoute[] = []
  await until(
    async () => {
      seen = await Promise.all(fleet.map(view))
      return seen.every((v) => v.ramp.paused && v.ramp.pausedReason === reason && v.version === seen[0]?.version && v.weight === seen[0]?.weight)
    },
    5000,
    'the ramp held on every replica',
  )
  return seen[0] as RampRoute
}

/** Polls for longer than two ramp steps: the weight and version must not move on any replica. */
async function staysAt(fleet: readonly Replica[], held: RampRoute): Promise<void> {
  const end = Date.now() + 3 * INTERVAL_MS
  while (Date.now() < end) {
    for (const r of fleet) expect(await view(r), r.name).toMatchObject({ weight: held.weight, version: held.version, ramp: { paused: true } })
  }
}

async function movesPast(fleet: readonly Replica[], weight: number): Promise<void> {
  for (const r of fleet) await until(async () => (await view(r)).weight > weight, 10 * INTERVAL_MS, `${r.name} to ramp past ${weight}`)
}

describe('state.shared: ramp pause and resume are fleet-wide', () => {
  it('a pause on a replica that is not the leader stops the ramp everywhere; a resume on another one moves it again; a new leader keeps the pause', async () => {
    const topics = topicsFor('fleet-ramp')
    const shared = {
      kafka: fleetKafka(topics),
      routes: [{ id: 'ramped', methods: ['GET' as const], path: '/ramped', weight: 0, mirror: 'off' as const, ramp: { steps: Array.from({ length: 20 }, (_, i) => (i + 1) * 5), intervalMs: INTERVAL_MS } }],
    }
    const audit = await collect<AuditEntry>(topics.audit)
    const fleet = await Promise.all(['p1', 'p2', 'p3'].map((n) => startReplica(n, shared, { legacy, cloud })))
    for (const r of fleet) await whenReady(r)
    const leader = await leaderOf(fleet)
    const [pauser, resumer] = fleet.filter((r) => r !== leader) as [Replica, Replica]
    await movesPast(fleet, 0)

    const paused = await adminCall(pauser.gw, '/routes/ramped/ramp/pause', { method: 'POST' })
    expect(paused.status).toBe(200)
    expect(paused.json()).toMatchObject({ paused: true, pausedReason: expect.stringMatching(/^paused by token:admin@/) })
    const reason = (paused.json() as { pausedReason: string }).pausedReason
    const held = await heldEverywhere(fleet, reason)
    await staysAt(fleet, held)

    const resumed = await adminCall(resumer.gw, '/routes/ramped/ramp/resume', { method: 'POST' })
    expect(resumed.status).toBe(200)
    expect(resumed.json()).toMatchObject({ paused: false })
    await movesPast(fleet, held.weight)
    for (const r of fleet) expect((await view(r)).ramp.paused, r.name).toBe(false)

    // held again, then the leader goes: its successor starts held
    expect((await adminCall(resumer.gw, '/routes/ramped/ramp/pause', { method: 'POST' })).status).toBe(200)
    const heldAgain = await heldEverywhere(fleet, (await view(resumer)).ramp.pausedReason as string)
    leader.run.child.kill('SIGTERM')
    await leader.run.exited
    const rest = fleet.filter((r) => r !== leader)
    const successor = await leaderOf(rest)
    await staysAt(rest, heldAgain)
    expect((await adminCall(pauser.gw, '/routes/ramped/ramp/resume', { method: 'POST' })).status).toBe(200)
    await movesPast(rest, heldAgain.weight)
    expect(successor.run.output()).toContain('ramp ramped → ')

    // each pause and each resume is one change, audited once, by the replica it was asked on
    const holds = (): AuditEntry[] => audit.messages.map((m) => m.value).filter((a) => a.action === 'ramp-pause' || a.action === 'ramp-resume')
    await until(() => holds().length >= 4, 5000, 'four hold records on the audit topic')
    expect(holds().map((a) => [a.action, a.replica, a.ramp?.paused])).toEqual([
      ['ramp-pause', pauser.name, true],
      ['ramp-resume', resumer.name, false],
      ['ramp-pause', resumer.name, true],
      ['ramp-resume', pauser.name, false],
    ])
    const listed = ((await adminCall(successor.gw, '/audit')).json() as AuditEntry[]).filter((a) => a.action.startsWith('ramp-'))
    expect(listed).toHaveLength(4)
    await audit.stop()
  }, 120_000)
})

describe('state.shared: a rollback on one replica holds the ramp everywhere', () => {
  it('one control record sets the weight to 0 and pauses the ramp on every replica, audited once', async () => {
    const topics = topicsFor('fleet-ramp-rollback')
    const shared = {
      kafka: fleetKafka(topics),
      routes: [{ id: 'ramped', methods: ['GET' as const], path: '/ramped', weight: 0, mirror: 'off' as const, ramp: { steps: Array.from({ length: 20 }, (_, i) => (i + 1) * 5), intervalMs: INTERVAL_MS } }],
    }
    const audit = await collect<AuditEntry & { after: { weight: number } }>(topics.audit)
    const fleet = await Promise.all(['b1', 'b2'].map((n) => startReplica(n, shared, { legacy, cloud })))
    for (const r of fleet) await whenReady(r)
    const leader = await leaderOf(fleet)
    const other = fleet.find((r) => r !== leader) as Replica
    await movesPast(fleet, 0)

    const rolled = await adminCall(other.gw, '/routes/ramped/rollback', { method: 'POST' })
    expect(rolled.status).toBe(200)
    expect(rolled.json()).toMatchObject({ weight: 0, ramp: { paused: true, pausedReason: expect.stringMatching(/^guard tripped: rolled back by token:admin@/) } })
    const held = await heldEverywhere(fleet, (rolled.json() as RampRoute).ramp.pausedReason as string)
    expect(held.weight).toBe(0)
    await staysAt(fleet, held)

    await until(() => audit.messages.some((m) => m.value.action === 'rollback'), 5000, 'the rollback on the audit topic')
    const rollbacks = audit.messages.map((m) => m.value).filter((a) => a.action === 'rollback')
    expect(rollbacks).toHaveLength(1)
    expect(rollbacks[0]).toMatchObject({ replica: other.name, after: { weight: 0 }, ramp: { paused: true } })
    await audit.stop()
  }, 120_000)
})

describe('state.shared: a guard trip on one replica holds the ramp everywhere', () => {
  it('the trip sets the weight back and pauses the ramp on every replica in one change; the leader steps no more', async () => {
    const topics = topicsFor('fleet-ramp-guard')
    const shared = {
      kafka: fleetKafka(topics),
      routes: [
        {
          id: 'ramped',
          methods: ['GET' as const],
          path: '/ramped/:id',
          weight: 0,
          mirror: 'off' as const,
          ramp: { steps: [50, 100], intervalMs: 1000 },
          guard: { maxErrorRate: 0.02, windowMs: 10_000, minRequests: 20 },
        },
      ],
    }
    const answer = (res: ServerResponse, status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': 2 })
      res.end('{}')
    }
    let calls = 0
    const good = await openOrigin('legacy', (_req, res) => answer(res, 200))
    // every other answer is a 500
    const bad = await openOrigin('cloud', (_req, res) => answer(res, ++calls % 2 === 0 ? 500 : 200))
    const audit = await collect<AuditEntry & { after: { weight: number } }>(topics.audit)
    const fleet = await Promise.all(['t1', 't2'].map((n) => startReplica(n, shared, { legacy: good, cloud: bad })))
    for (const r of fleet) await whenReady(r)
    const leader = await leaderOf(fleet)
    const other = fleet.find((r) => r !== leader) as Replica
    // the first step needs no proof: 0 → 50
    for (const r of fleet) await until(async () => (await view(r)).weight === 50, 10_000, `${r.name} at 50`)
    // traffic through the replica that is not the leader: only its guard sees the errors
    // (guards are checked every second: traffic goes on until the trip)
    let i = 0
    await until(
      async () => {
        await call(`${other.dataUrl}/ramped/${i++}`)
        return (await view(other)).weight === 0
      },
      20_000,
      'the guard on the other replica to trip',
    )
    const reason = (await view(other)).ramp.pausedReason ?? ''
    expect(reason).toMatch(/^guard tripped: error-rate /)
    const held = await heldEverywhere(fleet, reason)
    expect(held.weight).toBe(0)
    // two intervals and more: the leader's ramp does not take the first step again
    const end = Date.now() + 2500
    while (Date.now() < end) for (const r of fleet) expect(await view(r), r.name).toMatchObject({ weight: 0, version: held.version, ramp: { paused: true } })
    await until(() => audit.messages.some((m) => m.value.action.startsWith('guard-trip')), 5000, 'the trip on the audit topic')
    const trips = audit.messages.map((m) => m.value).filter((a) => a.action.startsWith('guard-trip'))
    expect(trips).toHaveLength(1)
    expect(trips[0]).toMatchObject({ replica: other.name, after: { weight: 0 }, ramp: { paused: true, reason } })
    await audit.stop()
  }, 120_000)
})
