import { randomUUID } from 'node:crypto'
import { appendFileSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { Journal, type JournalJob } from '../../src/mirror/journal.ts'
import { REPLAY_SCHEMA } from '../../src/publish/events.ts'
import { tempDir } from '../support/gateway.ts'

const log = pino({ level: 'silent' })
const OPTIONS = { maxBytes: 1024 * 1024, segmentBytes: 16 * 1024 * 1024 }

function job(body = '{"item":"pen"}'): JournalJob {
  const id = randomUUID()
  return {
    mode: 'send',
    event: {
      schema: REPLAY_SCHEMA,
      id,
      time: new Date().toISOString(),
      route: 'orders',
      backend: 'cloud',
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': `key-${id}` },
      body: Buffer.from(body).toString('base64'),
      idempotencyKey: `key-${id}`,
      requestId: `req-${id}`,
      reason: 'skipped',
      attempts: 1,
    },
  }
}

async function metric(registry: Registry, name: string): Promise<string> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith(name)).join('\n')
}

describe('mirror journal', () => {
  it('group-commits: 200 jobs begun together are durable after a few fsyncs, not 200', async () => {
    const registry = new Registry()
    const { journal, recovered } = await Journal.open(tempDir(), OPTIONS, registry, log)
    expect(recovered).toEqual([])
    const durable = await Promise.all(Array.from({ length: 200 }, () => journal.begin(job())))
    expect(durable).toEqual(Array.from({ length: 200 }, () => true))
    const text = await metric(registry, 'cutover_journal_fsync_batch_records')
    expect(text).toContain('cutover_journal_fsync_batch_records_sum 200')
    const fsyncs = Number(/cutover_journal_fsync_batch_records_count (\d+)/.exec(text)?.[1])
    expect(fsyncs).toBeGreaterThanOrEqual(1)
    expect(fsyncs).toBeLessThanOrEqual(3)
    expect(journal.pending).toBe(200)
    expect(await metric(registry, 'cutover_journal_pending')).toContain('cutover_journal_pending 200')
    await journal.close()
  })

  it('recovers exactly the jobs not marked done, and carries them into a fresh segment', async () => {
    const dir = tempDir()
    const first = await Journal.open(dir, OPTIONS, new Registry(), log)
    const jobs = [job('a'), job('b'), job('c')]
    await Promise.all(jobs.map((j) => first.journal.begin(j)))
    first.journal.done(jobs[1]!.event.id)
    await first.journal.close()

    const second = await Journal.open(dir, OPTIONS, new Registry(), log)
    expect(second.recovered.map((j) => j.event.id).sort()).toEqual([jobs[0]!.event.id, jobs[2]!.event.id].sort())
    expect(second.recovered.find((j) => j.event.id === jobs[0]!.event.id)).toEqual(jobs[0])
    const files = readdirSync(dir)
    expect(files).toHaveLength(1)
    expect(readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n')).toHaveLength(2)
    // done after a restart sticks too
    second.journal.done(jobs[0]!.event.id)
    await second.journal.close()
    const third = await Journal.open(dir, OPTIONS, new Registry(), log)
    expect(third.recovered.map((j) => j.event.id)).toEqual([jobs[2]!.event.id])
    await third.journal.close()
  })

  it('ignores a half-written last record (its batch was never fsync’d, so no client was answered on it)', async () => {
    const dir = tempDir()
    const first = await Journal.open(dir, OPTIONS, new Registry(), log)
    const kept = job()
    await first.journal.begin(kept)
    await first.journal.close()
    const file = join(dir, readdirSync(dir)[0]!)
    const half = JSON.stringify({ t: 'job', mode: 'send', event: job().event })
    appendFileSync(file, half.slice(0, half.length / 2))
    const second = await Journal.open(dir, OPTIONS, new Registry(), log)
    expect(second.recovered.map((j) => j.event.id)).toEqual([kept.event.id])
    await second.journal.close()
  })

  it('rotates: finished records are dropped with their segment, open jobs carried over; disk use stays bounded', async () => {
    const dir = tempDir()
    const registry = new Registry()
    const { journal } = await Journal.open(dir, { maxBytes: 1024 * 1024, segmentBytes: 8192 }, registry, log)
    const open: JournalJob[] = []
    for (let round = 0; round < 40; round++) {
      const batch = Array.from({ length: 10 }, () => job('x'.repeat(200)))
      await Promise.all(batch.map((j) => journal.begin(j)))
      // all but one of each round finish
      for (const j of batch.slice(1)) journal.done(j.event.id)
      open.push(batch[0]!)
    }
    await journal.begin(job())
    expect(readdirSync(dir).length).toBeLessThanOrEqual(2)
    expect(journal.bytes).toBeLessThan(8192 + 2 * 41 * 700)
    await journal.close()
    const again = await Journal.open(dir, OPTIONS, new Registry(), log)
    const ids = new Set(again.recovered.map((j) => j.event.id))
    for (const j of open) expect(ids.has(j.event.id)).toBe(true)
    expect(ids.size).toBe(open.length + 1)
    await again.journal.close()
  })

  it('is bounded: past journal.maxBytes a job is not journalled (null) and counted as full', async () => {
    const registry = new Registry()
    const { journal } = await Journal.open(tempDir(), { maxBytes: 65_536, segmentBytes: 1024 * 1024 }, registry, log)
    expect(await journal.begin(job('y'.repeat(40_000)))).toBe(true)
    expect(journal.begin(job('z'.repeat(40_000)))).toBeNull()
    expect(await metric(registry, 'cutover_journal_jobs_total')).toContain('cutover_journal_jobs_total{outcome="full"} 1')
    expect(journal.pending).toBe(1)
    await journal.close()
  })

  it('disk full: the waiting write is answered not-durable, counted failed, and rewritten into a fresh file once the disk takes writes', async () => {
    const dir = tempDir()
    const registry = new Registry()
    const { journal } = await Journal.open(dir, { maxBytes: 1024 * 1024, segmentBytes: 4096 }, registry, log)
    const a = job('a'.repeat(2500))
    expect(await journal.begin(a)).toBe(true)
    journal.done(a.event.id)
    // the next segment the journal opens is a device that refuses every write with ENOSPC
    symlinkSync('/dev/full', join(dir, 'journal-0000000002.ndjson'))
    const b = job('b'.repeat(2500))
    expect(await journal.begin(b)).toBe(false)
    // until the retry, new jobs are answered at once, not durable (no write per job against a full disk)
    const c = job('c')
    expect(await journal.begin(c)).toBe(false)
    expect(await metric(registry, 'cutover_journal_jobs_total')).toContain('cutover_journal_jobs_total{outcome="failed"} 2')
    // the retry (every second) writes the open job into a fresh segment and drops the others
    await expect.poll(() => readdirSync(dir), { timeout: 5000 }).toEqual(['journal-0000000003.ndjson'])
    await journal.close()
    const again = await Journal.open(dir, OPTIONS, new Registry(), log)
    expect(again.recovered.map((j) => j.event.id)).toEqual([b.event.id, c.event.id])
    await again.journal.close()
  })
})
