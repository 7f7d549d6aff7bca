import { z } from 'zod'

/**
 * The shape of `GET /readiness` and `cutover report --json`, as a zod schema: the source of
 * docs/schemas/cutover.readiness.v1.json (`npm run schemas`) and what the tests check real
 * reports against. Field meanings: docs/readiness.md.
 */
export const READINESS_SCHEMA = 'cutover.readiness.v1'

const rate = z.number().min(0).max(1).nullable()
const count = z.number().min(0)
const phase = z.enum(['legacy', 'shadow', 'canary', 'cloud-primary', 'retired'])

const backend = z.strictObject({
  requests: count.describe('attempts on the client path'),
  errors: count,
  errorRate: rate,
  p99Ms: z.number().min(0).nullable(),
})

const routeReadiness = z.strictObject({
  id: z.string(),
  methods: z.array(z.string()),
  path: z.string(),
  weight: z.int().min(0).max(100),
  mirror: z.enum(['off', 'writes', 'all']),
  version: z.int().min(1),
  phase,
  phaseSince: z.iso.datetime(),
  phaseSeconds: z.int().min(0),
  phaseSinceStart: z.boolean().describe('the phase began before the gateway started: phaseSince is the start'),
  traffic: z.strictObject({ requests: count, legacy: count, cloud: count, cloudShare: rate }),
  mirrored: z.strictObject({
    compared: count,
    mismatches: count,
    mismatchRate: rate,
    topFields: z.array(z.strictObject({ field: z.string().nullable(), kind: z.string(), count: z.int().min(1) })),
  }),
  cloud: backend,
  legacy: backend,
  latencyRatio: z.number().min(0).nullable(),
  guard: z
    .strictObject({ status: z.string(), breach: z.strictObject({ reason: z.string(), value: z.number(), threshold: z.number() }).optional() })
    .nullable(),
  ramp: z.looseObject({ steps: z.array(z.int()), paused: z.boolean(), done: z.boolean() }).nullable().describe('as in GET /routes'),
  breakers: z.record(z.string(), z.string()),
  thresholds: z.strictObject({ minRequests: z.int().min(1), maxMismatchRate: z.number(), maxErrorRateDelta: z.number(), maxLatencyRatio: z.number() }),
  hasTraffic: z.boolean(),
  verdict: z.strictObject({
    action: z.enum(['ready', 'hold', 'roll-back', 'done']),
    summary: z.string(),
    reasons: z.array(z.string()),
    nextWeight: z.int().min(1).max(100).nullable(),
    green: z.boolean(),
  }),
})

export const readinessReportSchema = z
  .strictObject({
    generatedAt: z.iso.datetime(),
    routes: z.array(routeReadiness),
    overall: z.strictObject({
      requests: count,
      cloudShare: rate,
      writeRequests: count,
      writeCloudShare: rate,
      phases: z.record(phase, z.int().min(0)),
      green: z.boolean().describe('every route with traffic is green'),
    }),
    backlog: z.strictObject({
      publish: count,
      replay: z.strictObject({ sent: count, spooled: count, dropped: count }),
      replayTopic: z.strictObject({ pending: count, dead: count }).nullable().describe('replay events not yet replayed and dead letters, as Kafka holds them; null without Kafka'),
    }),
    fleet: z
      .strictObject({ replicas: z.array(z.string()).describe('this replica first, then the others whose inputs are fresh') })
      .optional()
      .describe('with state.shared: the replicas whose traffic the report adds up'),
  })
  .describe('Readiness of every route: GET /readiness, cutover report --json')

export function readinessReportJsonSchema(): Record<string, unknown> {
  return { title: READINESS_SCHEMA, ...z.toJSONSchema(readinessReportSchema) }
}
