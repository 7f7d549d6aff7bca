import { join } from 'node:path'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { runCli, until, writeConfig, type CliRun } from './cli.ts'
import { admin as adminCall, call, tempDir, testConfig, TOKEN } from './gateway.ts'
import { deadPort, type Origin } from './origin.ts'

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

/** One gateway process on the shared config: only ports and local folders differ. */
export async function startReplica(name: string, shared: Pick<CutoverConfigInput, 'kafka' | 'routes'>, backends: { legacy: Origin; cloud: Origin }, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []): Promise<Replica> {
  const port = await deadPort()
  const adminPort = await deadPort()
  const dir = tempDir()
  const cfg = testConfig(backends.legacy.url, backends.cloud.url, {
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort, token: TOKEN },
    state: { file: join(dir, 'state.json'), shared: true },
    spool: { dir: join(dir, 'spool') },
    ...shared,
  })
  const run = runCli(['start', '--config', writeConfig(cfg), ...args], { CUTOVER_REPLICA_ID: name, ...env })
  started.push(run)
  return { name, run, gw: { adminUrl: `http://127.0.0.1:${adminPort}` } as Gateway, dataUrl: `http://127.0.0.1:${port}` }
}

export async function readyz(r: Replica): Promise<number> {
  return (await adminCall(r.gw, '/readyz').catch(() => ({ status: 0 }))).status
}

/** Waits for `/readyz` 200; on timeout the error carries the replica's own log. */
export async function whenReady(r: Replica, ms = 60_000): Promise<void> {
  try {
    await until(async () => (await readyz(r)) === 200, ms, `${r.name} to be ready`)
  } catch (err) {
    throw new Error(`${(err as Error).message}; its output:\n${r.run.output().slice(-4000)}`)
  }
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

