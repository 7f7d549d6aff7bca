import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ConfigSource } from '../config/load.ts'
import type { RouteState } from './route-state.ts'

export const STATE_FILE_SCHEMA = 'cutover.state/v1'

/**
 * What a route keeps across restarts: the values changed at run time (admin API, guard, ramp)
 * and its version. A value never changed is not kept, so editing it in the config takes effect.
 * Files written before `config` was recorded hold every value of every route.
 */
export type KeptState = Partial<Pick<RouteState, 'weight' | 'mirror' | 'readSample'>> & { version: number }

export interface StateFile {
  schema: typeof STATE_FILE_SCHEMA
  /** the config this state belongs to (absent in older files, or for a config not loaded from a file) */
  config?: ConfigSource
  routes: Record<string, KeptState>
}

/** Reads persisted route state; a missing file is an empty state, a corrupt one an error. */
export async function readStateFile(file: string): Promise<StateFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schema: STATE_FILE_SCHEMA, routes: {} }
    throw err
  }
  const parsed = JSON.parse(text) as Partial<StateFile>
  if (parsed.schema !== STATE_FILE_SCHEMA || typeof parsed.routes !== 'object' || parsed.routes === null) {
    throw new Error(`${file}: not a ${STATE_FILE_SCHEMA} file`)
  }
  const config = parsed.config
  const valid = config !== undefined && typeof config === 'object' && config !== null && typeof config.path === 'string' && typeof config.hash === 'string'
  return { schema: STATE_FILE_SCHEMA, routes: parsed.routes, ...(valid ? { config: { path: config.path, hash: config.hash } } : {}) }
}

/**
 * Writes route state atomically (temp file + rename, so a crash never leaves half a file) and
 * serialises writes: the last change always lands last.
 */
export class StateFileWriter {
  readonly #file: string
  readonly #config: ConfigSource | undefined
  #chain: Promise<void> = Promise.resolve()

  constructor(file: string, config: ConfigSource | undefined) {
    this.#file = file
    this.#config = config
  }

  write(routes: Record<string, KeptState>): Promise<void> {
    const state: StateFile = { schema: STATE_FILE_SCHEMA, ...(this.#config === undefined ? {} : { config: this.#config }), routes }
    const body = JSON.stringify(state, null, 2) + '\n'
    const next = this.#chain.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true })
      const tmp = `${this.#file}.${process.pid}.tmp`
      await writeFile(tmp, body)
      await rename(tmp, this.#file)
    })
    this.#chain = next.catch(() => undefined)
    return next
  }
}
