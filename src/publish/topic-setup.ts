import type { Admin, ITopicConfig } from 'kafkajs'

/** Errors a topic answers with while it is being created or its leader elected. */
const ELECTING = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION'])
const RETRY_MS = 100

/**
 * Creates the topics that do not exist yet and returns once every one of them answers offset
 * requests. Replicas that start together race to create the same topics: kafkajs waits for leaders
 * only when its own request created the topic, so the replicas that lost the race (told "already
 * exists") would go on while the winner's topic still has no leader, and fail their first read
 * with NOT_LEADER_FOR_PARTITION.
 */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[], ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  await admin.createTopics({ waitForLeaders: true, topics })
  for (const { topic } of topics) await whileElecting(() => admin.fetchTopicOffsets(topic), deadline - Date.now())
}

/** `fetchTopicOffsets`, retried while the topic is still electing its leader (see ensureTopics). */
export function topicOffsets(admin: Admin, topic: string, ms = 10_000): ReturnType<Admin['fetchTopicOffsets']> {
  return whileElecting(() => admin.fetchTopicOffsets(topic), ms)
}

/**
 * Runs `fn` again while the broker says the topic is still electing its leader (as is, or as the
 * cause of kafkajs' own retries running out), for up to `ms`; any other error (Kafka away, not
 * allowed) is thrown at once, and the last one at the deadline.
 */
export async function whileElecting<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      const cause = ((err as { cause?: unknown }).cause ?? err) as { type?: string }
      if (cause.type === undefined || !ELECTING.has(cause.type) || Date.now() + RETRY_MS > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
    }
  }
}
