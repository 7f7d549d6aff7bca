import type { Admin, Kafka, KafkaMessage } from 'kafkajs'
import { CutoverError } from '../errors.ts'

/** Messages handled between two checkpoints (and offset commits), at most. */
export const CHECKPOINT_EVERY = 100
/** ... or this long, whichever comes first: slow resends still commit as they go. */
export const CHECKPOINT_MS = 1000

export interface ReadToEndOptions {
  readonly topic: string
  readonly groupId: string
  /** Commit the group's offsets as it goes, each time after `checkpoint` resolved. */
  readonly commit: boolean
  readonly each: (message: KafkaMessage, partition: number, heartbeat: () => Promise<void>) => Promise<void>
  /** Makes durable what `each` produced so far; runs before every commit. */
  readonly checkpoint: () => Promise<void>
  /** The offset of the partition's earliest message not settled yet: commits never pass it. */
  readonly hold?: (partition: number) => bigint | null
  /** Runs once every partition has been read, before the last checkpoint and commit. */
  readonly beforeEnd?: () => Promise<void>
  /** Longer than the slowest `each` can take between two heartbeats, or the group drops this reader. */
  readonly sessionTimeoutMs?: number
}

/**
 * Reads a topic from a consumer group's committed position (or the beginning) up to its end as it
 * was when the read began, so it finishes even while producers keep appending, and resolves with
 * the number of messages handled. An error in `each` or `checkpoint` stops the read and rejects:
 * nothing after the failed message is committed.
 */
export async function readToEnd(kafka: Kafka, opts: ReadToEndOptions): Promise<number> {
  const ends = await pendingEnds(kafka, opts.topic, opts.groupId)
  if (ends.size === 0) return 0
  const sessionTimeout = Math.max(30_000, opts.sessionTimeoutMs ?? 0)
  const consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 200, sessionTimeout, rebalanceTimeout: Math.max(60_000, sessionTimeout), retry: { retries: 3 } })
  /** per partition, the offset after the last message handled */
  const positions = new Map<number, bigint>()
  const commit = async (partitions: Iterable<number>): Promise<void> => {
    await opts.checkpoint()
    if (!opts.commit) return
    const offsets = []
    for (const partition of partitions) {
      const next = positions.get(partition)
      if (next === undefined) continue
      const held = opts.hold?.(partition) ?? null
      offsets.push({ topic: opts.topic, partition, offset: (held !== null && held < next ? held : next).toString() })
    }
    if (offsets.length > 0) await consumer.commitOffsets(offsets)
  }
  let handled = 0
  let failure: unknown = null
  const remaining = new Set(ends.keys())
  try {
    await consumer.connect()
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const stop = (err: unknown): void => {
        failure ??= err
        reject(err)
      }
      // also emitted for batches kafkajs does not hand over (only compacted-away or control
      // records), which would otherwise leave a partition short of its end forever
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        const end = ends.get(e.payload.partition)
        if (failure !== null || end === undefined || BigInt(e.payload.lastOffset) + 1n < end) return
        remaining.delete(e.payload.partition)
        if (remaining.size === 0) resolve()
      })
      // a partition assigned to another member (a second run with the same group) would never
      // reach its end here: stop rather than wait forever
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const assigned = new Set(e.payload.memberAssignment[opts.topic] ?? [])
        const missing = [...remaining].filter((p) => !assigned.has(p))
        if (missing.length > 0) stop(new CutoverError('CUTOVER_REPLAY_BUSY', `consumer group ${opts.groupId} has other members (another cutover replay running?): partitions ${missing.join(', ')} of ${opts.topic} went to them`))
      })
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) stop(e.payload.error)
      })
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, heartbeat, resolveOffset, pause }) => {
            const end = ends.get(batch.partition)
            if (failure !== null || end === undefined) return
            let since = 0
            let lastCheckpoint = Date.now()
            try {
              for (const message of batch.messages) {
                const offset = BigInt(message.offset)
                if (offset >= end) break
                await opts.each(message, batch.partition, heartbeat)
                // moves kafkajs's fetch position (commits are ours, below): without it the next
                // fetch starts from the same offset again
                resolveOffset(message.offset)
                await heartbeat() // sent only when the heartbeat interval has passed
                handled++
                positions.set(batch.partition, offset + 1n)
                if (++since >= CHECKPOINT_EVERY || Date.now() - lastCheckpoint >= CHECKPOINT_MS) {
                  await commit([batch.partition])
                  since = 0
                  lastCheckpoint = Date.now()
                }
              }
              await commit([batch.partition])
              // read up to its end: no more fetches for it while other partitions finish
              if (BigInt(batch.lastOffset()) + 1n >= end) pause()
            } catch (err) {
              stop(err)
            }
          },
        })
        .catch(stop)
    })
    await opts.beforeEnd?.()
    await commit(ends.keys())
  } finally {
    await consumer.disconnect().catch(() => undefined)
  }
  return handled
}

/** Per partition, the end to read up to, for partitions with something left past the group's position. */
async function pendingEnds(kafka: Kafka, topic: string, groupId: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const ends = new Map<number, bigint>()
    for (const [partition, range] of await unreadRanges(admin, topic, groupId)) ends.set(partition, range.end)
    return ends
  } finally {
    await admin.disconnect()
  }
}

/**
 * Per partition, what a consumer group has not read yet: from its committed position (or the
 * earliest message still kept) to the partition's end. Partitions with nothing left are absent.
 */
export async function unreadRanges(admin: Admin, topic: string, groupId: string): Promise<Map<number, { from: bigint; end: bigint }>> {
  const offsets = await admin.fetchTopicOffsets(topic)
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
  const positions = new Map<number, bigint>()
  for (const p of committed[0]?.partitions ?? []) positions.set(p.partition, BigInt(p.offset))
  const ranges = new Map<number, { from: bigint; end: bigint }>()
  for (const p of offsets) {
    const low = BigInt(p.low)
    const end = BigInt(p.high)
    const position = positions.get(p.partition) ?? -1n
    // -1: no position yet; below low: retention removed what it pointed at
    const from = position < low ? low : position
    if (from < end) ranges.set(p.partition, { from, end })
  }
  return ranges
}
