/**
 * Baseline 1: what a user would write instead of Cutover — fastify + @fastify/http-proxy to one
 * origin, with the pool Cutover uses (undici, 128 connections, no pipelining) and the defaults
 * that distort a benchmark turned off:
 * - request logging: fastify's and reply-from's two info lines per request
 * - reply-from's retry on 503/socket errors (its `getDefaultDelay`): `retryDelay` returning null
 *   disables every retry; `maxRetriesOn503: 0` does not (`0 || 10`).
 * `upstream` alone (no `replyOptions.getUpstream`), so the undici transport's `base` is the origin.
 *
 * Usage: node --import tsx bench/bare-proxy.ts --upstream http://127.0.0.1:PORT [--port 0]
 */
import proxy from '@fastify/http-proxy'
import Fastify, { LogController } from 'fastify'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { serveChild } from './lib/child.ts'
import { UPSTREAM_POOL } from './lib/pool-options.ts'

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } },
  strict: true,
})
const upstream = values.upstream
if (upstream === undefined) throw new Error('--upstream URL is required')

await serveChild('bare-proxy', async () => {
  const app = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }) })
  await app.register(proxy, {
    upstream,
    undici: { ...UPSTREAM_POOL },
    disableRequestLogging: true,
    replyOptions: { retryDelay: () => null },
  })
  await app.listen({ host: '127.0.0.1', port: Number(values.port) })
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: () => app.close(),
  }
})
