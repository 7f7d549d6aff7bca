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
 * `cutover start` as its own process, on `config` with the data and admin listeners on ports the
 * kernel picks (port 0), read back from its log: a port found free beforehand can be taken by
 * another test before the process gets to it. Resolves once /readyz answers 200 (with `readyMs: 0`
 * at once: then the addresses are there once it has logged them). SIGTERMed (SIGKILLed if it
 * outstays 20 s) by the teardown.
 */
export async function startCliGateway(config: CutoverConfigInput, options: CliOptions = {}): Promise<CliGateway> {
  const file = writeConfig({ ...config, listen: { ...config.listen, host: '127.0.0.1', port: 0 }, admin: { ...config.admin, host: '127.0.0.1', port: 0 } })
  const run = runCli(['start', '--config', file, ...(options.args ?? [])], options.env)
  closeLater(() => stopCli(run))
  const started: CliGateway = {
    run,
    gw: {
      get adminUrl() {
        return loggedUrl(run, ADMIN_URL)
      },
    } as Gateway,
    get dataUrl() {
      return loggedUrl(run, DATA_URL)
    },
    get port() {
      return Number(new URL(loggedUrl(run, DATA_URL)).port)
    },
    file,
  }
  const ms = options.readyMs ?? 60_000
  if (ms === 0) return started
  await whenLogged(run, ADMIN_URL, ms, 'its admin address')
  await whenCliReady(run, started.gw, ms, 'the gateway to be ready')
  // a cluster's workers log their address before the primary counts them as listening
  await whenLogged(run, DATA_URL, 5000, 'its data address')
  return started
}

/** One process logs both in `cutover listening`; a cluster's primary the admin API, its workers the data URL. */
export const ADMIN_URL = /"admin":"(https?:\/\/[^"]+)"/
const DATA_URL = /"(?:data|url)":"(https?:\/\/[^"]+)"/

/** The address `run` logged (ADMIN_URL or DATA_URL); throws with its output if it has not yet. */
export function loggedUrl(run: CliRun, pattern: RegExp): string {
  const url = pattern.exec(run.output())?.[1]
  if (url === undefined) throw new Error(`the process has not logged its address (${String(pattern)}) yet; its output:\n${run.output().slice(-4000)}`)
  return url
}

/** Waits until `run` has logged an address matching `pattern`. */
export async function whenLogged(run: CliRun, pattern: RegExp, ms: number, what: string): Promise<void> {
  let exitCode: number | null | undefined
  void run.exited.then((code) => (exitCode = code))
  try {
    await until(
      () => {
        if (exitCode !== undefined) throw new Error(`exited (${String(exitCode)}) before logging ${what}`)
        return pattern.test(run.output())
      },
      ms,
      what,
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}; its output:\n${run.output().slice(-4000)}`)
  }
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
