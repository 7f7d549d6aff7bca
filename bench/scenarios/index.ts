import { cachedGet } from './cached-get.ts'
import { dualWrite } from './dual-write.ts'
import { getPassthrough } from './get-passthrough.ts'
import { postSmallJson } from './post-small-json.ts'
import { split5050 } from './split-50-50.ts'
import { transformGet } from './transform-get.ts'
import type { Scenario } from './types.ts'

/**
 * Every scenario, in run order. To add one: a file next to these exporting a `Scenario`, then a
 * line here. Extra variants of a target (say Cutover with mirroring on) are extra `targets`
 * entries with their own `id`, compared through `compare`.
 */
export const SCENARIOS: readonly Scenario[] = [getPassthrough, postSmallJson, split5050, dualWrite, cachedGet, transformGet]
