import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin, type Origin } from './origin.ts'

/**
 * A tiny stateful backend: POST /items creates (using x-cutover-entity-id when the gateway
 * propagates the primary's id), PUT /items/:id replaces, DELETE /items/:id removes. Writes are
 * applied once per Idempotency-Key, like a real payment or order API. `down` makes it reset
 * every connection, as a crashed service would.
 */
export interface StoreBackend {
  origin: Origin
  readonly items: Map<string, unknown>
  down: boolean
}

export async function startStoreBackend(name: string, port = 0): Promise<StoreBackend> {
  const items = new Map<string, unknown>()
  const seen = new Map<string, string>()
  let next = 1
  const store: StoreBackend = { origin: undefined as unknown as Origin, items, down: false }
  const handler = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    if (store.down) {
      req.socket.destroy()
      return
    }
    const send = (status: number, value: unknown): void => {
      const text = JSON.stringify(value)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    const key = req.headers['idempotency-key']
    if (typeof key === 'string' && seen.has(key)) return send(200, JSON.parse(seen.get(key) as string))
    const id = (req.url ?? '').replace(/^\/items\/?/, '').split('?')[0] ?? ''
    let answer: { status: number; value: unknown }
    if (req.method === 'POST' && id === '') {
      const given = req.headers['x-cutover-entity-id']
      const newId = typeof given === 'string' ? given : `${name}-${next++}`
      const item = { id: newId, ...(JSON.parse(body.toString() || '{}') as object) }
      items.set(newId, item)
      answer = { status: 201, value: item }
    } else if (req.method === 'PUT' && id !== '') {
      const item = { id, ...(JSON.parse(body.toString() || '{}') as object) }
      items.set(id, item)
      answer = { status: 200, value: item }
    } else if (req.method === 'DELETE' && id !== '') {
      items.delete(id)
      answer = { status: 200, value: { id, deleted: true } }
    } else if (req.method === 'GET') {
      answer = id === '' ? { status: 200, value: [...items.values()] } : items.has(id) ? { status: 200, value: items.get(id) } : { status: 404, value: { error: 'not found' } }
    } else answer = { status: 405, value: { error: 'method not allowed' } }
    if (typeof key === 'string' && req.method !== 'GET') seen.set(key, JSON.stringify(answer.value))
    send(answer.status, answer.value)
  }
  store.origin = await startOrigin(name, handler, port)
  return store
}
