import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { HTTP_METHODS } from '../config/defaults.ts'
import { errorBody, ERRORS } from '../errors.ts'
import { sendGatewayError } from './errors-reply.ts'
import type { Forwarder } from './forwarder.ts'

export interface DataPlaneOptions {
  readonly forwarder: Forwarder
  readonly log: Logger
  /** set to true when a drain starts */
  readonly draining: { value: boolean }
}

const CLIENT_ERROR_RESPONSE = (() => {
  const body = errorBody('CUTOVER_BAD_REQUEST')
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
})()

/**
 * The client-facing server. fastify owns connections, HTTP parsing, lifecycle and close; every
 * request goes to one catch-all route that hands the raw request to the Forwarder (reply is
 * hijacked, so no serialisation or hook runs for proxied bytes). Rule matching is the route
 * table's, because rules are ordered (first match wins) and fastify's router picks the most
 * specific match instead.
 */
export function createDataPlane(opts: DataPlaneOptions): FastifyInstance {
  const { forwarder, draining } = opts
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // requests that arrive on kept-alive connections during a drain get CUTOVER_DRAINING below
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestIdHeader: false,
    // malformed HTTP never reaches a handler: answer it in the gateway's error shape
    clientErrorHandler(_err, socket) {
      if (socket.writable) socket.end(CLIENT_ERROR_RESPONSE)
      else socket.destroy()
    },
    frameworkErrors(_err, req, reply) {
      reply.hijack()
      sendGatewayError(reply.raw, 'CUTOVER_BAD_PATH', typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined)
    },
  })

  // Bodies are streamed upstream untouched: no content-type parser may read them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))

  app.route({
    method: [...HTTP_METHODS],
    url: '/*',
    handler(request, reply) {
      reply.hijack()
      if (draining.value) {
        sendGatewayError(reply.raw, 'CUTOVER_DRAINING', typeof request.headers['x-request-id'] === 'string' ? request.headers['x-request-id'] : undefined, undefined, true)
        return
      }
      forwarder.handle(request.raw, reply.raw)
    },
  })

  app.setNotFoundHandler((request, reply) => {
    reply.hijack()
    // methods outside HTTP_METHODS (CONNECT, TRACE, WebDAV…) and odd request targets land here
    sendGatewayError(reply.raw, 'CUTOVER_BAD_REQUEST', typeof request.headers['x-request-id'] === 'string' ? request.headers['x-request-id'] : undefined)
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
