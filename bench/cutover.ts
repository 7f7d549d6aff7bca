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
 * unless --spool DIR names one to keep (route state is not persisted either way). With
 * --kafka HOST:PORT[,…] they go to those brokers, on topics `<--topic-prefix>.diffs`, `.replay`, …
 * Its counters (mirror outcomes, cache results, events published) are read from its own admin
 * /metrics, the way an operator sees them.
 * Profile it: node --cpu-prof --import tsx bench/cutover.ts … (stop with Ctrl-C / SIGTERM).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
    spool: { type: 'string' },
    kafka: { type: 'string' },
    'topic-prefix': { type: 'string', default: 'cutover-bench' },
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

const prefix = values['topic-prefix']
const kafka =
  values.kafka === undefined
    ? undefined
    : {
        brokers: values.kafka.split(','),
        clientId: 'cutover-bench',
        topics: { diffs: `${prefix}.diffs`, replay: `${prefix}.replay`, control: `${prefix}.control`, audit: `${prefix}.audit` },
      }

// never the working tree's .cutover/: others' runs leave events there, and the spool reads them at start
const scratch = values.spool === undefined ? mkdtempSync(join(tmpdir(), 'cutover-bench-')) : null
const spoolDir = values.spool ?? join(scratch as string, 'spool')
if (scratch !== null) process.once('exit', () => rmSync(scratch, { recursive: true, force: true }))

/** `metric_name{labels} value` lines of the Prometheus text format. */
const SAMPLE = /^(cutover_mirror_total|cutover_cache_total|cutover_publish_total)\{([^}]*)\}\s+(\S+)$/gm
const JOURNAL = /^(cutover_journal_fsync_batch_records_count|cutover_journal_fsync_batch_records_sum|cutover_journal_fsync_seconds_sum)\s+(\S+)$/gm
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g
/** Which labels name a counter key (`mirror.skipped`, `cache.hit`, `publish.diffs.spooled`), summed over the rest (routes). */
const KEYS: Readonly<Record<string, { readonly prefix: string; readonly labels: readonly string[] }>> = {
  cutover_mirror_total: { prefix: 'mirror', labels: ['outcome'] },
  cutover_cache_total: { prefix: 'cache', labels: ['result'] },
  cutover_publish_total: { prefix: 'publish', labels: ['topic', 'outcome'] },
}

/** Mirror outcomes, cache results and events published, from the admin /metrics. */
async function counters(adminUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${adminUrl}/metrics`)
  if (!res.ok) throw new Error(`admin /metrics answered ${res.status}`)
  const text = await res.text()
  const out: Record<string, number> = {}
  for (const [, name, labelText, value] of text.matchAll(SAMPLE)) {
    const spec = KEYS[name as string]
    if (spec === undefined) continue
    const labels = new Map([...(labelText as string).matchAll(LABEL)].map((m) => [m[1], m[2]]))
    const key = [spec.prefix, ...spec.labels.map((l) => labels.get(l) ?? '')].join('.')
    out[key] = (out[key] ?? 0) + Number(value)
  }
  // the mirror journal's group commit: batches (fsyncs), records written, time spent in fsync
  for (const [, name, value] of text.matchAll(JOURNAL)) {
    const key = name === 'cutover_journal_fsync_batch_records_count' ? 'journal.fsyncs' : name === 'cutover_journal_fsync_batch_records_sum' ? 'journal.records' : 'journal.fsync-ms'
    out[key] = key === 'journal.fsync-ms' ? Math.round(1000 * Number(value)) : Number(value)
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
    ...(kafka === undefined ? {} : { kafka }),
    state: { file: join(scratch ?? spoolDir, 'state.json') },
  } satisfies CutoverConfigInput)
  const gw = await startGateway(config, { persistState: false, log: pino({ level: 'warn' }) })
  return {
    url: gw.dataUrl,
    counters: () => counters(gw.adminUrl),
    close: () => gw.close(),
  }
})
