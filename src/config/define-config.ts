import type { CutoverConfigInput } from './schema.ts'

/** Types a config file. Validation happens once, when the gateway or `cutover check` loads it. */
export function defineConfig(config: CutoverConfigInput): CutoverConfigInput {
  return config
}
