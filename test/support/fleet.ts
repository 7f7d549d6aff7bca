import { join } from 'node:path'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { runCli, writeConfig, type CliRun } from './cli.ts'
import { ADMIN_URL, DATA_URL, loggedUrl, whenCliReady, whenLogged } from './setup.ts'
import { admin as adminCall, call, tempDir, testConfig, TOKEN } from './gateway.ts'
import type { Origin } from './origin.ts'

/** Gateway processes started by the fleet tests: the test file's afterAll stops them. */
export const started: CliRun[] = []

export async function stopReplicas(): Promise<void> {
  for (const run of started.splice(0)) {
    run.child.kill('SIGTERM')
    await run.exited
  }
}

export interface Replica {
  readonly name: string
  readonly run: CliRun
  readonly gw: Gateway
  readonly dataUrl: string
}

/**
 * One gateway process on the shared config: only local folders differ. It listens on ports the
 * kernel picks (port 0) and the test reads them from its log: a port found free beforehand can be
 * taken by another test before the process gets to it.
 */
export async function startReplica(name: string, shared: Pick<CutoverConfigInput, 'kafka' | 'routes'>, backends: { legacy: Origin; cloud: Origin }, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []): Promise<Replica> {
  const dir = tempDir()
  const cfg = testConfig(backends.legacy.url, backends.cloud.url, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    state: { file: join(dir, 'state.json'), shared: true },
    spool: { dir: join(dir, 'spool') },
    ...shared,
  })
  const run = runCli(['start', '--config', writeConfig(cfg), ...args], { CUTOVER_REPLICA_ID: name, ...env })
  started.push(run)
  return {
    name,
    run,
    gw: {
      get adminUrl() {
        return loggedUrl(run, ADMIN_URL)
      },
    } as Gateway,
    get dataUrl() {
      return loggedUrl(run, DATA_URL)
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

