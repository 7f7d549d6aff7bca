import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2'
import type { Socket } from 'node:net'
import type { TlsOptions } from 'node:tls'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_METHODS } from '../config/defaults.ts'
import { errorBody, ERRORS } from '../errors.ts'
import { sendGatewayError } from './errors-reply.ts'
import type { Forwarder } from './forwarder.ts'
import { asHttp1Request, isHttp2 } from './http2-compat.ts'

export interface DataPlaneOptions {
  readonly forwarder: Forwarder
  readonly log: Logger
  /** set to true when a drain starts */
  readonly draining: { value: boolean }
  /** limits.bodyBytes: an `Expect: 100-continue` over it gets the 413 instead of the 100 */
  readonly bodyLimit: number
  /** listen.tls: terminate TLS (and, with `http2`, offer h2 by ALPN next to HTTP/1.1); null for plain HTTP */
  readonly tls?: { readonly options: TlsOptions & { allowHTTP1?: boolean }; readonly http2: boolean } | null
}

const CLIENT_ERROR_RESPONSE = (() => {
  const body = errorBody('CUTOVER_BAD_REQUEST')
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
})()

/** Sockets whose malformed request has been handled (the parser reports it again on more data). */
const refused = new WeakSet<Socket>()

/**
 * Answers a malformed request with 400 and closes, but only after the answers to the requests
 * that came before it on the same connection (pipelined) have gone out: those requests were
 * valid and may already have been applied by a backend. Node queues pipelined responses and
 * writes one at a time; the one writing is `socket._httpMessage` (not public API, but the field
 * node's own clientError fallback checks), and when it finishes node hands the socket to the next.
 */
function refuseAfterPending(socket: Socket): void {
  if (refused.has(socket)) return
  refused.add(socket)
  const next = (): void => {
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
    if (pending !== null && pending !== undefined && !pending.writableFinished && !socket.destroyed) {
      if (pending.req.complete) {
        // an earlier request, whole: its answer goes first. 'finish' runs node's own handler
        // first, which moves the socket on to the next response
        pending.once('finish', next)
        return
      }
      // the error is inside the request being answered (a bad chunk in its body): it can never
      // end, so it gets the 400 now, or a cut connection when its answer has already started
      if (pending.headersSent) {
        socket.destroy()
        return
      }
    }
    if (socket.writable) socket.end(CLIENT_ERROR_RESPONSE)
    else socket.destroy()
  }
  next()
}

const PROXIED_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS)

/**
 * The requests the Forwarder takes straight from node's server, without fastify's per-request
 * work (its Request and Reply objects, child logger, router, hooks): a proxied method and an
 * origin-form target with no percent-escape. Anything else (odd methods, absolute-form or `*`
 * targets, escapes find-my-way may refuse) goes through fastify as before, whose catch-all route
 * ends in the same Forwarder and whose error handlers answer the rest.
 */
function direct(req: IncomingMessage): boolean {
  const url = req.url
  return url !== undefined && url.charCodeAt(0) === 47 /* / */ && !url.includes('%') && PROXIED_METHODS.has(req.method as string)
}

/**
 * Puts `proxy` in front of fastify on fastify's own server: node hands every request to the
 * server's 'request' listeners, and the one fastify registered is its whole request handling.
 * `direct` requests go to `proxy`, the rest to fastify's handler. Replacing the listener rather
 * than passing a `serverFactory` keeps the server (HTTP or HTTPS, timeouts, every address a
 * host name resolves to) exactly the one fastify builds; a further address's server serves
 * through fastify's handler alone.
 */
function putInFront(server: Server, proxy: (req: IncomingMessage, res: ServerResponse) => void): void {
  const [fastifyHandler, ...others] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[]
  if (fastifyHandler === undefined || others.length > 0) throw new Error('data plane: expected one request listener on the fastify server')
  server.removeListener('request', fastifyHandler)
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (direct(req)) proxy(req, res)
    else fastifyHandler(req, res)
  })
}

/**
 * The client-facing server. fastify owns the server's lifecycle and close, malformed HTTP, and
 * the requests `direct` leaves to it; every proxied request reaches the Forwarder with the raw
 * request and response (reply hijacked on fastify's route, so no serialisation or hook runs for
 * proxied bytes either way). Rule matching is the route table's, because rules are ordered (first
 * match wins) and fastify's router picks the most specific match instead.
 */
export function createDataPlane(opts: DataPlaneOptions): FastifyInstance {
  const { forwarder, draining, log } = opts
  // both ways in (direct, and fastify's catch-all route) end here
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (draining.value) {
      sendGatewayError(res, 'CUTOVER_DRAINING', requestIdOf(req), undefined, true)
      return
    }
    if (isHttp2(req)) asHttp1Request(req)
    forwarder.handle(req, res)
  }
  const proxy = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      serve(req, res)
    } catch (err) {
      // what fastify's error handler does for its route: logged, and a 500 when nothing went out yet
      log.error({ err }, 'data plane error')
      sendGatewayError(res, 'CUTOVER_INTERNAL', requestIdOf(req))
    }
  }
  const tls = opts.tls ?? null
  const app = createServer(tls, {
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // requests that arrive on kept-alive connections during a drain get CUTOVER_DRAINING below
    return503OnClosing: false,
    // an HTTP/2 server's sessions are closed by listenerConnections() below, on drain (fastify
    // has no 'idle' closing for them)
    forceCloseConnections: tls?.http2 === true ? false : 'idle',
    requestIdHeader: false,
    // malformed HTTP never reaches a handler: answer it in the gateway's error shape
    clientErrorHandler(_err, socket) {
      refuseAfterPending(socket as Socket)
    },
    frameworkErrors(_err, req, reply) {
      reply.hijack()
      sendGatewayError(reply.raw, 'CUTOVER_BAD_PATH', typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined)
    },
  })

  putInFront(app.server as Server, proxy)

  // RFC 9110 §10.1.1: a client that waits for 100 before sending its body gets the 413 instead
  // when its Content-Length is over the limit (the Forwarder refuses it before reading anything)
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers['content-length']) > opts.bodyLimit)) res.writeContinue()
    app.server.emit('request', req, res)
  })

  // Bodies are streamed upstream untouched: no content-type parser may read them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))

  app.route({
    method: [...HTTP_METHODS],
    url: '/*',
    handler(request, reply) {
      reply.hijack()
      serve(request.raw, reply.raw)
    },
  })

  app.setNotFoundHandler((request, reply) => {
    reply.hijack()
    // methods outside HTTP_METHODS (CONNECT, TRACE, WebDAV…) and odd request targets land here
    sendGatewayError(reply.raw, 'CUTOVER_BAD_REQUEST', requestIdOf(request.raw))
  })

  app.setErrorHandler((err, _request, reply) => {
    opts.log.error({ err }, 'data plane error')
    void reply
      .code(ERRORS.CUTOVER_INTERNAL.status)
      .type('application/json; charset=utf-8')
      .send(errorBody('CUTOVER_INTERNAL'))
  })

  return app
}

/**
 * One instance type for the three servers (HTTP, HTTPS, HTTP/2 with HTTP/1.1): the handlers hand
 * the raw request and response to the Forwarder, which serves Node's HTTP/1 objects and its
 * HTTP/2 compatibility objects alike (HTTP/2 requests are first made to read as HTTP/1.1).
 */
function createServer(tls: DataPlaneOptions['tls'], options: FastifyServerOptions): FastifyInstance {
  if (tls === null || tls === undefined) return Fastify(options)
  const make = Fastify as unknown as (o: FastifyServerOptions & { https: TlsOptions; http2?: true }) => FastifyInstance
  return make({ ...options, https: tls.options, ...(tls.http2 ? { http2: true as const } : {}) })
}

/**
 * Closing a listener's connections, for HTTP/1 servers and HTTP/2 ones (which have no
 * closeAllConnections, and whose sessions server.close() leaves open before Node 24).
 */
export interface ListenerConnections {
  /** Closes idle HTTP/1 connections, and asks every HTTP/2 session to end after its open streams (GOAWAY). */
  closeIdle(): void
  /** Cuts every connection now. */
  closeAll(): void
}

export function listenerConnections(app: FastifyInstance): ListenerConnections {
  const server = app.server
  if (typeof server.closeAllConnections === 'function') {
    return { closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() }
  }
  const h2 = server as unknown as Http2SecureServer
  const sessions = new Set<ServerHttp2Session>()
  const sockets = new Set<Socket>()
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  h2.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return {
    closeIdle() {
      // HTTP/1.1 connections on the HTTP/2 server (allowHTTP1); absent before Node 20.20
      ;(h2 as { closeIdleConnections?: () => void }).closeIdleConnections?.()
      for (const session of sessions) if (!session.closed) session.close()
    },
    closeAll() {
      for (const session of sessions) session.destroy()
      for (const socket of sockets) socket.destroy()
    },
  }
}

function requestIdOf(req: IncomingMessage): string | undefined {
  const id = req.headers['x-request-id']
  return typeof id === 'string' ? id : undefined
}
