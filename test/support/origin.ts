import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Recorded {
  method: string
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  body: Buffer
  /** false when the client went away before the body ended */
  complete: boolean
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

export interface Origin {
  readonly name: string
  readonly url: string
  readonly port: number
  readonly requests: Recorded[]
  handler: OriginHandler
  close(): Promise<void>
}

/** Answers with JSON naming the origin and echoing what it received. */
export function echo(name: string): OriginHandler {
  return (req, res, body) => {
    const text = JSON.stringify({ origin: name, method: req.method, url: req.url, bodyLength: body.length })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-origin': name })
    res.end(text)
  }
}

/** A real HTTP origin on a free port that records every request it receives. */
export async function startOrigin(name: string, handler?: OriginHandler, port = 0): Promise<Origin> {
  const requests: Recorded[] = []
  const origin = {
    name,
    url: '',
    port: 0,
    requests,
    handler: handler ?? echo(name),
    close: async () => undefined,
  } as Origin
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), complete: false }
    requests.push(rec)
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      rec.body = Buffer.concat(chunks)
      rec.complete = true
      origin.handler(req, res, rec.body)
    })
    req.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()))
  const addr = server.address() as AddressInfo
  Object.assign(origin, { port: addr.port, url: `http://127.0.0.1:${addr.port}` })
  origin.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return origin
}

/** A port that nothing listens on (bound once, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
