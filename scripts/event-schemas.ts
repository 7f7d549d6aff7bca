/**
 * Writes the events' JSON Schemas into docs/schemas/ from the zod schemas in
 * src/publish/event-schemas.ts. `npm run schemas`; a test fails when the files are stale.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { diffEventJsonSchema } from '../src/publish/event-schemas.ts'

export const SCHEMA_FILES: Record<string, () => Record<string, unknown>> = {
  'cutover.diff.v1.json': diffEventJsonSchema,
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [file, make] of Object.entries(SCHEMA_FILES)) {
    writeFileSync(join('docs', 'schemas', file), `${JSON.stringify(make(), null, 2)}\n`)
    process.stdout.write(`wrote docs/schemas/${file}\n`)
  }
}
