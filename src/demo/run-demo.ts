import { randomBytes } from 'node:crypto'
import { applyEnv, loadConfigInput, validateLoadedConfig } from '../config/load.ts'
import type { CutoverConfigInput } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import { startGateway, type Gateway } from '../gateway.ts'
import { createLogger } from '../log.ts'
import { startDemoBackend, type DemoBackend } from './demo-backends.ts'

/**
 * `npm start`: the two demo backends and the gateway on the bundled routes.config.ts, no Kafka.
 * Each of the four ports can be moved with an environment variable (0 = any free port).
 */
export const DEMO_PORT_VARS = {
  gateway: 'CUTOVER_DEMO_PORT',
  admin: 'CUTOVER_DEMO_ADMIN_PORT',
  legacy: 'CUTOVER_DEMO_LEGACY_PORT',
  cloud: 'CUTOVER_DEMO_CLOUD_PORT',
} as const
type Part = keyof typeof DEMO_PORT_VARS

function portFromEnv(part: Part): number | undefined {
  const raw = process.env[DEMO_PORT_VARS[part]]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) failStart(`${DEMO_PORT_VARS[part]}=${raw}: must be a port from 0 to 65535`)
  return n
}

function failStart(line: string): never {
  process.stderr.write(`${line}\n`)
  process.exit(1)
}

function inUse(part: Part, port: number): never {
  failStart(`demo: port ${port} (${part}) is already in use; stop what holds it, or pick another with ${DEMO_PORT_VARS[part]}=PORT (also ${Object.values(DEMO_PORT_VARS).filter((v) => v !== DEMO_PORT_VARS[part]).join(', ')}; 0 = any free port)`)
}

/** Config problems print as `cutover start` prints them: one line each, no stack. */
function failConfig(err: unknown): never {
  if (err instanceof CutoverError) failStart(err.details.length > 0 ? `invalid configuration:\n  ${err.details.join('\n  ')}` : err.message)
  throw err
}

const log = createLogger()
if (process.env.CUTOVER_ADMIN_TOKEN === undefined || process.env.CUTOVER_ADMIN_TOKEN === '') {
  process.env.CUTOVER_ADMIN_TOKEN = `demo-${randomBytes(12).toString('hex')}`
}
const configFile = process.env.CUTOVER_CONFIG ?? 'routes.config.ts'
const input = (await loadConfigInput(configFile).then((raw) => applyEnv(raw), failConfig)) as CutoverConfigInput
const ports: Record<Part, number> = {
  gateway: portFromEnv('gateway') ?? input.listen?.port ?? 8080,
  admin: portFromEnv('admin') ?? input.admin?.port ?? 9901,
  legacy: portFromEnv('legacy') ?? Number(new URL(input.backends?.legacy?.url ?? 'http://127.0.0.1:3001').port),
  cloud: portFromEnv('cloud') ?? Number(new URL(input.backends?.cloud?.url ?? 'http://127.0.0.1:3002').port),
}
const backends: DemoBackend[] = []
async function startBackend(flavour: 'legacy' | 'cloud'): Promise<DemoBackend> {
  try {
    const b = await startDemoBackend(flavour, ports[flavour])
    backends.push(b)
    return b
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') inUse(flavour, ports[flavour])
    throw err
  }
}
const legacy = await startBackend('legacy')
const cloud = await startBackend('cloud')
let gateway: Gateway
try {
  const config = await validateLoadedConfig({
    ...input,
    listen: { ...input.listen, port: ports.gateway },
    admin: { ...input.admin, port: ports.admin },
    backends: { ...input.backends, legacy: { ...input.backends?.legacy, url: legacy.url }, cloud: { ...input.backends?.cloud, url: cloud.url } },
  }, configFile)
  gateway = await startGateway(config, { log })
} catch (err) {
  await Promise.all(backends.map((b) => b.close()))
  // Node's listen error carries the port it tried; the admin API binds before the gateway
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') inUse((err as { port?: number }).port === ports.admin ? 'admin' : 'gateway', (err as { port?: number }).port ?? ports.gateway)
  failConfig(err)
}
const token = process.env.CUTOVER_ADMIN_TOKEN
const auth = `-H 'authorization: Bearer ${token}'`

process.stdout.write(`
Cutover demo is running.
  gateway        ${gateway.dataUrl}
  admin API      ${gateway.adminUrl}   (token: ${token})
  ops console    ${gateway.adminUrl}/   in a browser; log in with the token
  legacy backend ${legacy.url}
  cloud backend  ${cloud.url}   (serves /v2/orders, adds 'currency', totals as strings)

Try:
  curl -i ${gateway.dataUrl}/api/orders/1 -H 'x-user-id: alice'
  curl -s ${gateway.adminUrl}/routes ${auth}
  curl -s -X PATCH ${gateway.adminUrl}/routes/orders-read ${auth} -H 'content-type: application/json' -d '{"weight":100}'
  curl -i ${gateway.dataUrl}/api/orders/1 -H 'x-user-id: alice'      # now from cloud
  curl -s -X POST ${gateway.adminUrl}/routes/orders-read/rollback ${auth}
  curl -s -X POST ${gateway.dataUrl}/api/orders -H 'content-type: application/json' -d '{"item":"pen","total":5}'
  curl -s '${gateway.adminUrl}/diffs?limit=5' ${auth}   # what cloud answered differently
  CUTOVER_ADMIN_TOKEN=${token} npm run cutover -- report --admin ${gateway.adminUrl}   # ready to raise?

Writes are mirrored to cloud and reads sampled (10 %); without Kafka the diff events are
also appended to ${gateway.config.spool.dir}/w0/ (newline-delimited JSON).
  curl -s ${gateway.adminUrl}/metrics ${auth} | grep cutover_

Ctrl-C stops everything.
`)

const stop = async (): Promise<void> => {
  await gateway.close()
  await Promise.all([legacy.close(), cloud.close()])
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())
