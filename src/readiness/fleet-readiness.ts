import type { Logger } from 'pino'
import type { DiffSummary } from '../compare/diff-log.ts'
import type { CutoverConfig } from '../config/schema.ts'
import { replicaId } from '../control/control-log.ts'
import { followSharedTopic, type SharedTopicReader } from '../publish/shared-topic.ts'
import type { MetricFamily } from './metric-sample.ts'
import type { Phase } from './phase-clock.ts'
import type { RouteFacts } from './readiness.ts'

export const READINESS_INPUTS_SCHEMA = 'cutover.readiness-inputs/v1'
/** How often each replica publishes its readiness inputs. */
export const READINESS_PUBLISH_MS = 5000
/** Inputs older than this are left out of the fleet's report (a replica that stopped or is cut off). */
export const READINESS_STALE_MS = 3 * READINESS_PUBLISH_MS
/**
 * Only fresh inputs matter and a new replica reads from the end: the topic keeps little (deleted
 * after 10 min, in 1 min segments, so deletion can catch up with a fleet publishing all day).
 */
const TOPIC_CONFIG = [
  { name: 'cleanup.policy', value: 'delete' },
  { name: 'retention.ms', value: String(10 * 60_000) },
  { name: 'segment.ms', value: String(60_000) },
]

/** One route as one replica sees it, since the replica saw its phase begin. */
export interface RouteInputs {
  /** the readiness metric series of the route, less the replica's phase baseline */
  readonly metrics: MetricFamily[]
  readonly phase: Phase
  /** ms since the epoch */
  readonly since: number
  readonly sinceStart: boolean
  readonly guard: RouteFacts['guard']
}

/** What one replica contributes to GET /readiness, on `kafka.topics.readiness` keyed by replica id. */
export interface ReplicaInputs {
  readonly schema: typeof READINESS_INPUTS_SCHEMA
  readonly replica: string
  /** ms since the epoch */
  readonly at: number
  readonly routes: Readonly<Record<string, RouteInputs>>
  /** publish backlog and replay publish counts */
  readonly backlog: MetricFamily[]
  readonly summary: DiffSummary
  readonly breakers: Readonly<Record<string, string>>
}

/**
 * The fleet's readiness inputs (`state.shared`): every replica sends its own every
 * READINESS_PUBLISH_MS and follows the topic from its end, keeping the newest inputs of every
 * other replica. Sent straight to Kafka, never spooled: inputs are worth something for 15 s, and
 * a long outage must not fill the spool that replay events depend on.
 */
export class FleetReadiness {
  readonly replica: string
  readonly #latest = new Map<string, ReplicaInputs>()
  #reader: Promise<SharedTopicReader | null> = Promise.resolve(null)
  /** set once the topic exists (created by the reader): sending earlier could auto-create it with the broker's defaults */
  #sender: SharedTopicReader | null = null

  private constructor(replica: string) {
    this.replica = replica
  }

  /**
   * Null without state.shared. Starts following the topic in the background (start does not wait
   * for it: the other replicas' inputs come within one publishing round anyway). When the topic
   * cannot be read, the report is this replica's alone.
   */
  static open(config: CutoverConfig, log: Logger): FleetReadiness | null {
    if (!config.state.shared || config.kafka === undefined) return null
    const topic = config.kafka.topics.readiness
    const fleet = new FleetReadiness(replicaId())
    fleet.#reader = followSharedTopic(config, topic, 'readiness', (value) => fleet.#receive(value), { configEntries: TOPIC_CONFIG, fromBeginning: false }).then(
      (reader) => {
        fleet.#sender = reader
        return reader
      },
      (err: unknown) => {
        log.warn({ err, topic }, 'readiness topic not readable: GET /readiness reports this replica alone')
        return null
      },
    )
    return fleet
  }

  /** Sends this replica's inputs; dropped when Kafka does not take them (the next round sends newer ones). */
  async publish(inputs: ReplicaInputs): Promise<void> {
    await this.#sender?.send(inputs.replica, inputs).catch(() => undefined)
  }

  /** The newest inputs of every other replica, when not older than READINESS_STALE_MS. */
  others(now: number): ReplicaInputs[] {
    return [...this.#latest.values()].filter((i) => i.replica !== this.replica && now - i.at <= READINESS_STALE_MS)
  }

  #receive(value: unknown): void {
    const v = value as Partial<ReplicaInputs> | null
    if (v === null || typeof v !== 'object' || v.schema !== READINESS_INPUTS_SCHEMA || typeof v.replica !== 'string' || typeof v.at !== 'number') return
    if (typeof v.routes !== 'object' || v.routes === null || !Array.isArray(v.backlog) || typeof v.summary !== 'object' || v.summary === null) return
    const have = this.#latest.get(v.replica)
    if (have === undefined || have.at <= v.at) this.#latest.set(v.replica, v as ReplicaInputs)
  }

  async stop(): Promise<void> {
    await (await this.#reader)?.stop()
  }
}
