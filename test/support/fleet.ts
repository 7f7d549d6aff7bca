import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { CliRun } from './cli.ts'
import { ADMIN_URL, startCliGateway, whenCliReady, whenLogged } from './setup.ts'
import { admin as adminCall, call, tempDir, testConfig, TOKEN } from './gateway.ts'
import { brokers, type topicsFor } from './kafka.ts'
import type { Origin } from './origin.ts'

/** Gateway processes started by the fleet tests (the teardown stops them after the test or file). */
const started: CliRun[] = []

/** Stops every replica now: for a test file that must stop its own broker after them. */
export async function stopReplicas(): Promise<void> {
  for (const run of started.splice(0)) {
    run.child.kill('SIGTERM')
    await run.exited
  }
}

/** The `kafka` block a fleet shares: `topics` on the test broker (or `brokerList`), a client id of its own. */
export function fleetKafka(topics: ReturnType<typeof topicsFor>, brokerList: string[] = brokers()): { brokers: string[]; clientId: string; topics: ReturnType<typeof topicsFor> } {
  return { brokers: brokerList, clientId: `fleet-${randomUUID().slice(0, 8)}`, topics }
}

export interface Replica {
  readonly name: string
  readonly run: CliRun
  readonly gw: Gateway
  readonly dataUrl: string
}

/** One gateway process on the shared config (test/support/setup.ts startCliGateway): only local folders differ. */
export async function startReplica(name: string, shared: Pick<CutoverConfigInput, 'kafka' | 'routes'>, backends: { legacy: Origin; cloud: Origin }, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []): Promise<Replica> {
  const dir = tempDir()
  const cfg = testConfig(backends.legacy.url, backends.cloud.url, {
    admin: { token: TOKEN },
    state: { file: join(dir, 'state.json'), shared: true },
    spool: { dir: join(dir, 'spool') },
    ...shared,
  })
  const cli = await startCliGateway(cfg, { args, env: { CUTOVER_REPLICA_ID: name, ...env }, readyMs: 0 })
  started.push(cli.run)
  return {
    name,
    run: cli.run,
    gw: cli.gw,
    get dataUrl() {
      return cli.dataUrl
    },
  }
}

export async function readyz(r: Replica): Promise<number> {
  if (!ADMIN_URL.test(r.run.output())) return 0
  return (await adminCall(r.gw, '/readyz').catch(() => ({ status: 0 }))).status
}

/** Waits for `/readyz` 200; when the process exits first or the deadline passes, the error carries its own log. */
export async function whenReady(r: Replica, ms = 60_000): Promise<void> {
  await whenLogged(r.run, ADMIN_URL, ms, `${r.name}'s admin address`)
  await whenCliReady(r.run, r.gw, ms, `${r.name} to be ready`)
}

export interface RouteView {
  id: string
  weight: number
  version: number
  sources: { weight: string; mirror: string; readSample: string }
}

export async function routeOf(r: Replica, id: string): Promise<RouteView> {
  return (await adminCall(r.gw, `/routes/${id}`)).json() as RouteView
}

export async function backendOf(r: Replica, path: string): Promise<string> {
  return String((await call(`${r.dataUrl}${path}`)).headers['x-cutover-backend'])
}

