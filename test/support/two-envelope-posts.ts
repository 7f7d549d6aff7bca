import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin, type Origin } from './origin.ts'

/**
 * Two independently written versions of one posts API, differing the way real rewrites do:
 *
 * - legacy: numeric ids it assigns itself, `GET /posts?page=N&limit=L` answers a bare array;
 * - cloud: random string ids it generates (a client-supplied id is ignored), under `/v2/posts/`,
 *   `GET /v2/posts/?limit=L&cursor=C` answers `{ data: [...], next: C | null }`.
 *
 * Both apply a write once per Idempotency-Key and record every request (`origin.requests`).
 */
export interface PostStore {
  readonly origin: Origin
  /** id (as a string) → item, insertion order is list order */
  readonly items: Map<string, Record<string, unknown>>
  /** adds an item directly (test setup), returning its id */
  seed(fields: Record<string, unknown>, id?: string): string
}

function send(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

function store(name: string, prefix: string, newId: (items: Map<string, unknown>) => string | number, list: (all: unknown[], url: URL, res: ServerResponse) => void): Promise<PostStore> {
  const items = new Map<string, Record<string, unknown>>()
  const seen = new Map<string, { status: number; value: unknown }>()
  const handler = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (!url.pathname.startsWith(prefix)) return send(res, 404, { error: 'no such path' })
    const id = decodeURIComponent(url.pathname.slice(prefix.length).replace(/^\/|\/$/g, ''))
    const key = req.headers['idempotency-key']
    if (typeof key === 'string' && seen.has(key)) {
      const again = seen.get(key) as { status: number; value: unknown }
      return send(res, again.status, again.value)
    }
    let answer: { status: number; value: unknown; headers?: Record<string, string> }
    if (req.method === 'GET' && id === '') return list([...items.values()], url, res)
    else if (req.method === 'GET') answer = items.has(id) ? { status: 200, value: items.get(id) } : { status: 404, value: { error: 'not found' } }
    else if (req.method === 'POST' && id === '') {
      const given = JSON.parse(body.toString() || '{}') as Record<string, unknown>
      const assigned = newId(items)
      const item = { ...given, id: assigned }
      items.set(String(assigned), item)
      answer = { status: 201, value: item, headers: { location: `${prefix}/${assigned}` } }
    } else if (req.method === 'PUT' && id !== '') {
      if (!items.has(id)) answer = { status: 404, value: { error: 'not found' } }
      else {
        const old = items.get(id) as Record<string, unknown>
        const item = { ...(JSON.parse(body.toString() || '{}') as object), id: old.id }
        items.set(id, item)
        answer = { status: 200, value: item }
      }
    } else if (req.method === 'DELETE' && id !== '') {
      answer = items.delete(id) ? { status: 200, value: { deleted: id } } : { status: 404, value: { error: 'not found' } }
    } else answer = { status: 405, value: { error: 'method not allowed' } }
    if (typeof key === 'string') seen.set(key, answer)
    send(res, answer.status, answer.value, answer.headers)
  }
  return startOrigin(name, handler).then((origin) => ({
    origin,
    items,
    seed(fields, id) {
      const assigned = id ?? newId(items)
      items.set(String(assigned), { id: typeof assigned === 'string' && /^\d+$/.test(assigned) ? Number(assigned) : assigned, ...fields })
      return String(assigned)
    },
  }))
}

export function startLegacyPosts(): Promise<PostStore> {
  let next = 1
  return store('legacy', '/posts', () => next++, (all, url, res) => {
    const page = Number(url.searchParams.get('page') ?? 1)
    const limit = Number(url.searchParams.get('limit') ?? 10)
    send(res, 200, all.slice((page - 1) * limit, page * limit))
  })
}

export function startCloudPosts(): Promise<PostStore> {
  return store('cloud', '/v2/posts', () => `c-${randomBytes(6).toString('hex')}`, (all, url, res) => {
    const from = url.searchParams.has('cursor') ? Number(Buffer.from(url.searchParams.get('cursor') as string, 'base64url').toString()) : 0
    const limit = Number(url.searchParams.get('limit') ?? 10)
    const data = all.slice(from, from + limit)
    const next = from + limit < all.length ? Buffer.from(String(from + limit)).toString('base64url') : null
    send(res, 200, { data, next })
  })
}
