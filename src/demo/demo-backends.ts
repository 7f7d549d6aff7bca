import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Two flavours of one small orders API for the embedded demo. They differ the way real
 * migrations do: cloud serves `/v2/orders/:id`, adds a `currency` field, formats `total` as a
 * string and stamps its own `updatedAt`.
 */
export type Flavour = 'legacy' | 'cloud'

interface Order {
  id: string
  item: string
  quantity: number
  total: number
}

export interface DemoBackend {
  readonly flavour: Flavour
  readonly url: string
  readonly orders: Map<string, Order>
  close(): Promise<void>
}

function seed(): Map<string, Order> {
  const orders = new Map<string, Order>()
  for (let i = 1; i <= 5; i++) orders.set(String(i), { id: String(i), item: `item-${i}`, quantity: i, total: i * 10 })
  return orders
}

function view(flavour: Flavour, order: Order): Record<string, unknown> {
  if (flavour === 'legacy') return { ...order, updatedAt: new Date().toISOString() }
  return { ...order, total: order.total.toFixed(2), currency: 'EUR', updatedAt: new Date().toISOString() }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  if (text === '') return {}
  const parsed: unknown = JSON.parse(text)
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
}

function send(res: ServerResponse, status: number, body: unknown, flavour: Flavour): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-served-by': `demo-${flavour}` })
  res.end(text)
}

export async function startDemoBackend(flavour: Flavour, port = 0, host = '127.0.0.1'): Promise<DemoBackend> {
  const orders = seed()
  let nextId = 100
  const prefix = flavour === 'legacy' ? '/api/orders' : '/v2/orders'
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo')
    if (url.pathname === '/api/health' || url.pathname === '/health') return send(res, 200, { ok: true, flavour }, flavour)
    if (!url.pathname.startsWith(prefix) && !url.pathname.startsWith('/api/orders')) return send(res, 404, { error: 'not found' }, flavour)
    const rest = url.pathname.replace(/^\/(api|v2)\/orders\/?/, '')
    const id = rest === '' ? undefined : decodeURIComponent(rest)
    void (async () => {
      try {
        if (req.method === 'GET' && id === undefined) return send(res, 200, [...orders.values()].map((o) => view(flavour, o)), flavour)
        if (req.method === 'GET' && id !== undefined) {
          const order = orders.get(id)
          return order === undefined ? send(res, 404, { error: 'no such order' }, flavour) : send(res, 200, view(flavour, order), flavour)
        }
        if (req.method === 'POST' && id === undefined) {
          const body = await readJson(req)
          // a mirrored create carries the primary's id so both stores agree on it
          const given = req.headers['x-cutover-entity-id']
          const newId = typeof given === 'string' ? given : String(nextId++)
          const order: Order = { id: newId, item: String(body.item ?? 'unknown'), quantity: Number(body.quantity ?? 1), total: Number(body.total ?? 0) }
          orders.set(newId, order)
          return send(res, 201, view(flavour, order), flavour)
        }
        if ((req.method === 'PUT' || req.method === 'PATCH') && id !== undefined) {
          const body = await readJson(req)
          const before = orders.get(id)
          if (before === undefined && req.method === 'PATCH') return send(res, 404, { error: 'no such order' }, flavour)
          const order: Order = { id, item: String(body.item ?? before?.item ?? 'unknown'), quantity: Number(body.quantity ?? before?.quantity ?? 1), total: Number(body.total ?? before?.total ?? 0) }
          orders.set(id, order)
          return send(res, 200, view(flavour, order), flavour)
        }
        if (req.method === 'DELETE' && id !== undefined) {
          orders.delete(id)
          res.writeHead(204, { 'x-served-by': `demo-${flavour}` }).end()
          return
        }
        send(res, 405, { error: 'method not allowed' }, flavour)
      } catch {
        send(res, 400, { error: 'bad request' }, flavour)
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const addr = server.address() as AddressInfo
  return {
    flavour,
    url: `http://${host}:${addr.port}`,
    orders,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
