/**
 * The mirror journal alone, without HTTP: CPU and wall time per journalled write (build its
 * record as the mirror does, append it, wait until it is durable, mark it done), with
 * BENCH_JOURNAL_CONCURRENCY writes in flight (default 50, like the bench's connections). Less
 * sensitive to a busy box than the `dual-write` scenario, whose `mirror-on ÷ mirror-nojournal`
 * ratio is the end-to-end figure.
 *
 *   node --import tsx bench/journal-micro.ts [jobs]
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { Journal } from '../src/mirror/journal.ts'
import { REPLAY_SCHEMA, type ReplayEvent } from '../src/publish/events.ts'
import { redactHeaders } from '../src/publish/redact.ts'
import { ORDER_BODY } from './scenarios/post-small-json.ts'

const jobs = Number(process.argv[2] ?? 20_000)
const concurrency = Number(process.env.BENCH_JOURNAL_CONCURRENCY ?? 50)
const scratch = mkdtempSync(join(tmpdir(), 'cutover-journal-bench-'))
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }))
const registry = new Registry()
const { journal } = await Journal.open(join(scratch, 'journal'), { maxBytes: 256 << 20, segmentBytes: 16 << 20 }, registry, pino({ level: 'silent' }))
const body = Buffer.from(ORDER_BODY)
const headers = { 'content-type': 'application/json', host: '127.0.0.1:8080', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' }

async function one(): Promise<void> {
  const id = randomUUID()
  const event: ReplayEvent = {
    schema: REPLAY_SCHEMA,
    id,
    time: new Date().toISOString(),
    route: 'pass',
    backend: 'cloud',
    method: 'POST',
    path: '/api/orders',
    headers: redactHeaders({ ...headers, 'x-request-id': id, 'idempotency-key': id }),
    body: body.toString('base64'),
    idempotencyKey: id,
    requestId: id,
    reason: 'skipped',
    attempts: 1,
  }
  await journal.begin({ mode: 'send', event })
  journal.done(id)
}

const cpu = process.cpuUsage()
const started = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next++ < jobs) await one()
  }),
)
await journal.close()
const used = process.cpuUsage(cpu)
const wallMs = performance.now() - started
const batches = (await journal.metrics.batch.get()).values
const fsyncs = batches.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0
process.stdout.write(
  `journal: ${jobs} writes, ${concurrency} in flight: ${((used.user + used.system) / jobs).toFixed(1)} µs CPU/write, ` +
    `${((wallMs * 1000) / jobs).toFixed(0)} µs wall/write, ${fsyncs} durable writes (${(jobs / fsyncs).toFixed(1)} jobs each), ${((wallMs / fsyncs) * 1000).toFixed(0)} µs each\n`,
)
