import { cachedGet } from './cached-get.ts'
import { dualWrite } from './dual-write.ts'
import { getPassthrough } from './get-passthrough.ts'
import { mismatchHeavy } from './mismatch-heavy.ts'
import { openLoop } from './open-loop.ts'
import { postSmallJson } from './post-small-json.ts'
import { slowSecondary } from './slow-secondary.ts'
import { split5050 } from './split-50-50.ts'
import { splitMirror } from './split-mirror.ts'
import { transformGet } from './transform-get.ts'
import type { Scenario } from './types.ts'

/**
 * Every scenario, in run order. To add one: a file next to these exporting a `Scenario`, then a
 * line here. Extra variants of a target (say Cutover with mirroring on) are extra `targets`
 * entries with their own `id`, compared through `compare`. The fixed-rate ones come after
 * `dual-write`, whose mirror-off and mirror-on processes they reuse warm; `slow-secondary` last
 * of those, so the mirrored calls a slow cloud leaves in flight end in its own runs.
 */
export const SCENARIOS: readonly Scenario[] = [getPassthrough, postSmallJson, split5050, dualWrite, openLoop, splitMirror, mismatchHeavy, slowSecondary, cachedGet, transformGet]
