/**
 * Cutover under test, started the way an embedding program would (validateConfig +
 * startGateway), in its own process so its CPU time is measured alone.
 *
 * Usage:
 *   node --import tsx bench/cutover.ts --legacy URL --cloud URL [--weight 0] [--port 0]
 *   node --import tsx bench/cutover.ts --legacy URL --cloud URL --routes '[{"id":"pass",…}]'
 * Without --routes: one route `/api/*` for GET and POST at --weight, mirror off.
 * Profile it: node --cpu-prof --import tsx bench/cutover.ts … (stop with Ctrl-C / SIGTERM).
 */
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { CutoverConfigInput } from '../src/config/schema.ts'
import { validateConfig } from '../src/config/validate.ts'
import { startGateway } from '../src/gateway.ts'
import { serveChild } from './lib/child.ts'
import { UPSTREAM_POOL } from './lib/pool-options.ts'

type RoutesInput = NonNullable<CutoverConfigInput['routes']>

const { values } = parseArgs({
  options: {
    legacy: { type: 'string' },
    cloud: { type: 'string' },
    routes: { type: 'string' },
    weight: { type: 'string', default: '0' },
    port: { type: 'string', default: '0' },
  },
  strict: true,
})
const { legacy, cloud } = values
if (legacy === undefined || cloud === undefined) throw new Error('--legacy URL and --cloud URL are required')

const routes: RoutesInput =
  values.routes !== undefined
    ? (JSON.parse(values.routes) as RoutesInput)
    : [{ id: 'pass', methods: ['GET', 'POST'], path: '/api/*', weight: Number(values.weight), mirror: 'off' }]

await serveChild('cutover', async () => {
  // validateConfig checks what JSON.parse could not: the routes' shape, ranges and unknown keys
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: Number(values.port) },
    admin: { host: '127.0.0.1', port: 0 },
    backends: {
      legacy: { url: legacy, connections: UPSTREAM_POOL.connections, keepAliveTimeoutMs: UPSTREAM_POOL.keepAliveTimeout },
      cloud: { url: cloud, connections: UPSTREAM_POOL.connections, keepAliveTimeoutMs: UPSTREAM_POOL.keepAliveTimeout },
    },
    routes,
    fallback: 'legacy',
  } satisfies CutoverConfigInput)
  const gw = await startGateway(config, { persistState: false, log: pino({ level: 'warn' }) })
  return { url: gw.dataUrl, close: () => gw.close() }
})
