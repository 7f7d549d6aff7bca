import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { MemoryIdMap, type IdMap } from '../ids/id-map.ts'

/** The id map for one `cutover reconcile` run, and how to end it (persisting what --repair recorded). */
export interface RunIdMap {
  readonly ids: IdMap
  close(): Promise<void>
}

/**
 * Opens the id map `cutover reconcile` matches items through and records repaired creates in.
 *
 * For now an empty in-memory map: items match by equal id only, and pairs recorded by --repair
 * last for the run. The persisted map (a local file next to the state file, or the Kafka
 * compacted topic `cutover.ids`) is loaded by the loader in src/ids/, which replaces this body
 * when the two branches are merged; `close` then flushes the pairs recorded during the run.
 */
export async function openIdMap(_config: CutoverConfig, _log: Logger): Promise<RunIdMap> {
  return { ids: new MemoryIdMap(), close: async () => undefined }
}
