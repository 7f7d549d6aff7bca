import type { CutoverConfig } from '../config/schema.ts'
import { MemoryIdMap, type IdMap } from '../ids/id-map.ts'

/**
 * The id map `cutover reconcile` matches items through and records repaired creates in.
 *
 * For now an empty in-memory map: items match by equal id only, and pairs recorded by --repair
 * last for the run. The persisted map (a local file next to the state file, or the Kafka
 * compacted topic `cutover.ids`) is loaded by `loadIdMap(config, log)` from src/ids/, which
 * replaces this body when the two branches are merged.
 */
export async function openIdMap(_config: CutoverConfig): Promise<IdMap> {
  return new MemoryIdMap()
}
