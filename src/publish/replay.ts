import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, type KafkaMessage, type Message, type Producer } from 'kafkajs'
import { request } from 'undici'
import type { Dispatcher } from 'undici'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import { REDACTED } from './redact.ts'
import { REPLAY_DEAD_SCHEMA, REPLAY_DONE_SCHEMA, REPLAY_SCHEMA, type DeadReason, type ReplayDeadEvent, type ReplayDoneRecord, type ReplayEvent } from './events.ts'
import { ReplayBackendHealth, DOWN_AFTER } from './replay-backend-health.ts'
import { verdictOf, type ResendVerdict } from './replay-verdict.ts'
import { inWindow, windowProblem, type ReplayWindow } from './replay-window.ts'
import { readToEnd } from './topic-reader.ts'
import { asKafkaError, kafkaClientOptions, type KafkaSettings } from './kafka-client.ts'
import { replayedPair } from '../ids/replayed-pair.ts'
import type { IdPair } from '../ids/id-map.ts'
import { idEvent, idKey } from '../ids/id-topic.ts'

/** Consumer group of a full run, after `kafka.clientId`: `cutover-replay` by default; `--route X` adds `.X`. */
export const REPLAY_GROUP_SUFFIX = '-replay'
/** Progress on stderr every this many events read, and at least this often. */
export const PROGRESS_EVERY = 500
export const PROGRESS_MS = 2000
/** First pause between two tries of one event within a run, doubled each time up to RETRY_MAX_MS. */
export const RETRY_MS = 100
export const RETRY_MAX_MS = 1000

export interface ReplayOptions {
  readonly config: CutoverConfig
  readonly route?: string
  readonly dryRun: boolean
  /** Extra headers for every resend, e.g. credentials that events never carry (they are redacted). */
  readonly headers: Record<string, string>
  /** Tries of one event in this run before it is dead-lettered; default `config.replay.maxAttempts`. */
  readonly maxAttempts?: number
  /** Only events whose `time` is in this window; such a run commits no offsets. */
  readonly window?: ReplayWindow
  /** One line per event and a summary: the operator watches this (stdout). */
  readonly print: (line: string) => void
  /** Counts while it runs (stderr). */
  readonly progress?: (line: string) => void
}

export interface ReplaySummary {
  /** replay events read from the topic (in scope or not) */
  read: number
  /** dry run: events that would be sent */
  listed: number
  sent: number
  dead: number
  /** still to do: kept on the replay topic for the next run */
  pending: number
  /** skipped: sent or dead-lettered by an earlier run */
  done: number
  /** of those, dead-lettered */
  doneDead: number
}

/** The resend of one replay event; exported for tests. */
export async function resend(config: CutoverConfig, event: ReplayEvent, extra: Record<string, string>): Promise<{ ok: boolean; status: number | null; error?: string; pair?: IdPair }> {
  const backend = config.backends[event.backend]
  if (backend === undefined) return { ok: false, status: null, error: `backend '${event.backend}' is not in the config` }
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(event.headers)) if (v !== REDACTED && k !== 'host') headers[k] = v
  Object.assign(headers, extra)
  if (event.idempotencyKey !== '') headers['idempotency-key'] = event.idempotencyKey
  headers['x-request-id'] = event.requestId
  headers['x-cutover-replay'] = String(event.attempts)
  const body = event.body === '' ? null : Buffer.from(event.body, 'base64')
  try {
    const res = await request(new URL(backend.url).origin + event.path, {
      method: event.method as Dispatcher.HttpMethod,
      headers,
      body,
      headersTimeout: backend.timeoutMs,
      bodyTimeout: backend.timeoutMs,
    })
    // a replayed create (route with ids.from) answers the backend's id: paired with the primary's
    const pair = await replayedPair(config, event, res)
    return { ok: verdictOf(event.method, res.statusCode) === 'done', status: res.statusCode, ...(pair === undefined ? {} : { pair }) }
  } catch (err) {
    return { ok: false, status: null, error: (err as Error).message }
  }
}

/** The last try of an event that did not get through. */
interface Unsent {
  readonly event: ReplayEvent
  readonly partition: number
  readonly offset: bigint
  readonly verdict: ResendVerdict
  /** resends of it in this run */
  readonly tries: number
  readonly status: number | null
  readonly error?: string
}

/**
 * `cutover replay`: reads the done topic (every event id already sent or dead-lettered), then the
 * replay topic from the consumer group's position up to its end as it was at start, and resends
 * each event not done yet, with its original Idempotency-Key. A resend that fails is tried again
 * within the run up to the attempt limit; an event that still fails is dead-lettered, unless its
 * backend turns out to be down (ReplayBackendHealth): then it stays pending, and the group's
 * committed offset stops at it, so the next run starts there (skipping what is done). Done ids
 * make a `--route` run and a full run (separate consumer groups) never send a write twice.
 */
export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const kafka = opts.config.kafka
  if (kafka === undefined) throw new CutoverError('CUTOVER_CONFIG_INVALID', 'replay needs kafka in the config (or CUTOVER_KAFKA_BROKERS)')
  const problem = windowProblem(opts.window ?? {})
  if (problem !== null) throw new CutoverError('CUTOVER_INVALID_INPUT', problem)
  try {
    return await replayWith(opts, kafka)
  } catch (err) {
    // a wrong password or an untrusted certificate in one line, not a kafkajs stack
    throw asKafkaError(err, kafka)
  }
}

async function replayWith(opts: ReplayOptions, kafka: KafkaSettings): Promise<ReplaySummary> {
  const { topics } = kafka
  const client = new Kafka(kafkaClientOptions(kafka, 'replay', { retry: { retries: 3 } }))
  const summary: ReplaySummary = { read: 0, listed: 0, sent: 0, dead: 0, pending: 0, done: 0, doneDead: 0 }

  const admin = client.admin()
  await admin.connect()
  let doneExists: boolean
  try {
    const existing = new Set(await admin.listTopics())
    if (!existing.has(topics.replay)) {
      opts.print(`nothing to replay: topic ${topics.replay} does not exist`)
      return summary
    }
    // two runs at once would each trust a done set read at start, and could send a write twice
    const groups = [groupOf(kafka.clientId), ...opts.config.routes.map((r) => groupOf(kafka.clientId, r.id))]
    const busy = (await admin.describeGroups(groups)).groups.filter((g) => g.members.length > 0).map((g) => g.groupId)
    if (busy.length > 0) throw new CutoverError('CUTOVER_REPLAY_BUSY', `another cutover replay is running: consumer group ${busy.join(', ')} has members (a killed run's session expires after 30 s or more)`)
    const missing = opts.dryRun ? [] : [topics.replayDone, topics.replayDead].filter((t) => !existing.has(t))
    // the done topic keeps the last record per event id, not records younger than some age
    if (missing.length > 0) await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, configEntries: topic === topics.replayDone ? [{ name: 'cleanup.policy', value: 'compact' }] : [] })) })
    doneExists = existing.has(topics.replayDone)
  } finally {
    await admin.disconnect()
  }

  const doneIds = doneExists ? await readDoneIds(client, topics.replayDone, kafka.clientId) : new Map<string, DoneResult>()
  const producer = opts.dryRun ? null : client.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer?.connect()
  const run = new ReplayRun(opts, producer, doneIds, summary)
  const timer = setInterval(() => run.reportProgress(), PROGRESS_MS).unref()
  try {
    const read = await readToEnd(client, {
      topic: topics.replay,
      groupId: groupOf(kafka.clientId, opts.route),
      commit: run.commits,
      each: (message, partition, heartbeat) => run.each(message, partition, heartbeat),
      checkpoint: () => run.checkpoint(),
      hold: (partition) => run.hold(partition),
      beforeEnd: async () => run.finish(),
      // one try can take a backend's whole timeoutMs, and heartbeats go out between tries
      sessionTimeoutMs: 3 * Math.max(...Object.values(opts.config.backends).map((b) => b.timeoutMs)) + RETRY_MAX_MS,
    }).catch(async (err: unknown) => {
      // what was sent is recorded done even though the offsets stay behind: the next run skips it
      await run.checkpoint().catch(() => undefined)
      throw err
    })
    if (read === 0) {
      opts.print('nothing to replay')
      return summary
    }
  } finally {
    clearInterval(timer)
    await producer?.disconnect()
  }
  const skipped = summary.done === 0 ? '' : `; skipped ${summary.done} already done${summary.doneDead > 0 ? ` (${summary.doneDead} of them on ${topics.replayDead})` : ''}`
  opts.print(opts.dryRun ? `${summary.listed} to replay (dry run: nothing sent)${skipped}` : `replayed ${summary.sent}, dead-lettered ${summary.dead}, pending ${summary.pending}${skipped}`)
  return summary
}

function groupOf(clientId: string, route?: string): string {
  return `${clientId}${REPLAY_GROUP_SUFFIX}${route === undefined ? '' : `.${route}`}`
}

type DoneResult = ReplayDoneRecord['result']

/** Every event id on the done topic: its last record, a null value (tombstone) undoing it. */
async function readDoneIds(client: Kafka, topic: string, clientId: string): Promise<Map<string, DoneResult>> {
  const ids = new Map<string, DoneResult>()
  // a group of its own that never commits: every run reads the whole (compacted) topic
  await readToEnd(client, {
    topic,
    groupId: `${clientId}-replay-done.${randomUUID()}`,
    commit: false,
    each: async (message) => {
      const id = message.key?.toString('utf8')
      if (id === undefined) return
      if (message.value === null || message.value.length === 0) ids.delete(id)
      else ids.set(id, doneResult(message.value))
    },
    checkpoint: async () => undefined,
  })
  return ids
}

/** One run's decisions and the records they produce, made durable at each checkpoint. */
class ReplayRun {
  readonly commits: boolean
  readonly #opts: ReplayOptions
  readonly #producer: Producer | null
  readonly #done: Map<string, DoneResult>
  readonly #summary: ReplaySummary
  readonly #maxAttempts: number
  readonly #window: ReplayWindow
  readonly #topics: { replayDead: string; replayDone: string; ids: string }
  readonly #health = new ReplayBackendHealth<Unsent>()
  /** ids met in this run: a repeat (the publisher delivers at least once) is skipped */
  readonly #seen = new Set<string>()
  /** per partition, offsets of events tried but not settled (suspects, pending) */
  readonly #unsettled = new Map<number, Set<bigint>>()
  /** sent first at a checkpoint: dead letters and id pairs learnt from replayed creates */
  #first: { topic: string; message: Message }[] = []
  /** then: done records, so an event is never marked done before its dead letter or id pair is on Kafka */
  #doneRecords: Message[] = []

  constructor(opts: ReplayOptions, producer: Producer | null, done: Map<string, DoneResult>, summary: ReplaySummary) {
    this.#opts = opts
    this.#producer = producer
    this.#done = done
    this.#summary = summary
    this.#maxAttempts = opts.maxAttempts ?? opts.config.replay.maxAttempts
    this.#window = opts.window ?? {}
    // a windowed run leaves the group where it was: events outside the window stay for a later run
    this.commits = !opts.dryRun && this.#window.since === undefined && this.#window.until === undefined
    const topics = opts.config.kafka?.topics
    if (topics === undefined) throw new Error('ReplayRun needs kafka in the config')
    this.#topics = topics
  }

  async each(message: KafkaMessage, partition: number, heartbeat: () => Promise<void>): Promise<void> {
    const s = this.#summary
    if (++s.read % PROGRESS_EVERY === 0) this.reportProgress()
    const event = parse(message)
    if (event === null) {
      this.#opts.print(`skip ${partition}/${message.offset}: not a ${REPLAY_SCHEMA} event`)
      return
    }
    if (this.#opts.route !== undefined && event.route !== this.#opts.route) return
    if (!inWindow(event.time, this.#window)) return
    if (this.#seen.has(event.id)) return
    this.#seen.add(event.id)
    const done = this.#done.get(event.id)
    if (done !== undefined) {
      s.done++
      if (done === 'dead') s.doneDead++
      return
    }
    if (this.#opts.dryRun) {
      s.listed++
      this.#opts.print(`would send ${where(event)}`)
      return
    }
    const offset = BigInt(message.offset)
    if (this.#health.isDown(event.backend)) {
      this.#unsettle(partition, offset)
      this.#pending({ event, partition, offset, verdict: 'failed', tries: 0, status: null, error: 'not tried: the backend is treated as down in this run' })
      return
    }
    const result = await this.#deliver(event, partition, offset, heartbeat)
    if (result.verdict === 'done') {
      s.sent++
      this.#markDone(event, 'sent', result.status)
      this.#opts.print(`sent ${where(event)}: ${result.status}${result.tries > 1 ? ` (try ${result.tries})` : ''}`)
      for (const suspect of this.#health.accepted(event.backend)) this.#deadLetter(suspect)
      return
    }
    this.#unsettle(partition, offset)
    const down = this.#health.suspect(event.backend, result)
    if (down === null) return
    this.#opts.print(`${event.backend}: ${DOWN_AFTER} writes in a row failed every try: treated as down for the rest of this run, its events stay pending`)
    for (const suspect of down) this.#pending(suspect)
  }

  /** Once everything was read: suspects whose backend was not found down failed on their own. */
  finish(): void {
    for (const suspect of this.#health.remaining()) this.#deadLetter(suspect)
  }

  hold(partition: number): bigint | null {
    let low: bigint | null = null
    for (const offset of this.#unsettled.get(partition) ?? []) if (low === null || offset < low) low = offset
    return low
  }

  async checkpoint(): Promise<void> {
    const producer = this.#producer
    if (producer === null) return
    if (this.#first.length > 0) {
      const byTopic = new Map<string, Message[]>()
      for (const { topic, message } of this.#first) {
        let list = byTopic.get(topic)
        if (list === undefined) byTopic.set(topic, (list = []))
        list.push(message)
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
      this.#first = []
    }
    if (this.#doneRecords.length > 0) {
      await producer.send({ topic: this.#topics.replayDone, acks: -1, messages: this.#doneRecords })
      this.#doneRecords = []
    }
  }

  reportProgress(): void {
    const s = this.#summary
    this.#opts.progress?.(`replay: ${s.read} read, ${this.#opts.dryRun ? `${s.listed} to send` : `${s.sent} sent, ${s.dead} dead, ${s.pending} pending`}, ${s.done} skipped as done`)
  }

  /** Tries up to the attempt limit, backing off between tries. */
  async #deliver(event: ReplayEvent, partition: number, offset: bigint, heartbeat: () => Promise<void>): Promise<Unsent> {
    for (let tries = 1, pause = RETRY_MS; ; tries++, pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      const answer = await resend(this.#opts.config, { ...event, attempts: tries }, this.#opts.headers)
      if (answer.pair !== undefined) this.#first.push({ topic: this.#topics.ids, message: { key: idKey(answer.pair), value: JSON.stringify(idEvent(answer.pair)) } })
      const verdict = verdictOf(event.method, answer.status)
      if (verdict !== 'failed' || tries >= this.#maxAttempts) return { event, partition, offset, verdict, tries, status: answer.status, ...(answer.error === undefined ? {} : { error: answer.error }) }
      await sleep(pause)
      await heartbeat()
    }
  }

  #unsettle(partition: number, offset: bigint): void {
    let set = this.#unsettled.get(partition)
    if (set === undefined) this.#unsettled.set(partition, (set = new Set()))
    set.add(offset)
  }

  #deadLetter(u: Unsent): void {
    const reason: DeadReason = u.verdict === 'refused' ? 'refused' : 'attempts'
    const dead: ReplayDeadEvent = {
      schema: REPLAY_DEAD_SCHEMA,
      id: u.event.id,
      time: new Date().toISOString(),
      route: u.event.route,
      backend: u.event.backend,
      reason,
      attempts: u.tries,
      status: u.status,
      ...(u.error === undefined ? {} : { error: u.error }),
      event: u.event,
    }
    this.#first.push({ topic: this.#topics.replayDead, message: { key: u.event.route, value: JSON.stringify(dead) } })
    this.#markDone(u.event, 'dead', u.status)
    this.#unsettled.get(u.partition)?.delete(u.offset)
    this.#summary.dead++
    const why = reason === 'refused' ? 'refused' : `${u.tries} tries failed`
    this.#opts.print(`DEAD ${where(u.event)}: ${u.status ?? u.error}, ${why} (on ${this.#topics.replayDead})`)
  }

  #pending(u: Unsent): void {
    this.#summary.pending++
    this.#opts.print(`PENDING ${where(u.event)}: ${u.status ?? u.error} (kept for the next replay)`)
  }

  #markDone(event: ReplayEvent, result: DoneResult, status: number | null): void {
    this.#done.set(event.id, result)
    const record: ReplayDoneRecord = { schema: REPLAY_DONE_SCHEMA, id: event.id, time: new Date().toISOString(), route: event.route, backend: event.backend, result, status }
    this.#doneRecords.push({ key: event.id, value: JSON.stringify(record) })
  }
}

/** Any record for an id means done; which kind only matters for the report. */
function doneResult(value: Buffer): DoneResult {
  try {
    return (JSON.parse(value.toString('utf8')) as Partial<ReplayDoneRecord>).result === 'dead' ? 'dead' : 'sent'
  } catch {
    return 'sent'
  }
}

function parse(message: KafkaMessage): ReplayEvent | null {
  try {
    const parsed = JSON.parse(message.value?.toString('utf8') ?? '') as ReplayEvent
    return parsed.schema === REPLAY_SCHEMA && typeof parsed.id === 'string' ? parsed : null
  } catch {
    return null
  }
}

function where(event: ReplayEvent): string {
  return `${event.route} ${event.method} ${event.path} → ${event.backend} (key ${event.idempotencyKey || '-'}, ${event.reason})`
}
