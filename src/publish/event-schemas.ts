import { z } from 'zod'
import { DIFFERENCE_KINDS, EVENT_KINDS } from '../compare/diff-log.ts'
import { DIFF_SCHEMA } from './events.ts'

/**
 * The diff event's shape as a zod schema: the single source for the JSON Schema published in
 * docs/schemas/ (`npm run schemas` writes it) and for the tests that check what the gateway
 * really puts on the topic. Values of a difference are keyed by backend name, so the object
 * allows any further key.
 */
const differenceKind = z.enum(DIFFERENCE_KINDS)

export const diffEventSchema = z
  .strictObject({
    schema: z.literal(DIFF_SCHEMA),
    id: z.uuid(),
    time: z.iso.datetime(),
    route: z.string(),
    method: z.string(),
    path: z.string().describe('client-facing path and query, normalised'),
    requestId: z.string(),
    primary: z.string().describe('backend name that answered the client'),
    secondary: z.string().describe('backend name that got the mirrored call'),
    kind: z.enum(EVENT_KINDS),
    status: z.record(z.string(), z.int().nullable()).describe('per backend'),
    latencyMs: z.record(z.string(), z.number().nullable()).describe('per backend'),
    differences: z
      .array(z.looseObject({ path: z.string().describe('a field path (docs/mirroring.md)'), kind: differenceKind }).describe('the other keys are backend names holding that side\'s value (absent: the side has no value)'))
      .describe('the first differences in full, at most compare.maxExamples'),
    fields: z.array(z.strictObject({ path: z.string().describe('generalised field path'), kind: differenceKind, count: z.int().min(1) })).describe('every difference, counted by generalised path and kind'),
    total: z.int().min(0),
    noise: z.int().min(0).describe('differences hidden by learned noise'),
    truncated: z.boolean(),
    reason: z.string().optional(),
  })
  .describe('A mirrored exchange whose two answers differ, or whose secondary (or primary) failed')

export function diffEventJsonSchema(): Record<string, unknown> {
  return { title: DIFF_SCHEMA, ...z.toJSONSchema(diffEventSchema) }
}
