import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import type { Publisher } from '../publish/publisher.ts'
import { kafkaErrorMessage } from '../publish/kafka-client.ts'
import { IdFile, idFileName, readIdFiles } from './id-file.ts'
import { MemoryIdMap, type IdPair } from './id-map.ts'
import { idEvent, idKey, readIdTopic, type IdTopicReader } from './id-topic.ts'

/** A file is rewritten once it holds more than twice the live pairs plus this many lines. */
export const ID_COMPACT_SLACK = 10_000

/** The ids folder: `ids.dir`, or `ids/` next to the state file. */
export function idDir(config: CutoverConfig): string {
  return config.ids.dir ?? join(dirname(config.state.file), 'ids')
}

export interface IdSummary {
  /** pairs per map */
  readonly maps: Record<string, number>
  /** the newest pairs first (of `map` when given), at most `limit` */
  readonly pairs: IdPair[]
}

/**
 * Reads the persisted id map: every process's file in the ids folder, then (with Kafka
 * configured) the `cutover.ids` topic from the beginning. A topic that cannot be read within
 * ID_TOPIC_LOAD_MS is logged and skipped: the file's pairs are still there. `cutover reconcile`
 * calls this to match items across the two stores.
 */
export async function loadIdMap(config: CutoverConfig, log: Logger): Promise<MemoryIdMap> {
  return (await loadInto(config, log, false)).map
}

async function loadInto(config: CutoverConfig, log: Logger, follow: boolean): Promise<{ map: MemoryIdMap; lines: Map<string, number>; topic: IdTopicReader | null }> {
  const map = new MemoryIdMap(config.ids.maxPairs)
  const record = (pair: IdPair): void => {
    // a pair already known as it is stays where it is in the age order
    if (map.translate(pair.map, 'legacy', pair.legacy) !== pair.cloud || map.translate(pair.map, 'cloud', pair.cloud) !== pair.legacy) map.record(pair)
  }
  const lines = await readIdFiles(idDir(config), record)
  let topic: IdTopicReader | null = null
  if (config.kafka !== undefined) {
    try {
      topic = await readIdTopic(config, record, { follow })
      log.info({ topic: config.kafka.topics.ids, pairs: topic.read }, 'id pairs loaded from Kafka')
    } catch (err) {
      log.warn({ reason: kafkaErrorMessage(err, config.kafka), topic: config.kafka.topics.ids }, 'id topic not readable: starting with the pairs in the local file')
    }
  }
  return { map, lines, topic }
}

/**
 * The gateway's id map and where its pairs go: memory first (bounded by ids.maxPairs), then this
 * process's append-only file, then, with Kafka configured, the compacted id topic through the
 * publisher (which spools while Kafka is away). With Kafka it also follows the topic, so pairs
 * recorded by other gateway processes reach this one.
 */
export class IdStore {
  readonly map: MemoryIdMap
  readonly #file: IdFile
  readonly #publisher: Publisher | null
  readonly #log: Logger
  readonly #topic: IdTopicReader | null
  readonly #listeners: ((pair: IdPair) => void)[] = []
  #compacting = false

  private constructor(map: MemoryIdMap, file: IdFile, publisher: Publisher | null, log: Logger, topic: IdTopicReader | null) {
    this.#topic = topic
    this.map = map
    this.#file = file
    this.#publisher = publisher
    this.#log = log
  }

  /** Loads the persisted pairs (see loadIdMap) before the caller starts serving. */
  static async open(config: CutoverConfig, log: Logger, publisher: Publisher | null, worker: number | 'reconcile' = 0): Promise<IdStore> {
    // with Kafka, pairs other processes record keep arriving after the load (into memory only:
    // their own process persists them)
    const { map, lines, topic } = await loadInto(config, log, true)
    const store = new IdStore(map, new IdFile(idDir(config), worker, lines.get(idFileName(worker)) ?? 0), config.kafka === undefined ? null : publisher, log, topic)
    await store.#maybeCompact()
    log.info({ pairs: map.size, dir: idDir(config) }, 'id map loaded')
    return store
  }

  /** Records a pair seen in two answers; false when the map already had exactly this pair. */
  record(pair: IdPair): boolean {
    if (this.map.translate(pair.map, 'legacy', pair.legacy) === pair.cloud && this.map.translate(pair.map, 'cloud', pair.cloud) === pair.legacy) return false
    this.map.record(pair)
    this.#file.append(pair)
    this.#publisher?.publish('ids', idKey(pair), idEvent(pair))
    for (const fn of this.#listeners) fn(pair)
    void this.#maybeCompact()
    return true
  }

  /** Calls `fn` with every pair this process records (cluster workers pass them on). */
  onRecord(fn: (pair: IdPair) => void): void {
    this.#listeners.push(fn)
  }

  /** A pair another process recorded and persists: into memory only. */
  learn(pair: IdPair): void {
    if (this.map.translate(pair.map, 'legacy', pair.legacy) !== pair.cloud || this.map.translate(pair.map, 'cloud', pair.cloud) !== pair.legacy) this.map.record(pair)
  }

  summary(map: string | undefined, limit: number): IdSummary {
    const maps: Record<string, number> = {}
    const newest: IdPair[] = []
    for (const p of this.map.pairs()) {
      maps[p.map] = (maps[p.map] ?? 0) + 1
      if (map !== undefined && p.map !== map) continue
      newest.push(p)
      if (newest.length > limit) newest.shift()
    }
    return { maps, pairs: newest.reverse() }
  }

  /** Pending appends on disk (tests, shutdown). */
  flush(): Promise<void> {
    return this.#file.flush()
  }

  async close(): Promise<void> {
    await this.#topic?.stop()
    await this.#file.close().catch((err: unknown) => this.#log.error({ err }, 'id file could not be written'))
  }

  async #maybeCompact(): Promise<void> {
    if (this.#compacting || this.#file.lines <= 2 * this.map.size + ID_COMPACT_SLACK) return
    this.#compacting = true
    try {
      await this.#file.compact(this.map.pairs())
    } catch (err) {
      this.#log.error({ err }, 'id file could not be compacted')
    } finally {
      this.#compacting = false
    }
  }
}
