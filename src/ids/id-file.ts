import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { IdPair } from './id-map.ts'

/** Appends are written together: at most this long after record() a pair is on disk. */
export const ID_FLUSH_MS = 20
// one file per writer: `w<N>.ndjson` per gateway process, `reconcile.ndjson` for cutover reconcile --repair
const FILE = /^(?:w\d+|reconcile)\.ndjson$/

/** One process's file in the ids folder (`w0.ndjson`; cluster workers each append to their own). */
export function idFileName(worker: number | 'reconcile'): string {
  return worker === 'reconcile' ? 'reconcile.ndjson' : `w${worker}.ndjson`
}

function isPair(v: unknown): v is IdPair {
  if (v === null || typeof v !== 'object') return false
  const p = v as Record<string, unknown>
  return typeof p.map === 'string' && typeof p.legacy === 'string' && typeof p.cloud === 'string'
}

/**
 * Reads every process's id file in `dir`, oldest line first per file, calling `onPair` for each
 * pair (a later line for the same id replaces an earlier one). A line cut short by a crash is
 * skipped. Returns the number of lines read per file name; a missing folder is empty.
 */
export async function readIdFiles(dir: string, onPair: (pair: IdPair) => void): Promise<Map<string, number>> {
  const lines = new Map<string, number>()
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => FILE.test(n)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return lines
    throw err
  }
  for (const name of names) {
    let n = 0
    const rl = createInterface({ input: createReadStream(join(dir, name), 'utf8'), crlfDelay: Infinity })
    for await (const line of rl) {
      if (line === '') continue
      n++
      try {
        const v: unknown = JSON.parse(line)
        if (isPair(v)) onPair({ map: v.map, legacy: v.legacy, cloud: v.cloud })
      } catch {
        // half a line from a crash mid-write: that pair was never fully on disk
      }
    }
    lines.set(name, n)
  }
  return lines
}

/**
 * This process's append-only file of pairs (newline-delimited JSON). Appends are batched; when the
 * file has grown past twice the live pairs, it is rewritten from the map (temp file + rename).
 */
export class IdFile {
  readonly #dir: string
  readonly #path: string
  #fh: FileHandle | null = null
  #pending: string[] = []
  #timer: NodeJS.Timeout | null = null
  #chain: Promise<void> = Promise.resolve()
  /** lines in the file, including superseded ones */
  lines: number
  lastError: Error | null = null

  constructor(dir: string, worker: number | 'reconcile', lines: number) {
    this.#dir = dir
    this.#path = join(dir, idFileName(worker))
    this.lines = lines
  }

  append(pair: IdPair): void {
    this.#pending.push(JSON.stringify({ map: pair.map, legacy: pair.legacy, cloud: pair.cloud }) + '\n')
    this.lines++
    this.#timer ??= setTimeout(() => void this.flush(), ID_FLUSH_MS)
  }

  /** Writes what is pending; resolves once it is on disk. */
  flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    return this.#run(async () => {
      if (this.#pending.length === 0) return
      const text = this.#pending.join('')
      this.#pending = []
      await this.#write(text)
    })
  }

  /** Rewrites the file with exactly `pairs` (the map's live pairs), then keeps appending to it. */
  compact(pairs: Iterable<IdPair>): Promise<void> {
    return this.#run(async () => {
      await this.#fh?.close()
      this.#fh = null
      const tmp = `${this.#path}.${process.pid}.tmp`
      await mkdir(this.#dir, { recursive: true })
      const fh = await open(tmp, 'w')
      let n = 0
      try {
        let chunk: string[] = []
        for (const p of pairs) {
          chunk.push(JSON.stringify({ map: p.map, legacy: p.legacy, cloud: p.cloud }) + '\n')
          n++
          if (chunk.length >= 10_000) {
            await fh.write(chunk.join(''))
            chunk = []
          }
        }
        // pairs recorded since the last flush are in the map already: the pending lines are not needed
        this.#pending = []
        await fh.write(chunk.join(''))
        await fh.datasync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.#path)
      this.lines = n
    })
  }

  async close(): Promise<void> {
    await this.flush()
    await this.#run(async () => {
      await this.#fh?.close()
      this.#fh = null
    })
  }

  async #write(text: string): Promise<void> {
    if (this.#fh === null) {
      await mkdir(this.#dir, { recursive: true })
      this.#fh = await open(this.#path, 'a')
    }
    await this.#fh.write(text)
    await this.#fh.datasync()
  }

  #run(fn: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(fn)
    this.#chain = next.then(
      () => {
        this.lastError = null
      },
      (err: unknown) => {
        this.lastError = err as Error
      },
    )
    return next
  }
}
