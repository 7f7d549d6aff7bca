import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { OutgoingRecord } from './events.ts'

import { DEFAULT_SPOOL_MAX_BYTES } from '../config/defaults.ts'
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
/** Appends are fsync'd in batches: at most this long after publish() an event is on disk. */
export const DEFAULT_SPOOL_FLUSH_MS = 20
const RETRY_FLUSH_MS = 1000

export interface SpoolCursor {
  segment: number
  offset: number
}

export interface SpoolBatch {
  records: OutgoingRecord[]
  next: SpoolCursor
}

const SEGMENT = /^seg-(\d{10})\.ndjson$/
const segName = (n: number): string => `seg-${String(n).padStart(10, '0')}.ndjson`

/**
 * An append-only, on-disk queue of events: newline-delimited JSON in numbered segment files, a
 * cursor file saying how far a reader got. Appends are buffered and written + fsync'd together
 * (one fsync per batch, not per event). Readers commit the cursor after delivery, so a crash
 * between delivery and commit re-delivers (at least once), and nothing is lost.
 */
export class Spool {
  readonly dir: string
  readonly #maxBytes: number
  readonly #segmentBytes: number
  readonly #flushMs: number
  #writeSeg = 1
  #writeSize = 0
  #fh: FileHandle | null = null
  #pending: string[] = []
  #pendingBytes = 0
  /** callbacks of pending records that want to know when they are on disk */
  #durable: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null
  #chain: Promise<void> = Promise.resolve()
  #cursor: SpoolCursor = { segment: 1, offset: 0 }
  /** bytes of all segment files on disk, plus what is buffered */
  #bytes = 0
  /** records appended and not yet committed past by a reader */
  unsent = 0
  /** the last write failure, if any (the lines stay pending and are retried) */
  lastError: Error | null = null

  constructor(dir: string, options: { maxBytes?: number; segmentBytes?: number; flushMs?: number } = {}) {
    this.dir = dir
    this.#maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES
    this.#segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    this.#flushMs = options.flushMs ?? DEFAULT_SPOOL_FLUSH_MS
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const segs = await this.#segments()
    try {
      this.#cursor = JSON.parse(await readFile(join(this.dir, 'cursor.json'), 'utf8')) as SpoolCursor
    } catch {
      this.#cursor = { segment: segs[0] ?? 1, offset: 0 }
    }
    if (segs.length > 0 && this.#cursor.segment < (segs[0] as number)) this.#cursor = { segment: segs[0] as number, offset: 0 }
    this.#writeSeg = segs.at(-1) ?? this.#cursor.segment
    this.#bytes = 0
    this.unsent = 0
    for (const n of segs) {
      let text = await readFile(join(this.dir, segName(n)), 'utf8')
      if (text.length > 0 && !text.endsWith('\n')) {
        // a crash mid-write left half a line: that record was never fully on disk (nor
        // acknowledged to anyone); cut it so the next append starts on a line of its own
        text = text.slice(0, text.lastIndexOf('\n') + 1)
        await truncate(join(this.dir, segName(n)), Buffer.byteLength(text))
      }
      this.#bytes += Buffer.byteLength(text)
      if (n === this.#writeSeg) this.#writeSize = Buffer.byteLength(text)
      if (n < this.#cursor.segment) continue
      const from = n === this.#cursor.segment ? Buffer.from(text).subarray(this.#cursor.offset).toString('utf8') : text
      for (let i = from.indexOf('\n'); i >= 0; i = from.indexOf('\n', i + 1)) this.unsent++
    }
    this.#fh = await open(join(this.dir, segName(this.#writeSeg)), 'a')
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Buffers one record for the next batched write; false (record dropped) when the spool is full. */
  append(record: OutgoingRecord): boolean {
    const line = JSON.stringify(record) + '\n'
    const size = Buffer.byteLength(line)
    if (this.#bytes + size > this.#maxBytes) return false
    this.#pending.push(line)
    this.#pendingBytes += size
    this.#bytes += size
    this.unsent++
    if (record.durable !== undefined) this.#durable.push(record.durable)
    this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs)
    return true
  }

  /**
   * Writes and fsyncs everything appended so far. A failed write (disk full) keeps its lines in
   * memory for the next flush, and never stops readers from draining what is already on disk.
   */
  flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    if (this.#pending.length === 0) return this.#chain
    this.#chain = this.#chain.then(async () => {
      const lines = this.#pending
      if (lines.length === 0) return
      const bytes = this.#pendingBytes
      const durable = this.#durable
      this.#pending = []
      this.#pendingBytes = 0
      this.#durable = []
      try {
        if (this.#fh === null) throw new Error('spool is not open')
        if (this.#writeSize > 0 && this.#writeSize + bytes > this.#segmentBytes) {
          await this.#fh.close()
          this.#writeSeg++
          this.#writeSize = 0
          this.#fh = await open(join(this.dir, segName(this.#writeSeg)), 'a')
        }
        await this.#fh.write(lines.join(''))
        await this.#fh.datasync()
        this.#writeSize += bytes
        for (const done of durable) done()
      } catch (err) {
        this.#pending = lines.concat(this.#pending)
        this.#pendingBytes += bytes
        this.#durable = durable.concat(this.#durable)
        this.lastError = err as Error
        this.#timer ??= setTimeout(() => void this.flush(), RETRY_FLUSH_MS).unref()
      }
    })
    return this.#chain
  }

  /** True when every appended record has been read and committed. */
  get empty(): boolean {
    return this.unsent === 0 && this.#pending.length === 0
  }

  /** Reads up to `max` records from the cursor (written ones only: call flush() first). */
  async read(max: number): Promise<SpoolBatch> {
    await this.#chain
    let { segment, offset } = this.#cursor
    const records: OutgoingRecord[] = []
    while (records.length < max) {
      let buf: Buffer
      try {
        buf = await readFile(join(this.dir, segName(segment)))
      } catch {
        break
      }
      let pos = offset
      while (records.length < max) {
        const nl = buf.indexOf(10, pos)
        if (nl < 0) break
        records.push(JSON.parse(buf.subarray(pos, nl).toString('utf8')) as OutgoingRecord)
        pos = nl + 1
      }
      offset = pos
      if (records.length >= max || segment >= this.#writeSeg || pos < buf.length) break
      segment++
      offset = 0
    }
    return { records, next: { segment, offset } }
  }

  /** Records that `next` was delivered; deletes segments the reader has left behind. */
  async commit(next: SpoolCursor, count: number): Promise<void> {
    const before = this.#cursor.segment
    this.#cursor = next
    this.unsent = Math.max(0, this.unsent - count)
    const tmp = join(this.dir, 'cursor.json.tmp')
    await writeFile(tmp, JSON.stringify(next))
    await rename(tmp, join(this.dir, 'cursor.json'))
    for (let n = before; n < next.segment; n++) {
      const file = join(this.dir, segName(n))
      const size = (await stat(file).catch(() => null))?.size ?? 0
      await rm(file, { force: true })
      this.#bytes -= size
    }
  }

  async close(): Promise<void> {
    await this.flush()
    await this.#chain
    await this.#fh?.close()
    this.#fh = null
  }

  async #segments(): Promise<number[]> {
    const names = await readdir(this.dir)
    return names
      .map((n) => SEGMENT.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }
}
