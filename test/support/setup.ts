import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { runCli, until, writeConfig, type CliRun } from './cli.ts'
import { admin, gatewayFor, testConfig } from './gateway.ts'
import { startOrigin, type Origin, type OriginHandler } from './origin.ts'
import { closeLater, once } from './teardown.ts'

/**
 * The origins and gateways a test file starts. Whatever these helpers open is closed without the
 * test asking (test/support/teardown.ts): at the end of the test that opened it, or, when opened
 * outside a test (beforeAll), after the file's last test. A failing test leaks nothing.
 */

/** startOrigin, closed by the teardown. */
export async function openOrigin(name: string, handler?: OriginHandler, port = 0): Promise<Origin> {
  const origin = await startOrigin(name, handler, port)
  origin.close = once(origin.close)
  closeLater(origin.close)
  return origin
}

/** gatewayFor, closed by the teardown. */
export async function openGateway(input: CutoverConfigInput): Promise<Gateway> {
  const gw = await gatewayFor(input)
  gw.close = once(gw.close.bind(gw))
  closeLater(gw.close)
  return gw
}

export interface Origins {
  /** records every request it receives; echoes it (naming itself) unless given a handler */
  legacy: Origin
  cloud: Origin
}

export interface OriginHandlers {
  legacy?: OriginHandler
  cloud?: OriginHandler
}

/** The two backends, as recording origins on free ports. */
export async function withOrigins(handlers: OriginHandlers = {}): Promise<Origins> {
  const legacy = await openOrigin('legacy', handlers.legacy)
  const cloud = await openOrigin('cloud', handlers.cloud)
  return { legacy, cloud }
}

export interface GatewayOptions extends OriginHandlers {
  /** merged over testConfig; a function when it needs the origins (their URLs, for `backends`) */
  config?: Partial<CutoverConfigInput> | ((origins: Origins) => Partial<CutoverConfigInput>)
}

export interface GatewaySetup extends Origins {
  gw: Gateway
  /** the config the gateway runs on (testConfig with the options merged over it) */
  config: CutoverConfigInput
  /** closes the gateway, then the origins; the teardown does it anyway */
  close(): Promise<void>
}

/** Two origins and an in-process gateway in front of them. */
export async function withGateway(options: GatewayOptions = {}): Promise<GatewaySetup> {
  const origins = await withOrigins(options)
  const extra = typeof options.config === 'function' ? options.config(origins) : options.config
  const config = testConfig(origins.legacy.url, origins.cloud.url, extra)
  const gw = await openGateway(config)
  const close = async (): Promise<void> => {
    await gw.close()
    await Promise.all([origins.legacy.close(), origins.cloud.close()])
  }
  return { ...origins, gw, config, close }
}

/** `n` distinct free ports: all are bound at once, then released, so none is handed out twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    }
    return servers.map((s) => (s.address() as AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}

export interface CliGateway {
  readonly run: CliRun
  /** the admin address only, for admin() from test/support/gateway.ts */
  readonly gw: Gateway
  readonly dataUrl: string
  /** the data port */
  readonly port: number
  /** the config file it runs on */
  readonly file: string
}

export interface CliOptions {
  /** after `start --config <file>` */
  args?: readonly string[]
  env?: NodeJS.ProcessEnv
  /** how long /readyz may take to answer 200; 0: return at once, without waiting */
  readyMs?: number
}

/**
 * `cutover start` as its own process, on `config` with the data and admin listeners moved to free
 * ports; resolves once /readyz answers 200. SIGTERMed (SIGKILLed if it outstays 20 s) by the teardown.
 */
export async function startCliGateway(config: CutoverConfigInput, options: CliOptions = {}): Promise<CliGateway> {
  const [port, adminPort] = (await freePorts(2)) as [number, number]
  const file = writeConfig({ ...config, listen: { ...config.listen, host: '127.0.0.1', port }, admin: { ...config.admin, host: '127.0.0.1', port: adminPort } })
  const run = runCli(['start', '--config', file, ...(options.args ?? [])], options.env)
  closeLater(() => stopCli(run))
  const started: CliGateway = { run, gw: { adminUrl: `http://127.0.0.1:${adminPort}` } as Gateway, dataUrl: `http://127.0.0.1:${port}`, port, file }
  if (options.readyMs !== 0) await whenCliReady(run, started.gw, options.readyMs ?? 60_000, 'the gateway to be ready')
  return started
}

/**
 * Waits for `/readyz` 200 on `gw`, served by `run`. When the process exits first or the deadline
 * passes, the error carries the end of the process's own output.
 */
export async function whenCliReady(run: CliRun, gw: Gateway, ms: number, what: string): Promise<void> {
  let exitCode: number | null | undefined
  void run.exited.then((code) => (exitCode = code))
  try {
    await until(
      async () => {
        if (exitCode !== undefined) throw new Error(`exited (${String(exitCode)}) before ${what}`)
        return (await admin(gw, '/readyz').catch(() => ({ status: 0 }))).status === 200
      },
      ms,
      what,
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}; its output:\n${run.output().slice(-4000)}`)
  }
}

async function stopCli(run: CliRun): Promise<void> {
  run.child.kill('SIGTERM')
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000)
  await run.exited
  clearTimeout(timer)
}
