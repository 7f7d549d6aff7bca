/**
 * Cutover under test, started the way an embedding program would (validateConfig +
 * startGateway), in its own process so its CPU time is measured alone.
 *
 * Usage:
 *   node --import tsx bench/cutover.ts --legacy URL --cloud URL [--weight 0] [--port 0]
 *   node --import tsx bench/cutover.ts --legacy URL --cloud URL --routes '[{"id":"pass",…}]'
 * Without --routes: one route `/api/*` for GET and POST at --weight, mirror off.
 * --journal off: no mirror journal (`journal: { enabled: false }`), to price it.
 * Without Kafka, diff and replay events go to the spool: a fresh temporary folder, removed on exit,
 * unless --spool DIR names one to keep (route state is not persisted either way).
 * Profile it: node --cpu-prof --import tsx bench/cutover.ts … (stop with Ctrl-C / SIGTERM).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { CutoverConfigInput } from '../src/config/schema.ts'
import { validateConfig } from '../src/config/validate.ts'
import { startGateway, type Gateway } from '../src/gateway.ts'
import { serveChild } from './lib/child.ts'
import { UPSTREAM_POOL } from './lib/pool-options.ts'

type RoutesInput = NonNullable<CutoverConfigInput['routes']>

const { values } = parseArgs({
  options: {
    legacy: { type: 'string' },
    cloud: { type: 'string' },
    routes: { type: 'string' },
    weight: { type: 'string', default: '0' },
    spool: { type: 'string' },
    port: { type: 'string', default: '0' },
    journal: { type: 'string', default: 'on' },
  },
  strict: true,
})
const { legacy, cloud } = values
if (legacy === undefined || cloud === undefined) throw new Error('--legacy URL and --cloud URL are required')

const routes: RoutesInput =
  values.routes !== undefined
    ? (JSON.parse(values.routes) as RoutesInput)
    : [{ id: 'pass', methods: ['GET', 'POST'], path: '/api/*', weight: Number(values.weight), mirror: 'off' }]

// never the working tree's .cutover/: others' runs leave events there, and the spool reads them at start
const scratch = values.spool === undefined ? mkdtempSync(join(tmpdir(), 'cutover-bench-')) : null
const spoolDir = values.spool ?? join(scratch as string, 'spool')
if (scratch !== null) process.once('exit', () => rmSync(scratch, { recursive: true, force: true }))

/** Mirror outcomes and cache results, summed over routes: `mirror.match`, `cache.hit`, … */
async function counters(gw: Gateway): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const add = (key: string, value: number): void => {
    out[key] = (out[key] ?? 0) + value
  }
  for (const v of (await gw.metrics.mirror.get()).values) add(`mirror.${String(v.labels.outcome)}`, v.value)
  for (const v of (await gw.metrics.cache.get()).values) add(`cache.${String(v.labels.result)}`, v.value)
  const journal = gw.data.journal?.metrics
  if (journal !== undefined) {
    const batch = (await journal.batch.get()).values
    add('journal.fsyncs', batch.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0)
    add('journal.records', batch.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0)
    add('journal.fsync-ms', Math.round(1000 * ((await journal.sync.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0)))
  }
  return out
}

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
    spool: { dir: spoolDir },
    journal: { enabled: values.journal !== 'off' },
    state: { file: join(scratch ?? spoolDir, 'state.json') },
  } satisfies CutoverConfigInput)
  const gw = await startGateway(config, { persistState: false, log: pino({ level: 'warn' }) })
  return {
    url: gw.dataUrl,
    counters: () => counters(gw),
    close: () => gw.close(),
  }
})
