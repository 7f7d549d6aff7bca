import { join } from 'node:path'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import type { CutoverConfig } from '../config/schema.ts'
import type { IdMap } from '../ids/id-map.ts'
import { IdStore } from '../ids/id-store.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { createPublisher } from '../publish/publisher.ts'

/** The id map for one `cutover reconcile` run, and how to end it (persisting what --repair recorded). */
export interface RunIdMap {
  readonly ids: IdMap
  close(): Promise<void>
}

/**
 * Opens the id map `cutover reconcile` matches items through: the pairs the gateways persisted
 * (the files in ids.dir and, with Kafka, the compacted `cutover.ids` topic). Pairs that --repair
 * records for the items it creates are kept in a file of their own (`reconcile.ndjson`, never a
 * gateway's) and, with Kafka, published so that running gateways learn them.
 */
export async function openIdMap(config: CutoverConfig, log: Logger): Promise<RunIdMap> {
  const publisher =
    config.kafka === undefined ? null : await createPublisher({ config, metrics: createMetrics(new Registry(), { processMetrics: false }), log, spoolDir: join(config.spool.dir, 'reconcile') })
  const store = await IdStore.open(config, log, publisher, 'reconcile')
  const { map } = store
  const ids: IdMap = {
    translate: (name, side, id) => map.translate(name, side, id),
    record: (pair) => void store.record(pair),
    same: (name, side, a, b) => map.same(name, side, a, b),
    get size() {
      return map.size
    },
  }
  return {
    ids,
    async close() {
      await store.close()
      await publisher?.close()
    },
  }
}
