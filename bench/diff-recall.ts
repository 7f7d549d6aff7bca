/**
 * Diff recall: how many of the fields that really differ between two versions of one API does
 * Cutover report, and how many fields does it report that do not differ?
 *
 *   npx tsx bench/diff-recall.ts            (POSTS=50 READS=3 to change the workload)
 *
 * Two independently behaving versions of a posts API run on 127.0.0.1, differing the way a rewrite
 * does: legacy gzips its answers (the client asks for it), numbers its posts 1, 2, 3 and spells a
 * price "10.50"; cloud answers uncompressed, generates random string ids, ignores a client's id
 * and spells the price "10.5" (a deliberate change the route accepts with compare.normalize).
 * Both stamp every answer with a fresh `servedAt` (noise). After the creates, bugs are seeded into
 * cloud's copies: a changed title, a dropped field, an added field, a number turned string, an
 * element gone from a list. The seeded bugs are the ground truth; the reads go through the
 * gateway with every read mirrored, and every diff event is compared with the truth.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import pino from 'pino'
import { request } from 'undici'
import { validateConfig } from '../src/config/validate.ts'
import { startGateway } from '../src/gateway.ts'
import type { DiffEvent } from '../src/publish/events.ts'

const POSTS = Number(process.env.POSTS ?? 50)
const READS = Number(process.env.READS ?? 3)

type Post = Record<string, unknown> & { id: number | string }

interface Store {
  readonly posts: Map<string, Post>
  readonly url: string
  close(): Promise<void>
}

let stamp = 0

async function startStore(side: 'legacy' | 'cloud'): Promise<Store> {
  const posts = new Map<string, Post>()
  let next = 1
  const newId = (): number | string => (side === 'legacy' ? next++ : `p_${randomBytes(6).toString('hex')}`)
  const send = (req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void => {
    let body = Buffer.from(JSON.stringify(value))
    const headers: Record<string, string | number> = { 'content-type': 'application/json' }
    if (side === 'legacy' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = gzipSync(body)
      headers['content-encoding'] = 'gzip'
    }
    headers['content-length'] = body.length
    res.writeHead(status, headers)
    res.end(body)
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const m = /^\/posts(?:\/([^/?]+))?/.exec(req.url ?? '')
      if (m === null) return send(req, res, 404, { error: 'not found' })
      const served = { servedAt: new Date(Date.UTC(2026, 11, 1, 0, 0, 0, ++stamp)).toISOString() }
      if (m[1] === undefined && req.method === 'POST') {
        const input = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>
        delete input.id
        const post: Post = { id: newId(), ...input, price: side === 'legacy' ? input.price : String(Number(input.price)) }
        posts.set(String(post.id), post)
        return send(req, res, 201, post)
      }
      const post = m[1] === undefined ? undefined : posts.get(decodeURIComponent(m[1]))
      if (post === undefined) return send(req, res, 404, { error: 'not found' })
      send(req, res, 200, { ...post, ...served })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { posts, url, close: () => new Promise<void>((r) => server.close(() => r())) }
}

/** The bugs seeded into cloud's copy of post number `i`, and the field paths they make differ. */
function seed(i: number, post: Post): string[] {
  switch (i % 6) {
    case 1:
      post.title = `${String(post.title)} (edited)`
      return ['body.title']
    case 2:
      delete post.summary
      return ['body.summary']
    case 3:
      post.slug = `post-${i}`
      return ['body.slug']
    case 4:
      post.views = String(post.views)
      return ['body.views']
    case 5:
      post.tags = (post.tags as string[]).slice(1)
      // one element fewer: the array's length, and each element shifted into another place
      return ['body.tags', 'body.tags[0]', 'body.tags[1]', 'body.tags[2]']
    default:
      return []
  }
}

async function main(): Promise<void> {
  const legacy = await startStore('legacy')
  const cloud = await startStore('cloud')
  const dir = mkdtempSync(join(tmpdir(), 'cutover-recall-'))
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    backends: { legacy: { url: legacy.url }, cloud: { url: cloud.url } },
    state: { file: join(dir, 'state.json') },
    spool: { dir: join(dir, 'spool') },
    routes: [
      { id: 'posts-create', methods: ['POST'], path: '/posts', mirror: 'writes', ids: { map: 'posts', from: 'body.id' }, compare: { normalize: { decimals: ['body.price'] } } },
      { id: 'posts-item', methods: ['GET'], path: '/posts/:id', mirror: 'all', ids: { map: 'posts', params: ['id'] }, compare: { normalize: { decimals: ['body.price'] } } },
    ],
  })
  const gw = await startGateway(config, { log: pino({ level: 'silent' }), processMetrics: false })
  const client = { 'accept-encoding': 'gzip, br', 'content-type': 'application/json' }
  try {
    const legacyIds: string[] = []
    for (let i = 0; i < POSTS; i++) {
      const res = await request(`${gw.dataUrl}/posts`, {
        method: 'POST',
        headers: client,
        body: JSON.stringify({ title: `post ${i}`, summary: `about ${i}`, tags: ['a', 'b', 'c'], views: i * 10, price: '10.50' }),
      })
      await res.body.dump()
      legacyIds.push(String(legacy.posts.size))
    }
    await gw.data.mirror.idle()

    // seed cloud's bugs: cloud's copy of legacy post N is its Nth post
    const truth = new Map<string, Set<string>>()
    const cloudPosts = [...cloud.posts.values()]
    legacyIds.forEach((id, i) => truth.set(id, new Set(seed(i, cloudPosts[i] as Post))))

    const events: DiffEvent[] = []
    let reads = 0
    const started = performance.now()
    for (let r = 0; r < READS; r++) {
      for (const id of legacyIds) {
        const res = await request(`${gw.dataUrl}/posts/${id}`, { headers: client })
        await res.body.dump()
        reads++
        await gw.data.mirror.idle()
        const e = gw.data.diffs.recent({ route: 'posts-item' }, 1)[0]
        if (e !== undefined && e.requestId === res.headers['x-request-id']) events.push(e)
      }
    }
    const seconds = (performance.now() - started) / 1000

    // score every read: the paths its event reported (none without an event) against the truth
    let truePositives = 0
    let falsePositives = 0
    let differing = 0
    const falseFields = new Map<string, number>()
    const byRequest = new Map(events.map((e) => [e.requestId, e]))
    for (const e of byRequest.values()) {
      const id = /\/posts\/([^/?]+)/.exec(e.path)?.[1] ?? ''
      const want = truth.get(id) ?? new Set<string>()
      for (const d of e.differences) {
        if (want.has(d.path)) truePositives++
        else {
          falsePositives++
          falseFields.set(d.path, (falseFields.get(d.path) ?? 0) + 1)
        }
      }
    }
    for (const want of truth.values()) differing += want.size * READS
    const noise = (await gw.metrics.noiseDifferences.get()).values.reduce((n, v) => n + v.value, 0)
    const learned = gw.data.mirror.noise()['posts-item'] ?? []
    const report = {
      posts: POSTS,
      reads,
      events: events.length,
      differingFields: differing,
      reported: truePositives,
      recall: differing === 0 ? 1 : truePositives / differing,
      falsePositives,
      falseFields: Object.fromEntries(falseFields),
      learnedNoise: learned,
      noiseHidden: noise,
      idPairs: (await (await request(`${gw.adminUrl}/ids?map=posts&limit=1`)).body.json().catch(() => null)) as unknown,
      seconds: Math.round(seconds * 10) / 10,
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    process.stdout.write(`recall ${(report.recall * 100).toFixed(1)} % (${truePositives} of ${differing} differing fields reported), false positives ${falsePositives}\n`)
  } finally {
    await gw.close()
    await Promise.all([legacy.close(), cloud.close()])
  }
}

await main()
