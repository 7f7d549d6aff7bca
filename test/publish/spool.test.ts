import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { OutgoingRecord } from '../../src/publish/events.ts'
import { Spool } from '../../src/publish/spool.ts'

let dir: string
const opened: Spool[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-spool-'))
})

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
})

/** Records of identical size (single-digit i), so segment and byte limits can be exact. */
function rec(i: number): OutgoingRecord {
  return { topic: 'diffs', key: `k${i}`, value: { i, text: 'x'.repeat(20) } }
}

const LINE = Buffer.byteLength(JSON.stringify(rec(1)) + '\n')

/** A spool whose timer never fires during a test: writes happen on flush() and close() only. */
async function openSpool(options: { maxBytes?: number; segmentBytes?: number; flushMs?: number } = {}, at = dir): Promise<Spool> {
  const s = new Spool(at, { flushMs: 60_000, ...options })
  opened.push(s)
  await s.open()
  return s
}

async function segments(at = dir): Promise<string[]> {
  return (await readdir(at)).filter((n) => n.startsWith('seg-')).sort()
}

const seg = (n: number): string => `seg-${String(n).padStart(10, '0')}.ndjson`

async function appendAll(s: Spool, from: number, to: number, flushEach = false): Promise<void> {
  for (let i = from; i <= to; i++) {
    expect(s.append(rec(i))).toBe(true)
    if (flushEach) await s.flush()
  }
  await s.flush()
}

async function readAll(s: Spool): Promise<OutgoingRecord[]> {
  const { records, next } = await s.read(1000)
  await s.commit(next, records.length)
  return records
}

const keys = (records: readonly OutgoingRecord[]): string[] => records.map((r) => r.key)

describe('Spool basics', () => {
  it('open() creates its folder and starts empty', async () => {
    const nested = join(dir, 'a', 'b')
    const s = await openSpool({}, nested)
    expect(s.empty).toBe(true)
    expect(s.unsent).toBe(0)
    expect(s.bytes).toBe(0)
    expect((await s.read(10)).records).toEqual([])
    expect(await segments(nested)).toEqual([seg(1)])
  })

  it('records come back in order, as appended', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 5)
    const { records } = await s.read(10)
    expect(records).toEqual([1, 2, 3, 4, 5].map(rec))
  })

  it('flush() writes NDJSON to the segment file and counts its bytes', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 2)
    expect(await readFile(join(dir, seg(1)), 'utf8')).toBe(`${JSON.stringify(rec(1))}\n${JSON.stringify(rec(2))}\n`)
    expect(s.bytes).toBe(2 * LINE)
  })

  it('read() sees only written records: appended ones need a flush first', async () => {
    const s = await openSpool()
    s.append(rec(1))
    expect((await s.read(10)).records).toEqual([])
    expect((await stat(join(dir, seg(1)))).size).toBe(0)
    await s.flush()
    expect(keys((await s.read(10)).records)).toEqual(['k1'])
  })

  it('appended records reach disk on their own within flushMs', async () => {
    const s = await openSpool({ flushMs: 5 })
    s.append(rec(1))
    s.append(rec(2))
    await vi.waitFor(async () => expect((await stat(join(dir, seg(1)))).size).toBe(2 * LINE))
    expect(keys((await s.read(10)).records)).toEqual(['k1', 'k2'])
  })

  it('read() without commit does not advance: the same records come back', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 3)
    const first = await s.read(10)
    const second = await s.read(10)
    expect(second.records).toEqual(first.records)
    expect(second.next).toEqual(first.next)
  })

  it('read(max) returns at most max records, and commit moves on', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 5)
    const a = await s.read(2)
    expect(keys(a.records)).toEqual(['k1', 'k2'])
    await s.commit(a.next, a.records.length)
    const b = await s.read(2)
    expect(keys(b.records)).toEqual(['k3', 'k4'])
    await s.commit(b.next, b.records.length)
    const c = await s.read(2)
    expect(keys(c.records)).toEqual(['k5'])
    await s.commit(c.next, c.records.length)
    expect((await s.read(2)).records).toEqual([])
  })

  it('unsent and empty track appended, buffered, read and committed records', async () => {
    const s = await openSpool()
    s.append(rec(1))
    s.append(rec(2))
    expect(s.unsent).toBe(2)
    expect(s.empty).toBe(false)
    await s.flush()
    expect(s.unsent).toBe(2)
    expect(s.empty).toBe(false)
    const batch = await s.read(1)
    expect(s.unsent).toBe(2)
    await s.commit(batch.next, batch.records.length)
    expect(s.unsent).toBe(1)
    expect(s.empty).toBe(false)
    const rest = await s.read(10)
    expect(s.empty).toBe(false)
    await s.commit(rest.next, rest.records.length)
    expect(s.unsent).toBe(0)
    expect(s.empty).toBe(true)
  })

  it('flush() with nothing buffered resolves and writes nothing', async () => {
    const s = await openSpool()
    await s.flush()
    expect((await stat(join(dir, seg(1)))).size).toBe(0)
  })
})

describe('Spool across close and reopen', () => {
  it('records survive close + reopen in order, including ones close() had to flush', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 3)
    s.append(rec(4))
    s.append(rec(5))
    await s.close()

    const again = await openSpool()
    expect(again.unsent).toBe(5)
    expect(again.empty).toBe(false)
    expect(again.bytes).toBe(5 * LINE)
    expect((await again.read(10)).records).toEqual([1, 2, 3, 4, 5].map(rec))
  })

  it('the cursor persists: committed records are not read again, uncommitted ones are', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 6)
    const done = await s.read(2)
    await s.commit(done.next, done.records.length)
    // read but never committed (e.g. Kafka never acknowledged): delivered again after a restart
    expect(keys((await s.read(2)).records)).toEqual(['k3', 'k4'])
    await s.close()

    const again = await openSpool()
    expect(again.unsent).toBe(4)
    expect(keys((await again.read(10)).records)).toEqual(['k3', 'k4', 'k5', 'k6'])
    expect(JSON.parse(await readFile(join(dir, 'cursor.json'), 'utf8'))).toEqual(done.next)
  })

  it('a fully drained spool reopens empty and keeps appending after the old records', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 3)
    expect(keys(await readAll(s))).toEqual(['k1', 'k2', 'k3'])
    await s.close()

    const again = await openSpool()
    expect(again.unsent).toBe(0)
    expect(again.empty).toBe(true)
    expect((await again.read(10)).records).toEqual([])
    await appendAll(again, 4, 5)
    expect(again.unsent).toBe(2)
    expect(keys(await readAll(again))).toEqual(['k4', 'k5'])
    expect(again.empty).toBe(true)
  })

  it('appends after a reopen come after the records already spooled', async () => {
    const s = await openSpool()
    await appendAll(s, 1, 2)
    await s.close()
    const again = await openSpool()
    await appendAll(again, 3, 4)
    expect(again.unsent).toBe(4)
    expect(keys(await readAll(again))).toEqual(['k1', 'k2', 'k3', 'k4'])
  })
})

describe('Spool segments', () => {
  it('rotates to a new segment file when a batch would overflow segmentBytes', async () => {
    const s = await openSpool({ segmentBytes: 2 * LINE })
    await appendAll(s, 1, 5, true)
    expect(await segments()).toEqual([seg(1), seg(2), seg(3)])
    expect((await stat(join(dir, seg(1)))).size).toBe(2 * LINE)
    expect((await stat(join(dir, seg(2)))).size).toBe(2 * LINE)
    expect((await stat(join(dir, seg(3)))).size).toBe(LINE)
    expect(s.bytes).toBe(5 * LINE)
  })

  it('reads across several segments in order', async () => {
    const s = await openSpool({ segmentBytes: LINE })
    await appendAll(s, 1, 5, true)
    expect(await segments()).toHaveLength(5)
    expect((await s.read(100)).records).toEqual([1, 2, 3, 4, 5].map(rec))
  })

  it('deletes segments once the reader has committed past them, and frees their bytes', async () => {
    const s = await openSpool({ segmentBytes: LINE })
    await appendAll(s, 1, 5, true)

    const a = await s.read(3)
    expect(keys(a.records)).toEqual(['k1', 'k2', 'k3'])
    // nothing is deleted before the commit
    expect(await segments()).toHaveLength(5)
    await s.commit(a.next, a.records.length)
    expect(await segments()).toEqual([seg(3), seg(4), seg(5)])
    expect(s.bytes).toBe(3 * LINE)

    const b = await s.read(3)
    expect(keys(b.records)).toEqual(['k4', 'k5'])
    await s.commit(b.next, b.records.length)
    // the segment still being written to stays
    expect(await segments()).toEqual([seg(5)])
    expect(s.bytes).toBe(LINE)
    expect(s.empty).toBe(true)
  })

  it('keeps numbering segments after a reopen and reads old then new in order', async () => {
    const s = await openSpool({ segmentBytes: LINE })
    await appendAll(s, 1, 3, true)
    const a = await s.read(1)
    await s.commit(a.next, a.records.length)
    await s.close()

    const again = await openSpool({ segmentBytes: LINE })
    expect(again.unsent).toBe(2)
    expect(again.bytes).toBe(3 * LINE)
    await appendAll(again, 4, 5, true)
    expect(await segments()).toEqual([seg(1), seg(2), seg(3), seg(4), seg(5)])
    expect(keys(await readAll(again))).toEqual(['k2', 'k3', 'k4', 'k5'])
    expect(await segments()).toEqual([seg(5)])
  })

  it('after reopen, a cursor pointing at a deleted segment starts at the oldest one left', async () => {
    const s = await openSpool({ segmentBytes: LINE })
    await appendAll(s, 1, 4, true)
    const a = await s.read(2)
    await s.commit(a.next, a.records.length)
    await s.close()
    // an operator removes the cursor's segment by hand
    await rm(join(dir, seg(2)))
    const again = await openSpool({ segmentBytes: LINE })
    expect(keys((await again.read(10)).records)).toEqual(['k3', 'k4'])
  })
})

describe('Spool maxBytes', () => {
  it('append() returns false and drops the record once maxBytes would be exceeded', async () => {
    const s = await openSpool({ maxBytes: 2 * LINE })
    expect(s.append(rec(1))).toBe(true)
    expect(s.append(rec(2))).toBe(true)
    expect(s.append(rec(3))).toBe(false)
    expect(s.unsent).toBe(2)
    expect(s.bytes).toBe(2 * LINE)
    await s.flush()
    expect(keys((await s.read(10)).records)).toEqual(['k1', 'k2'])
  })

  it('counts what is already on disk after a reopen', async () => {
    const s = await openSpool({ maxBytes: 3 * LINE })
    await appendAll(s, 1, 3)
    await s.close()
    const again = await openSpool({ maxBytes: 3 * LINE })
    expect(again.append(rec(4))).toBe(false)
    expect(again.unsent).toBe(3)
  })

  it('room comes back when committed segments are deleted', async () => {
    const s = await openSpool({ maxBytes: 2 * LINE, segmentBytes: LINE })
    await appendAll(s, 1, 2, true)
    expect(s.append(rec(3))).toBe(false)
    expect(keys(await readAll(s))).toEqual(['k1', 'k2'])
    // seg 1 is gone; seg 2 is still the write segment and still counts
    expect(s.bytes).toBe(LINE)
    expect(s.append(rec(3))).toBe(true)
    expect(s.append(rec(4))).toBe(false)
    await s.flush()
    expect(keys(await readAll(s))).toEqual(['k3'])
  })
})

describe('Spool crash safety', () => {
  // BUG (spool.ts, open()/read()): a crash mid-write can leave a torn last line. open() keeps it,
  // the next append is written straight after it, and read() then throws a SyntaxError on the
  // merged line on every call: neither the good record before it nor anything after it is ever
  // delivered again. Expected: the torn tail is dropped and the rest is read.
  it('a torn last line left by a crash does not wedge the spool', async () => {
    const good = JSON.stringify(rec(1)) + '\n'
    const torn = JSON.stringify(rec(2)).slice(0, 15)
    await writeFile(join(dir, seg(1)), good + torn)
    const s = await openSpool()
    expect(s.unsent).toBe(1)
    await appendAll(s, 3, 3)
    const { records } = await s.read(10)
    expect(keys(records)).toEqual(['k1', 'k3'])
  })

  // BUG (spool.ts, flush()): a failed write (here ENOSPC) leaves the internal #chain rejected for
  // good: every later flush() and read() rejects with the same error without touching the disk,
  // so even records already durable in earlier segments can never be drained. (The timer path,
  // `void this.flush()`, would also raise an unhandled rejection.)
  it('a failed write does not stop the reader from draining records already on disk', async () => {
    const s = await openSpool({ segmentBytes: LINE })
    s.append(rec(1))
    await s.flush()
    // the next segment is a full disk: rotation opens it and the write fails with ENOSPC
    await symlink('/dev/full', join(dir, seg(2)))
    s.append(rec(2))
    await s.flush()
    // the failure is recorded, the line kept for a later flush, and the chain is not poisoned
    expect(s.lastError?.message).toMatch(/ENOSPC/)
    expect(s.unsent).toBe(2)
    const { records } = await s.read(1)
    expect(keys(records)).toEqual(['k1'])
  })
})
