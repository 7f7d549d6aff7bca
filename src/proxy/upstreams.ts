import { Pool, type Dispatcher } from 'undici'
import type { Registry } from 'prom-client'
import type { BackendConfig, CutoverConfig } from '../config/schema.ts'
import { BackendUrls } from './backend-urls.ts'
import { EndpointHealth } from './endpoint-health.ts'
import { EndpointPool } from './endpoint-pool.ts'

/** One backend, with its keep-alive pool built once at start. */
export interface Upstream {
  readonly name: string
  readonly origin: string
  /** The backend URL's path without a trailing slash ('' for '/'): prefixed to every forwarded path. */
  readonly basePath: string
  readonly timeoutMs: number
  /** client traffic: the requests clients wait for (an EndpointPool when the backend lists several `urls`) */
  readonly pool: Dispatcher
  /**
   * mirrored calls, noise-learning repeats and journal recovery, on connections of their own
   * (`mirrorConnections`): a slow secondary's queue can never hold a connection a primary request
   * needs, even at weight 50 where each backend is both
   */
  readonly mirrorPool: Dispatcher
  /** Rewrites this backend's address in answers (Location, Link, Set-Cookie Domain) to the client's. */
  readonly urls: BackendUrls
}

export function createUpstream(name: string, config: BackendConfig, registry: Registry | null = null): Upstream {
  const url = new URL(config.url)
  // several endpoints: both pools balance over them and share one view of their health
  const health = config.urls.length > 1 ? new EndpointHealth(name, config.urls.map((u) => new URL(u).origin), config.health, registry) : null
  const balanced = (connections: number): Dispatcher =>
    health === null ? createPool(url.origin, config, connections) : new EndpointPool(health, (origin) => createPool(origin, config, connections))
  return {
    name,
    origin: url.origin,
    basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
    timeoutMs: config.timeoutMs,
    pool: balanced(config.connections),
    mirrorPool: balanced(config.mirrorConnections),
    urls: new BackendUrls(config.urls),
  }
}

function createPool(origin: string, config: BackendConfig, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    // undici verifies TLS by default; said here so no one turns it off by accident.
    connect: {
      rejectUnauthorized: config.tls?.rejectUnauthorized ?? true,
      ...(config.tls?.ca !== undefined ? { ca: config.tls.ca } : {}),
      ...(config.tls?.servername !== undefined ? { servername: config.tls.servername } : {}),
    },
  })
}

export function createUpstreams(config: CutoverConfig, registry: Registry | null = null): Map<string, Upstream> {
  const out = new Map<string, Upstream>()
  for (const [name, backend] of Object.entries(config.backends)) out.set(name, createUpstream(name, backend, registry))
  return out
}

export async function closeUpstreams(upstreams: ReadonlyMap<string, Upstream>): Promise<void> {
  await Promise.all([...upstreams.values()].flatMap((u) => [u.pool.close(), u.mirrorPool.close()]))
}

/** Closes the pools, waiting up to `ms` for requests still in flight, then cuts them. */
export async function closeUpstreamsWithin(upstreams: ReadonlyMap<string, Upstream>, ms: number): Promise<void> {
  const closed = closeUpstreams(upstreams)
  let timer: NodeJS.Timeout | undefined
  const late = await Promise.race([closed.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms)))])
  clearTimeout(timer)
  if (!late) return
  // pool.close() waits for every queued request; destroy() fails them at once
  await Promise.all([...upstreams.values()].flatMap((u) => [u.pool.destroy(), u.mirrorPool.destroy()]))
  await closed.catch(() => undefined)
}
