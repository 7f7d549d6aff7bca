import type { Dispatcher } from 'undici'
import { BodyCollector } from '../compare/captured-response.ts'
import type { CutoverConfig } from '../config/schema.ts'
import type { ReplayEvent } from '../publish/events.ts'
import type { IdPair } from './id-map.ts'
import { compileIdSource, readId } from './id-source.ts'
import { mapName } from './route-ids.ts'

/**
 * Reads (or discards) the answer to a replayed write. For a create on a route with `ids.from`
 * whose event kept the primary's id, the answer's id pairs with it; otherwise undefined.
 */
export async function replayedPair(config: CutoverConfig, event: ReplayEvent, res: Dispatcher.ResponseData): Promise<IdPair | undefined> {
  const route = config.routes.find((r) => r.id === event.route)
  const from = route?.ids?.from
  const side = event.backend === 'cloud' ? 'cloud' : event.backend === 'legacy' ? 'legacy' : null
  if (route === undefined || from === undefined || event.primaryId === undefined || side === null || res.statusCode >= 400) {
    await res.body.dump()
    return undefined
  }
  const collector = new BodyCollector(config.limits.compareBodyBytes)
  for await (const chunk of res.body) collector.push(chunk as Buffer)
  const id = readId(compileIdSource(from), { status: res.statusCode, headers: res.headers, body: collector.body, length: collector.length, truncated: collector.truncated, latencyMs: 0 })
  if (id === undefined) return undefined
  const map = mapName(route)
  return side === 'cloud' ? { map, legacy: event.primaryId, cloud: id } : { map, legacy: id, cloud: event.primaryId }
}
