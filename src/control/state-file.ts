import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { RouteState } from './route-state.ts'

export const STATE_FILE_SCHEMA = 'cutover.state/v1'

interface StateFile {
  schema: typeof STATE_FILE_SCHEMA
  routes: Record<string, RouteState>
}

/** Reads persisted route state; a missing file is an empty state, a corrupt one an error. */
export async function readStateFile(file: string): Promise<Record<string, RouteState>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  const parsed = JSON.parse(text) as Partial<StateFile>
  if (parsed.schema !== STATE_FILE_SCHEMA || typeof parsed.routes !== 'object' || parsed.routes === null) {
    throw new Error(`${file}: not a ${STATE_FILE_SCHEMA} file`)
  }
  return parsed.routes
}

/**
 * Writes route state atomically (temp file + rename, so a crash never leaves half a file) and
 * serialises writes: the last change always lands last.
 */
export class StateFileWriter {
  readonly #file: string
  #chain: Promise<void> = Promise.resolve()

  constructor(file: string) {
    this.#file = file
  }

  write(routes: Record<string, RouteState>): Promise<void> {
    const body = JSON.stringify({ schema: STATE_FILE_SCHEMA, routes } satisfies StateFile, null, 2) + '\n'
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
