/**
 * Baseline 2: about the least a correct Node proxy can do — node:http in front of an undici
 * `Pool.stream` that writes the upstream body straight into the client's ServerResponse. No
 * framework, no routing, no metrics; hop-by-hop headers dropped both ways (RFC 9110 §7.6.1).
 * It is the floor Cutover's per-request overhead is measured against.
 *
 * Usage: node --import tsx bench/undici-proxy.ts --upstream http://127.0.0.1:PORT [--port 0]
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Pool, type Dispatcher } from 'undici'
import { serveChild } from './lib/child.ts'
import { UPSTREAM_POOL } from './lib/pool-options.ts'

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } },
  strict: true,
})
const upstream = values.upstream
if (upstream === undefined) throw new Error('--upstream URL is required')

// `host` is set by undici for the upstream; the rest are hop-by-hop
const REQUEST_SKIP = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'])
const RESPONSE_SKIP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'] as const

const BAD_GATEWAY = Buffer.from('{"error":"bad gateway"}')

const pool = new Pool(upstream, { ...UPSTREAM_POOL })

// Module-level factory and callback: the per-request state travels in `opaque`, no closures.
function factory({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<ServerResponse>): ServerResponse {
  for (const name of RESPONSE_SKIP) delete headers[name]
  opaque.writeHead(statusCode, headers as IncomingHttpHeaders)
  return opaque
}

function done(err: Error | null, { opaque }: Dispatcher.StreamData<ServerResponse>): void {
  if (err === null) return
  if (opaque.headersSent) opaque.destroy()
  else opaque.writeHead(502, { 'content-type': 'application/json', 'content-length': BAD_GATEWAY.length }).end(BAD_GATEWAY)
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const raw = req.rawHeaders
  const headers: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (!REQUEST_SKIP.has(name.toLowerCase())) headers.push(name, raw[i + 1] as string)
  }
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  pool.stream<ServerResponse>(
    { method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: hasBody ? req : null, opaque: res },
    factory,
    done,
  )
}

await serveChild('undici-proxy', async () => {
  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pool.close()
    },
  }
})
