import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin, type Origin } from './origin.ts'

/**
 * Two independently written versions of one small REST API of posts, the way a real rewrite
 * differs: `legacy` numbers its posts 1, 2, 3…; `cloud` generates random string ids and ignores an
 * id the client sends. Both keep the posts in memory and serve
 *
 *   GET    /posts          every post, oldest first (`?page=1&limit=10` pages it)
 *   POST   /posts          create: 201, the post as stored, `Location: /posts/ID`
 *   GET    /posts/:id      the post, or 404 `{ error: 'not found' }`
 *   PATCH  /posts/:id      merge the body's fields into the post (not its id): 200, the post
 *   PUT    /posts/:id      replace the post's fields (not its id): 200, the post
 *   DELETE /posts/:id      remove: 200 `{ id, deleted: true }`, or 404
 *
 * A write carrying an Idempotency-Key is applied once; a repeat gets the first answer again (what
 * replayed writes rely on). `down` resets every connection, as a crashed service would.
 */
export interface PostStore {
  readonly name: 'legacy' | 'cloud'
  readonly origin: Origin
  readonly url: string
  /** the posts by id as a string (`'7'`, `'p_3f9a…'`), in creation order; edit it to seed or diverge */
  readonly posts: Map<string, Record<string, unknown>>
  down: boolean
  close(): Promise<void>
}

export interface PostStoreOptions {
  readonly port?: number
}

/** Legacy: numeric ids from 1, answered as JSON numbers. */
export function startLegacyPosts(options: PostStoreOptions = {}): Promise<PostStore> {
  let next = 1
  return startPostStore('legacy', () => next++, options)
}

/** Cloud: random string ids (`p_` + 12 hex digits); a client-supplied id is ignored. */
export function startCloudPosts(options: PostStoreOptions = {}): Promise<PostStore> {
  return startPostStore('cloud', () => `p_${randomBytes(6).toString('hex')}`, options)
}

async function startPostStore(name: 'legacy' | 'cloud', newId: () => number | string, options: PostStoreOptions): Promise<PostStore> {
  const posts = new Map<string, Record<string, unknown>>()
  const answered = new Map<string, { status: number; value: unknown; location?: string }>()
  const store = { name, origin: undefined as unknown as Origin, url: '', posts, down: false, close: async () => undefined } as PostStore

  const handler = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    if (store.down) {
      req.socket.destroy()
      return
    }
    const send = (a: { status: number; value: unknown; location?: string }): void => {
      const text = JSON.stringify(a.value)
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
      if (a.location !== undefined) headers.location = a.location
      res.writeHead(a.status, headers)
      res.end(text)
    }
    const key = req.headers['idempotency-key']
    const write = req.method !== 'GET' && req.method !== 'HEAD'
    if (write && typeof key === 'string') {
      const first = answered.get(key)
      if (first !== undefined) return send(first)
    }
    const url = new URL(req.url ?? '/', 'http://origin.invalid')
    const m = /^\/posts(?:\/([^/]+))?\/?$/.exec(url.pathname)
    let answer: { status: number; value: unknown; location?: string }
    if (m === null) answer = { status: 404, value: { error: 'not found' } }
    else {
      const id = m[1] === undefined ? undefined : decodeURIComponent(m[1])
      let input: Record<string, unknown> = {}
      if (body.length > 0) {
        try {
          input = JSON.parse(body.toString('utf8')) as Record<string, unknown>
        } catch {
          return send({ status: 400, value: { error: 'body is not JSON' } })
        }
      }
      // a client-supplied id is never used: each side makes its own
      const fields = { ...input }
      delete fields.id
      const post = id === undefined ? undefined : posts.get(id)
      if (id === undefined && req.method === 'GET') {
        let list = [...posts.values()]
        const limit = Number(url.searchParams.get('limit') ?? 0)
        if (limit > 0) list = list.slice((Math.max(1, Number(url.searchParams.get('page') ?? 1)) - 1) * limit).slice(0, limit)
        answer = { status: 200, value: list }
      } else if (id === undefined && req.method === 'POST') {
        const created = { id: newId(), ...fields }
        posts.set(String(created.id), created)
        answer = { status: 201, value: created, location: `/posts/${encodeURIComponent(String(created.id))}` }
      } else if (id === undefined) answer = { status: 405, value: { error: 'method not allowed' } }
      else if (post === undefined) answer = { status: 404, value: { error: 'not found' } }
      else if (req.method === 'GET') answer = { status: 200, value: post }
      else if (req.method === 'PATCH') {
        Object.assign(post, fields)
        answer = { status: 200, value: post }
      } else if (req.method === 'PUT') {
        const replaced = { id: post.id, ...fields }
        posts.set(id, replaced)
        answer = { status: 200, value: replaced }
      } else if (req.method === 'DELETE') {
        posts.delete(id)
        answer = { status: 200, value: { id: post.id, deleted: true } }
      } else answer = { status: 405, value: { error: 'method not allowed' } }
    }
    if (write && typeof key === 'string') answered.set(key, structuredClone(answer))
    send(answer)
  }

  const origin = await startOrigin(name, handler, options.port ?? 0)
  Object.assign(store, { origin, url: origin.url, close: () => origin.close() })
  return store
}
