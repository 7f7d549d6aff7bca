import { constants } from 'node:fs'
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Counter } from 'prom-client'
import type { ReplayEvent } from '../publish/events.ts'
import { createJournalMetrics, type JournalMetrics } from './journal-metrics.ts'

/** After a restart: `send` resends the job to the secondary; `publish` only puts it on the replay topic. */
export type JobMode = 'send' | 'publish'

/** One mirrored write: everything needed to resend it, in the shape of a replay event. */
export interface JournalJob {
  readonly mode: JobMode
  readonly event: ReplayEvent
}

export interface JournalOptions {
  /** bytes of unfinished job records the journal holds; past it new jobs are not journalled */
  readonly maxBytes: number
  /** a segment is rewritten (open jobs only) into a fresh one once it grows past this */
  readonly segmentBytes: number
}

type JournalLine = ({ t: 'job' } & JournalJob) | { t: 'done'; id: string }

interface OpenJob {
  readonly line: string
  readonly size: number
  readonly job: JournalJob
}

const SEGMENT = /^journal-(\d{10})\.ndjson$/
const segName = (n: number): string => `journal-${String(n).padStart(10, '0')}.ndjson`
const RETRY_MS = 1000
/**
 * A write still running after this long (a stalled or failing disk) stops holding answers: its
 * waiting clients, and those of jobs begun meanwhile, are answered without the guarantee
 * (counted `failed`) rather than hang with the disk. Their records are still written when it
 * recovers.
 */
export const JOURNAL_STALL_MS = 1000
const NOT_DURABLE = Promise.resolve(false)
/**
 * O_DSYNC: each write returns once its data is on disk, so a batch is one system call (one round
 * trip through the thread pool and the event loop) instead of write + fdatasync. Under load that
 * round trip, not the disk, is most of the wait: measured on a busy 2-core VM, write + fdatasync
 * ~17 ms per batch inside the gateway against ~0.5 ms for the same calls alone. Where the flag
 * does not exist (Windows), an explicit fdatasync follows each write.
 */
const DSYNC: number | undefined = (constants as { O_DSYNC?: number }).O_DSYNC
const SEGMENT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (DSYNC ?? 0)
const LOG_EVERY_MS = 10_000
/**
 * Done records nobody waits for ride along with the next job batch; with no job coming they are
 * written this long after the first of them. A done-only write of its own would make the next
 * job batch (whose clients wait) queue behind it.
 */
export const JOURNAL_DONE_DELAY_MS = 50

/**
 * The mirror journal: a local append-only log of mirrored writes, so that a write whose client
 * got its answer still reaches the secondary after a crash. A `job` record is written (and
 * fsync'd) before the client's answer is released; a `done` record follows once the secondary
 * answered or the write's replay event is durable. Appends are group-committed: one write + one
 * fsync per batch, where a batch is everything appended while the previous fsync ran or in the
 * same turn of the event loop, so the
 * cost is per batch and batches grow with load; the jobs of a batch share one promise. `done`
 * records are not waited for, so they never start a write of their own at once: they go with the
 * next job batch, or JOURNAL_DONE_DELAY_MS later. When the current segment outgrows
 * `segmentBytes`, the open jobs (few: bounded by the mirror's in-flight limit plus the publish
 * backlog) are rewritten into a fresh segment and the old one is deleted, so the journal on disk
 * stays about one segment plus the open jobs.
 */
export class Journal {
  readonly dir: string
  readonly #maxBytes: number
  readonly #segmentBytes: number
  readonly #metrics: JournalMetrics
  readonly #journalled: Counter.Internal
  readonly #log: Logger
  #fh: FileHandle
  #seg: number
  /** bytes written to the current segment */
  #size: number
  readonly #open = new Map<string, OpenJob>()
  #openBytes = 0
  #lines: string[] = []
  #linesBytes = 0
  /** job records among #lines: a batch is written for them at once, done records alone wait */
  #lineJobs = 0
  #doneTimer: NodeJS.Timeout | null = null
  /** the done timer fired: the done records go even without a job */
  #doneDue = false
  /** what the jobs appended since the last write began wait for: one promise per batch, not per job */
  #waiting: Batch | null = null
  #loop: Promise<void> | null = null
  /** after a failed write the file may end in half a record: the next batch starts a fresh segment */
  #rewrite = false
  /** a write failed: only the retry timer writes (a rewrite of every open job), not every append */
  #failing = false
  #retry: NodeJS.Timeout | null = null
  #closed = false
  #lastLog = 0
  /** when the write in progress began (performance.now()), 0 when none is */
  #writeStarted = 0

  private constructor(dir: string, options: JournalOptions, registry: Registry, log: Logger, fh: FileHandle, seg: number) {
    this.dir = dir
    this.#maxBytes = options.maxBytes
    this.#segmentBytes = options.segmentBytes
    this.#log = log
    this.#fh = fh
    this.#seg = seg
    this.#size = 0
    this.#metrics = createJournalMetrics(registry, this)
    this.#journalled = this.#metrics.jobs.labels('journalled')
  }

  /**
   * Opens the journal in `dir` and returns the jobs a previous run left unfinished. They are
   * carried into a fresh segment (fsync'd) before the old segments are deleted, and stay open
   * until the caller marks them done.
   */
  static async open(dir: string, options: JournalOptions, registry: Registry, log: Logger): Promise<{ journal: Journal; recovered: JournalJob[] }> {
    await mkdir(dir, { recursive: true })
    await syncDir(dirname(dir))
    const segs = await listSegments(dir)
    const unfinished = new Map<string, OpenJob>()
    for (const n of segs) {
      const text = await readFile(join(dir, segName(n)), 'utf8')
      // a last line without its newline was being written when the process died: its batch was
      // never fsync'd, so no client was answered on it
      for (let start = 0, nl = text.indexOf('\n'); nl >= 0; start = nl + 1, nl = text.indexOf('\n', start)) {
        let rec: JournalLine
        try {
          rec = JSON.parse(text.slice(start, nl)) as JournalLine
        } catch {
          continue
        }
        if (rec.t === 'job') {
          const line = text.slice(start, nl + 1)
          unfinished.set(rec.event.id, { line, size: Buffer.byteLength(line), job: { mode: rec.mode, event: rec.event } })
        } else if (rec.t === 'done') unfinished.delete(rec.id)
      }
    }
    const seg = (segs.at(-1) ?? 0) + 1
    const fh = await open(join(dir, segName(seg)), SEGMENT_FLAGS)
    await syncDir(dir)
    const journal = new Journal(dir, options, registry, log, fh, seg)
    const text = [...unfinished.values()].map((e) => e.line).join('')
    if (text.length > 0) await durableWrite(fh, text)
    journal.#size = Buffer.byteLength(text)
    for (const [id, e] of unfinished) {
      journal.#open.set(id, e)
      journal.#openBytes += e.size
    }
    for (const n of segs) await rm(join(dir, segName(n)), { force: true })
    journal.#metrics.jobs.labels('recovered').inc(unfinished.size)
    return { journal, recovered: [...unfinished.values()].map((e) => e.job) }
  }

  get metrics(): JournalMetrics {
    return this.#metrics
  }

  /** Jobs journalled and not yet done. */
  get pending(): number {
    return this.#open.size
  }

  /** Bytes of journal files on disk. */
  get bytes(): number {
    return this.#size
  }

  /**
   * Journals a job. Resolves true once its record is fsync'd, false when the write failed (the job
   * then lives in memory only, until a later batch rewrites it). Null: not journalled at all (the
   * journal is over `maxBytes`, or closed).
   */
  begin(job: JournalJob): Promise<boolean> | null {
    if (this.#closed) return null
    const line = JSON.stringify({ t: 'job', mode: job.mode, event: job.event }) + '\n'
    const size = Buffer.byteLength(line)
    if (this.#openBytes + size > this.#maxBytes) {
      this.#metrics.jobs.labels('full').inc()
      this.#logError(null, 'mirror journal is full (journal.maxBytes): writes are mirrored without crash protection')
      return null
    }
    this.#open.set(job.event.id, { line, size, job })
    this.#openBytes += size
    this.#journalled.inc()
    if (this.#failing) {
      // the retry's rewrite carries it
      this.#metrics.jobs.labels('failed').inc()
      return NOT_DURABLE
    }
    this.#lines.push(line)
    this.#linesBytes += size
    this.#lineJobs++
    if (this.#writeStarted !== 0 && performance.now() - this.#writeStarted > JOURNAL_STALL_MS) {
      this.#metrics.jobs.labels('failed').inc()
      this.#kick()
      return NOT_DURABLE
    }
    const batch = (this.#waiting ??= new Batch())
    batch.jobs++
    this.#kick()
    return batch.durable
  }

  /** The job's secondary answered, or its replay event is durable: it needs no recovery. */
  done(id: string): void {
    const entry = this.#open.get(id)
    if (entry === undefined) return
    this.#open.delete(id)
    this.#openBytes -= entry.size
    if (this.#closed || this.#failing) return
    // not awaited by anyone: a done record lost in a crash only means one more resend, which
    // carries the same Idempotency-Key
    const line = `{"t":"done","id":${JSON.stringify(id)}}\n`
    this.#lines.push(line)
    this.#linesBytes += line.length
    if (this.#lineJobs > 0 || this.#loop !== null) return
    this.#doneTimer ??= setTimeout(this.#writeDone, JOURNAL_DONE_DELAY_MS).unref()
  }

  readonly #writeDone = (): void => {
    this.#doneTimer = null
    this.#doneDue = true
    this.#kick()
  }

  /** Writes what is pending; jobs still open stay on disk for the next start. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#retry !== null) clearTimeout(this.#retry)
    if (this.#doneTimer !== null) clearTimeout(this.#doneTimer)
    await this.#loop
    if (this.#lines.length > 0) {
      this.#kick()
      await this.#loop
    }
    await this.#fh.close().catch(() => undefined)
  }

  #kick(): void {
    this.#loop ??= this.#drain()
  }

  async #drain(): Promise<void> {
    // each batch is taken after the current turn of the event loop's I/O callbacks (setImmediate,
    // not a timer: an idle gateway waits one write, not a millisecond more), so the answers that
    // arrived together share a write; whatever is appended while a write runs joins the next one
    for (;;) {
      await nextTurn()
      const due = this.#lineJobs > 0 || this.#doneDue || this.#closed
      if ((this.#lines.length === 0 || !due) && !this.#rewrite) {
        this.#loop = null
        // only done records are left: they wait for the next job, or the done timer
        if (this.#lines.length > 0) this.#doneTimer ??= setTimeout(this.#writeDone, JOURNAL_DONE_DELAY_MS).unref()
        return
      }
      const lines = this.#lines
      const waiters = this.#waiting
      const bytes = this.#linesBytes
      this.#lines = []
      this.#waiting = null
      this.#linesBytes = 0
      this.#lineJobs = 0
      this.#doneDue = false
      if (this.#doneTimer !== null) {
        clearTimeout(this.#doneTimer)
        this.#doneTimer = null
      }
      const rewrite = this.#rewrite || (this.#size > 0 && this.#size + bytes > Math.max(this.#segmentBytes, 2 * this.#openBytes))
      // a rewrite carries every open job (those of this batch included); done records are not needed there
      const text = rewrite ? [...this.#open.values()].map((e) => e.line).join('') : lines.join('')
      const started = performance.now()
      this.#writeStarted = started
      let stalled = false
      const stall = setTimeout(() => {
        stalled = true
        this.#metrics.jobs.labels('failed').inc(waiters?.jobs ?? 0)
        this.#logError(null, `mirror journal write has not finished in ${JOURNAL_STALL_MS} ms: answering without crash protection`)
        // a promise settles once: the later true or false is ignored
        waiters?.settle(false)
      }, JOURNAL_STALL_MS)
      try {
        if (rewrite) await this.#startSegment()
        if (text.length > 0) await durableWrite(this.#fh, text)
        this.#size += rewrite ? Buffer.byteLength(text) : bytes
        if (rewrite) {
          this.#rewrite = false
          await this.#removeOlderSegments()
        }
        this.#metrics.batch.observe(lines.length)
        this.#metrics.sync.observe((performance.now() - started) / 1000)
        clearTimeout(stall)
        this.#writeStarted = 0
      } catch (err) {
        clearTimeout(stall)
        this.#writeStarted = 0
        // disk full or I/O error: the waiting clients are answered anyway (their primary has
        // applied the write), the jobs stay in memory and are rewritten by the next batch
        this.#rewrite = true
        if (!stalled) this.#metrics.jobs.labels('failed').inc(waiters?.jobs ?? 0)
        this.#logError(err, 'mirror journal write failed: writes are mirrored without crash protection until it succeeds')
        waiters?.settle(false)
        this.#failing = true
        this.#lines = []
        this.#linesBytes = 0
        this.#lineJobs = 0
        // jobs begun while it ran (the awaits above, which TypeScript's narrowing cannot see) are not written either
        const late = this.#waiting as Batch | null
        this.#waiting = null
        this.#metrics.jobs.labels('failed').inc(late?.jobs ?? 0)
        late?.settle(false)
        if (!this.#closed) this.#retry ??= setTimeout(this.#retryWrite, RETRY_MS).unref()
        this.#loop = null
        return
      }
      waiters?.settle(true)
    }
  }

  readonly #retryWrite = (): void => {
    this.#retry = null
    this.#failing = false
    this.#kick()
  }

  async #startSegment(): Promise<void> {
    const next = this.#seg + 1
    const fh = await open(join(this.dir, segName(next)), SEGMENT_FLAGS)
    // the new file's directory entry must survive a power loss before the old files are deleted
    await syncDir(this.dir)
    const old = this.#fh
    this.#fh = fh
    this.#seg = next
    this.#size = 0
    await old.close().catch(() => undefined)
  }

  async #removeOlderSegments(): Promise<void> {
    for (const n of await listSegments(this.dir)) if (n < this.#seg) await rm(join(this.dir, segName(n)), { force: true })
  }

  #logError(err: unknown, msg: string): void {
    const now = Date.now()
    if (now - this.#lastLog < LOG_EVERY_MS) return
    this.#lastLog = now
    this.#log.error({ err, journalDir: this.dir, pending: this.#open.size, openBytes: this.#openBytes }, msg)
  }
}

/** The jobs of one durable write: they are on disk together, or not at all. */
class Batch {
  jobs = 0
  settle: (durable: boolean) => void = () => undefined
  readonly durable = new Promise<boolean>((resolve) => (this.settle = resolve))
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

async function listSegments(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map((n) => SEGMENT.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
}

async function durableWrite(fh: FileHandle, text: string): Promise<void> {
  await fh.write(text)
  if (DSYNC === undefined) await fh.datasync()
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
