/**
 * The upstream pool every proxy under test uses: the same numbers as Cutover's defaults
 * (src/config/defaults.ts, src/proxy/upstreams.ts), so a difference in the results is the proxy's
 * own per-request work, not pool sizing.
 */
import { DEFAULT_CONNECTIONS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from '../../src/config/defaults.ts'

export const UPSTREAM_POOL = Object.freeze({
  connections: DEFAULT_CONNECTIONS,
  pipelining: 1,
  keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
})
