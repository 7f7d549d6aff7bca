import { randomUUID } from 'node:crypto'
import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { Counter, Gauge } from 'prom-client'
import { errorBody, ERRORS, type ErrorCode } from '../errors.ts'
import { normalisePath } from '../routing/normalise-path.ts'
import { chooseCloud, stickyKey, upstreamPath, type RouteTable } from '../routing/route-table.ts'
import { RETRY_AFTER_SECONDS } from './errors-reply.ts'
import { appendForwardedHeaders, copyRequestHeaders, emptyHeaderFacts } from './headers.ts'
import type { Upstream } from './upstreams.ts'
import { closeFrame, FrameBoundaries } from './websocket-frames.ts'

export interface UpgradeProxyOptions {
  readonly table: RouteTable
  readonly legacy: Upstream
  readonly cloud: Upstream
  readonly fallback: Upstream | null
  readonly trustProxy: boolean
  readonly log: Logger
  /** cutover_upgrades_total{route, backend, outcome}: upgraded, refused, error */
  readonly counter: Counter<'route' | 'backend' | 'outcome'>
  /** cutover_upgrades_open{route} */
  readonly open: Gauge<'route'>
  readonly draining: { value: boolean }
  /** Requests with an Upgrade other than websocket are served as plain requests here. */
  readonly plain: (req: IncomingMessage, res: ServerResponse) => void
}

/** One client ⇄ backend WebSocket tunnel after the 101. */
interface Tunnel {
  readonly route: string
  readonly client: Duplex
  readonly backend: Duplex
  /** frame boundaries of what the backend sends to the client */
  readonly frames: FrameBoundaries
  closing: boolean
  readonly closed: Promise<void>
}

/**
 * WebSocket passthrough: an `Upgrade: websocket` request goes to the route's primary (sticky like
 * any request; never mirrored, never cached), through undici's upgrade so the backend's TLS and
 * Host are handled as for every other request, and after the backend's 101 the two sockets are
 * joined. On drain each tunnel gets a 1001 close frame at the next frame boundary.
 */
export class UpgradeProxy {
  readonly #opts: UpgradeProxyOptions
  readonly #tunnels = new Set<Tunnel>()

  constructor(opts: UpgradeProxyOptions) {
    this.#opts = opts
  }

  get openTunnels(): number {
    return this.#tunnels.size
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const opts = this.#opts
    if (!/(^|,)\s*websocket\s*(,|$)/i.test(req.headers.upgrade ?? '')) {
      // h2c and other upgrades are not proxied: answer as a plain request, then close (the
      // socket has left the server's HTTP parser, so it cannot carry another request)
      const res = new ServerResponse(req)
      res.shouldKeepAlive = false
      res.assignSocket(socket as never)
      res.once('finish', () => socket.end())
      opts.plain(req, res)
      return
    }
    socket.on('error', () => socket.destroy())
    const facts = emptyHeaderFacts()
    const headers: string[] = []
    copyRequestHeaders(req.rawHeaders, headers, facts)
    const requestId = facts.requestId ?? randomUUID()
    if (opts.draining.value) return refuse(socket, 'CUTOVER_DRAINING', requestId)
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = normalisePath(q < 0 ? url : url.slice(0, q))
    if (path === null || facts.duplicateHost) return refuse(socket, path === null ? 'CUTOVER_BAD_PATH' : 'CUTOVER_BAD_REQUEST', requestId)
    const query = q < 0 ? '' : url.slice(q)
    const found = opts.table.match(req.method ?? 'GET', path, req.headers)
    let upstream: Upstream
    let target: string
    let route: string
    if (found !== null) {
      const cloud = chooseCloud(found, stickyKey(found.sticky, req))
      upstream = cloud ? opts.cloud : opts.legacy
      target = upstreamPath(found, path, upstream.name)
      route = found.id
      if (found.config.preserveHost === true && facts.host !== undefined) headers.push('host', facts.host)
    } else if (opts.fallback !== null) {
      upstream = opts.fallback
      target = path
      route = 'fallback'
    } else return refuse(socket, 'CUTOVER_NO_ROUTE', requestId)

    appendForwardedHeaders(headers, facts, req.socket, requestId, opts.trustProxy)

    // the client may hang up while the backend is still answering
    let gone = false
    socket.once('close', () => (gone = true))
    upstream.pool
      .upgrade({ path: upstream.basePath + target + query, method: req.method ?? 'GET', headers, protocol: 'websocket' })
      .then(({ headers: answer, socket: backend }) => {
        if (gone || opts.draining.value) {
          backend.destroy()
          if (!gone) refuse(socket, 'CUTOVER_DRAINING', requestId)
          return
        }
        let text = 'HTTP/1.1 101 Switching Protocols\r\n'
        for (const [name, value] of Object.entries(answer)) {
          for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) text += `${name}: ${v}\r\n`
        }
        text += `x-request-id: ${requestId}\r\nx-cutover-backend: ${upstream.name}\r\n\r\n`
        socket.write(text)
        if (head.length > 0) backend.write(head)
        opts.counter.labels(route, upstream.name, 'upgraded').inc()
        this.#join(route, socket, backend)
      })
      .catch((err: unknown) => {
        // `bad upgrade`: the backend answered without switching protocols
        const refused = (err as Error).message === 'bad upgrade'
        opts.counter.labels(route, upstream.name, refused ? 'refused' : 'error').inc()
        opts.log.warn({ err, route, backend: upstream.name, requestId }, 'websocket upgrade failed')
        if (!gone) refuse(socket, 'CUTOVER_UPSTREAM_UNAVAILABLE', requestId, upstream.name)
      })
  }

  #join(route: string, client: Duplex, backend: Duplex): void {
    const gauge = this.#opts.open.labels(route)
    let done: () => void = () => undefined
    const tunnel: Tunnel = { route, client, backend, frames: new FrameBoundaries(), closing: false, closed: new Promise<void>((r) => (done = r)) }
    this.#tunnels.add(tunnel)
    gauge.inc()
    const finish = (): void => {
      if (!this.#tunnels.delete(tunnel)) return
      gauge.dec()
      client.destroy()
      backend.destroy()
      done()
    }
    client.on('close', finish)
    backend.on('close', finish)
    client.on('error', finish)
    backend.on('error', finish)
    client.pipe(backend)
    backend.on('data', (chunk: Buffer) => {
      if (tunnel.closing) {
        this.#passUntilBoundary(tunnel, chunk)
        return
      }
      tunnel.frames.feed(chunk)
      if (!client.write(chunk)) {
        backend.pause()
        client.once('drain', () => backend.resume())
      }
    })
    backend.on('end', () => client.end())
  }

  /** While closing: pass the rest of the current frame, then the close frame, and nothing more. */
  #passUntilBoundary(tunnel: Tunnel, chunk: Buffer): void {
    if (tunnel.frames.atBoundary) return
    const n = tunnel.frames.untilBoundary(chunk)
    const part = chunk.subarray(0, n)
    tunnel.frames.feed(part)
    tunnel.client.write(part)
    if (tunnel.frames.atBoundary) this.#sendClose(tunnel)
  }

  #sendClose(tunnel: Tunnel): void {
    // the client answers with its own close frame (passed on to the backend), then the sockets end
    tunnel.client.end(closeFrame())
  }

  /**
   * Drain: every tunnel gets a close frame (at a frame boundary); resolves once all have closed,
   * or after `timeoutMs`, when the rest are cut.
   */
  async close(timeoutMs: number): Promise<void> {
    for (const t of this.#tunnels) {
      t.closing = true
      if (t.frames.atBoundary) this.#sendClose(t)
    }
    const all = Promise.all([...this.#tunnels].map((t) => t.closed))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))])
    clearTimeout(timer)
    for (const t of this.#tunnels) {
      t.client.destroy()
      t.backend.destroy()
    }
  }
}

/** A gateway-made answer on a socket that has left the HTTP server, then close. */
function refuse(socket: Duplex, code: ErrorCode, requestId: string, backend?: string): void {
  const body = errorBody(code)
  const { status } = ERRORS[code]
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nx-request-id: ${requestId}\r\n` +
      (backend === undefined ? '' : `x-cutover-backend: ${backend}\r\n`) +
      (status === 503 ? `retry-after: ${RETRY_AFTER_SECONDS}\r\n` : '') +
      'connection: close\r\n\r\n' +
      body,
  )
}
