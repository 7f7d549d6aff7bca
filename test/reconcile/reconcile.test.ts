import { writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { MemoryIdMap } from '../../src/ids/id-map.ts'
import { exitCode, reconcile, type ReconcileOptions } from '../../src/reconcile/reconcile.ts'
import { formatReport } from '../../src/reconcile/reconcile-report.ts'
import { repairKey } from '../../src/reconcile/repair.ts'
import { testConfig } from '../support/gateway.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { startCloudPosts, startLegacyPosts, type PostStore } from '../support/two-envelope-posts.ts'

let legacy: PostStore
let cloud: PostStore
let ids: MemoryIdMap
let legacyHandler: PostStore['origin']['handler']
let cloudHandler: PostStore['origin']['handler']

beforeAll(async () => {
  legacy = await startLegacyPosts()
  cloud = await startCloudPosts()
  legacyHandler = legacy.origin.handler
  cloudHandler = cloud.origin.handler
})
afterAll(async () => {
  await Promise.all([legacy?.origin.close(), cloud?.origin.close()])
})
afterEach(() => {
  legacy.origin.handler = legacyHandler
  cloud.origin.handler = cloudHandler
  legacy.items.clear()
  cloud.items.clear()
  legacy.origin.requests.length = 0
  cloud.origin.requests.length = 0
})

function configInput(route: Record<string, unknown> = {}): CutoverConfigInput {
  return testConfig(legacy.origin.url, cloud.origin.url, {
    routes: [
      {
        id: 'posts',
        path: '/posts/*',
        rewrite: { cloud: '/v2/posts/*' },
        compare: { ignore: ['body.updatedAt'] },
        reconcile: {
          list: '/posts',
          item: '/posts/:id',
          pagination: { style: 'page', pageSize: 2 },
          backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next', limitParam: 'limit', pageSize: 2 } } },
        },
        ...route,
      },
    ],
  } as Partial<CutoverConfigInput>)
}

function run(extra: Partial<ReconcileOptions> = {}, input = configInput()): ReturnType<typeof reconcile> {
  return reconcile({ config: validateConfig(input), ids, repair: false, repairExtra: false, maxPages: 100, timeoutMs: 10_000, headers: {}, ...extra })
}

/** Five posts on both sides: legacy numbers them, cloud generates its own ids; the pairs go in the map. */
function seedPaired(n = 5): { legacyIds: string[]; cloudIds: string[] } {
  ids = new MemoryIdMap()
  const legacyIds: string[] = []
  const cloudIds: string[] = []
  for (let i = 1; i <= n; i++) {
    const fields = { title: `post ${i}`, tags: ['a', `t${i}`], author: { name: 'ann' }, updatedAt: `2026-01-0${i}` }
    const l = legacy.seed(fields)
    const c = cloud.seed({ ...fields, updatedAt: 'later' })
    ids.record({ map: 'posts', legacy: l, cloud: c })
    legacyIds.push(l)
    cloudIds.push(c)
  }
  return { legacyIds, cloudIds }
}

/** The cloud store as legacy would hold it: cloud ids replaced through the map. */
function cloudAsLegacy(): Record<string, unknown>[] {
  return [...cloud.items.values()].map((item) => {
    const rest: Record<string, unknown> = { ...item }
    delete rest.updatedAt
    return { ...rest, id: Number(ids.translate('posts', 'cloud', String(item.id))) }
  }).sort((a, b) => (a.id as number) - (b.id as number))
}

function legacyItems(): Record<string, unknown>[] {
  return [...legacy.items.values()].map((item) => {
    const rest: Record<string, unknown> = { ...item }
    delete rest.updatedAt
    return rest
  })
}

describe('cutover reconcile (two envelopes, generated ids paired through the id map)', () => {
  it('reports 0 differences for equal stores, reading every page of both sides', async () => {
    seedPaired(5)
    const report = await run()
    expect(report.differences).toBe(0)
    expect(report.complete).toBe(true)
    expect(exitCode(report)).toBe(0)
    const route = report.routes[0]!
    expect(route).toMatchObject({ route: 'posts', map: 'posts', source: 'legacy', target: 'cloud', matched: 5, missing: [], extra: [], differs: [] })
    // legacy: pages of 2, 2, 1 (short after a full one: the end); cloud: until next is null
    expect(route.read.legacy).toEqual({ pages: 3, items: 5, withoutId: 0, stop: 'end' })
    expect(route.read.cloud).toEqual({ pages: 3, items: 5, withoutId: 0, stop: 'end' })
    expect(legacy.origin.requests.map((r) => r.url)).toEqual(['/posts?page=1&limit=2', '/posts?page=2&limit=2', '/posts?page=3&limit=2'])
    expect(cloud.origin.requests[0]!.url).toBe('/v2/posts/?limit=2')
    expect(cloud.origin.requests[1]!.url).toMatch(/^\/v2\/posts\/\?limit=2&cursor=/)
    expect(formatReport(report)).toMatch(/\n0 differences in 1 route\n$/)
  })

  it('reports exactly the divergent item and field, and the missing and extra ones', async () => {
    const { legacyIds, cloudIds } = seedPaired(5)
    ;(cloud.items.get(cloudIds[2]!) as Record<string, unknown>).title = 'post 3, edited on cloud'
    cloud.items.delete(cloudIds[3]!)
    const stray = cloud.seed({ title: 'only on cloud' })
    const report = await run()
    const route = report.routes[0]!
    expect(route.differs).toEqual([
      { id: legacyIds[2], targetId: cloudIds[2], truncated: false, total: 1, fields: [{ path: 'body.title', kind: 'changed', source: 'post 3', target: 'post 3, edited on cloud' }] },
    ])
    expect(route.missing).toEqual([legacyIds[3]])
    expect(route.extra).toEqual([stray])
    expect(route.matched).toBe(4)
    expect(report.differences).toBe(3)
    expect(exitCode(report)).toBe(1)
    const text = formatReport(report)
    expect(text).toContain(`differs ${legacyIds[2]} ↔ ${cloudIds[2]}: body.title "post 3" ≠ "post 3, edited on cloud" (changed)`)
    expect(text).toContain(`missing ${legacyIds[3]}: on legacy only`)
    expect(text).toContain(`extra ${stray}: on cloud only`)
  })

  it('--repair updates the differing item and creates the missing one (recording its pair); the re-check shows 0', async () => {
    const { legacyIds, cloudIds } = seedPaired(5)
    ;(cloud.items.get(cloudIds[1]!) as Record<string, unknown>).tags = ['a']
    cloud.items.delete(cloudIds[4]!)
    const report = await run({ repair: true })
    const route = report.routes[0]!
    expect(route.repair).toMatchObject({ updated: 1, created: 1, deleted: 0, failed: [], before: 2 })
    expect(route.repair!.paired).toHaveLength(1)
    const created = route.repair!.paired[0]!
    expect(created.source).toBe(legacyIds[4])
    expect(ids.translate('posts', 'legacy', legacyIds[4]!)).toBe(created.target)
    expect(report.differences).toBe(0)
    expect(route).toMatchObject({ matched: 5, differs: [], missing: [], extra: [], complete: true })
    expect(exitCode(report)).toBe(0)
    expect(cloudAsLegacy()).toEqual(legacyItems())

    const put = cloud.origin.requests.find((r) => r.method === 'PUT')!
    expect(put.url).toBe(`/v2/posts/${cloudIds[1]}`)
    expect(JSON.parse(put.body.toString())).toMatchObject({ id: cloudIds[1], tags: ['a', 't2'] })
    expect(put.headers['idempotency-key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const post = cloud.origin.requests.find((r) => r.method === 'POST')!
    expect(post.url).toBe('/v2/posts/')
    expect(post.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(put.headers['idempotency-key']).not.toBe(post.headers['idempotency-key'])
  })

  it('leaves extras alone under --repair; --repair-extra deletes them; a rerun with nothing to do sends nothing', async () => {
    seedPaired(3)
    const stray = cloud.seed({ title: 'only on cloud' })
    const kept = await run({ repair: true })
    expect(kept.routes[0]).toMatchObject({ extra: [stray], repair: { updated: 0, created: 0, deleted: 0, before: 1 } })
    expect(cloud.items.has(stray)).toBe(true)
    expect(cloud.origin.requests.every((r) => r.method === 'GET')).toBe(true)

    const report = await run({ repair: true, repairExtra: true })
    expect(report.routes[0]!.repair).toMatchObject({ deleted: 1, failed: [] })
    expect(cloud.origin.requests.find((r) => r.method === 'DELETE')!.url).toBe(`/v2/posts/${stray}`)
    expect(cloud.items.has(stray)).toBe(false)
    expect(report.differences).toBe(0)
    const before = cloud.origin.requests.length
    const again = await run({ repair: true, repairExtra: true })
    expect(again.routes[0]!.repair).toMatchObject({ updated: 0, created: 0, deleted: 0, before: 0 })
    expect(cloud.origin.requests.slice(before).every((r) => r.method === 'GET')).toBe(true)
  })

  it('the Idempotency-Key depends on route, id and content only, so a rerun of the same repair is safe', () => {
    expect(repairKey('posts', '7', 'a')).toBe(repairKey('posts', '7', 'a'))
    expect(repairKey('posts', '7', 'a')).not.toBe(repairKey('posts', '7', 'b'))
    expect(repairKey('posts', '7', 'a')).not.toBe(repairKey('posts', '8', 'a'))
    expect(repairKey('posts', '7', 'a')).not.toBe(repairKey('other', '7', 'a'))
  })

  it('a field referring to another item by id is equal when the two values are a known pair', async () => {
    const { legacyIds, cloudIds } = seedPaired(3)
    ;(legacy.items.get(legacyIds[2]!) as Record<string, unknown>).replyTo = Number(legacyIds[0])
    ;(cloud.items.get(cloudIds[2]!) as Record<string, unknown>).replyTo = cloudIds[0]
    ;(legacy.items.get(legacyIds[1]!) as Record<string, unknown>).replyTo = Number(legacyIds[0])
    ;(cloud.items.get(cloudIds[1]!) as Record<string, unknown>).replyTo = cloudIds[2]
    const report = await run()
    expect(report.routes[0]!.differs).toEqual([
      { id: legacyIds[1], targetId: cloudIds[1], truncated: false, total: 1, fields: [{ path: 'body.replyTo', kind: 'type', source: Number(legacyIds[0]), target: cloudIds[2] }] },
    ])
  })

  it('honours compare.ignore and reconcile.ignore, and redacts values of redact fields', async () => {
    const { cloudIds } = seedPaired(2)
    const item = cloud.items.get(cloudIds[0]!) as Record<string, unknown>
    item.author = { name: 'bob' }
    item.title = 'secret title'
    const report = await run({}, configInput({ redact: ['body.title'], reconcile: { list: '/posts', pagination: { style: 'page', pageSize: 2 }, ignore: ['body.author.name'], backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next' } } } } }))
    expect(report.routes[0]!.differs[0]!.fields).toEqual([{ path: 'body.title', kind: 'changed', source: '[redacted]', target: '[redacted]' }])
  })

  it('stops at --max-pages, says so, and does not claim missing or extra items it could not see', async () => {
    seedPaired(9)
    const report = await run({ maxPages: 2 })
    const route = report.routes[0]!
    expect(legacy.origin.requests).toHaveLength(2)
    expect(cloud.origin.requests).toHaveLength(2)
    expect(route.read.legacy).toMatchObject({ pages: 2, items: 4, stop: 'max-pages' })
    expect(route.complete).toBe(false)
    expect(route.missing).toEqual([])
    expect(route.extra).toEqual([])
    expect(route.matched).toBe(4)
    expect(exitCode(report)).toBe(1)
    expect(formatReport(report)).toContain('incomplete')
  })

  it('takes cloud as the source at weight 100 (or with source: cloud)', async () => {
    seedPaired(2)
    const extra = cloud.seed({ title: 'new on cloud' })
    const report = await run({}, configInput({ weight: 100 }))
    expect(report.routes[0]).toMatchObject({ source: 'cloud', target: 'legacy', missing: [extra], extra: [] })
    const forced = await run({ source: 'legacy' }, configInput({ weight: 100 }))
    expect(forced.routes[0]).toMatchObject({ source: 'legacy', missing: [], extra: [extra] })
    // the state file's weight (set at run time) wins over the config's, as in the gateway
    const input = configInput({ weight: 0 })
    writeFileSync(input.state!.file as string, JSON.stringify({ schema: 'cutover.state/v1', routes: { posts: { weight: 100, mirror: 'writes', readSample: 1, version: 3 } } }))
    expect((await run({}, input)).routes[0]).toMatchObject({ source: 'cloud' })
  })

  it('follows RFC 8288 Link rel="next" pagination, and reports a failing page as an incomplete walk', async () => {
    seedPaired(3)
    legacy.origin.handler = (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const page = Number(url.searchParams.get('p') ?? 1)
      const all = [...legacy.items.values()]
      const text = JSON.stringify({ items: all.slice(page - 1, page) })
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (page < all.length) headers.link = `</posts?p=${page + 1}>; rel="next", </posts?p=1>; rel="first"`
      if (page === 99) return void res.writeHead(500).end()
      res.writeHead(200, headers).end(text)
    }
    const input = configInput({ reconcile: { list: '/posts', pagination: { style: 'link' }, items: 'body.items', backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next' } } } } })
    const report = await run({}, input)
    expect(report.routes[0]!.read.legacy).toEqual({ pages: 3, items: 3, withoutId: 0, stop: 'end' })
    expect(report.differences).toBe(0)
    const broken = await run({}, configInput({ reconcile: { list: '/posts?p=99', pagination: { style: 'link' }, items: 'body.items', backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next' } } } } }))
    expect(broken.routes[0]!.read.legacy).toMatchObject({ stop: 'error', error: 'GET /posts?p=99: status 500' })
    expect(exitCode(broken)).toBe(1)
  })
})

describe('cutover reconcile, awkward backends', () => {
  it('decodes a gzip page even when the server ignores accept-encoding: identity', async () => {
    seedPaired(2)
    legacy.origin.handler = (req, res) => {
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page'))
      const gz = gzipSync(JSON.stringify([...legacy.items.values()].slice((page - 1) * 2, page * 2)))
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz)
    }
    const report = await run()
    expect(legacy.origin.requests[0]!.headers['accept-encoding']).toBe('identity')
    expect(report.routes[0]).toMatchObject({ matched: 2, differences: 0, complete: true })
  })

  it('stops at the deadline (--timeout) with the walk marked timeout, without waiting for a stalled page', async () => {
    seedPaired(2)
    legacy.origin.handler = () => undefined // never answers
    const started = Date.now()
    const report = await run({ timeoutMs: 300 })
    expect(Date.now() - started).toBeLessThan(1500)
    expect(report.routes[0]!.read.legacy).toMatchObject({ pages: 0, stop: 'timeout' })
    expect(report.routes[0]!.read.cloud.stop).toBe('end')
    expect(report.routes[0]!.unchecked).toEqual({ missing: 0, extra: 2 })
    expect(exitCode(report)).toBe(1)
  })

  it('refuses a Link to another origin and a cursor that repeats, instead of looping or leaking credentials', async () => {
    seedPaired(2)
    legacy.origin.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', link: '<http://127.0.0.2:1/posts?p=2>; rel="next"' }).end('[{"id":1}]')
    cloud.origin.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"c"}],"next":"same"}')
    const input = configInput({ reconcile: { list: '/posts', pagination: { style: 'link' }, backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next' } } } } })
    const report = await run({}, input)
    expect(report.routes[0]!.read.legacy).toMatchObject({ stop: 'error', error: 'GET /posts: next link points to another origin (http://127.0.0.2:1)' })
    expect(report.routes[0]!.read.cloud).toMatchObject({ stop: 'error', pages: 2 })
    expect(report.routes[0]!.read.cloud.error).toContain('the next page repeats an earlier one')
    expect(cloud.origin.requests).toHaveLength(2)
  })

  it('lists a repair it cannot make (no reconcile.item) as failed, and the difference remains', async () => {
    const { legacyIds, cloudIds } = seedPaired(2)
    ;(cloud.items.get(cloudIds[0]!) as Record<string, unknown>).title = 'x'
    const input = configInput({ reconcile: { list: '/posts', pagination: { style: 'page', pageSize: 2 }, backends: { cloud: { items: 'body.data', pagination: { style: 'cursor', next: 'body.next' } } } } })
    const report = await run({ repair: true }, input)
    expect(report.routes[0]!.repair!.failed).toEqual([{ action: 'update', id: legacyIds[0], reason: 'the route has no reconcile.item path' }])
    expect(report.differences).toBe(1)
    expect(cloud.origin.requests.every((r) => r.method === 'GET')).toBe(true)
  })
})

describe('cutover reconcile, the command', () => {
  // The CLI's id map starts empty until the persisted map is wired in, so these stores keep the
  // client's ids (both sides hold ids 1, 2, 3) and match by equal id.
  function seedSameIds(): void {
    for (const id of ['1', '2', '3']) {
      legacy.seed({ title: `post ${id}` }, id)
      cloud.seed({ title: `post ${id}` }, id)
    }
  }

  it('exits 0 with "0 differences", progress on stderr', async () => {
    seedSameIds()
    const cli = runCli(['reconcile', '--config', writeConfig(configInput())])
    expect(await cli.exited).toBe(0)
    expect(cli.output()).toContain('0 differences in 1 route')
    expect(cli.output()).toContain('reconcile posts: legacy page 1, 2 items')
    expect(cli.output()).toContain('reconcile posts: cloud page 2, 3 items')
  })

  it('exits 1 while a difference remains; --json gives the machine report; --repair fixes it', async () => {
    seedSameIds()
    ;(cloud.items.get('2') as Record<string, unknown>).title = 'changed'
    const file = writeConfig(configInput())
    const cli = runCli(['reconcile', '--config', file, '--json', '--route', 'posts', '-H', 'authorization: Bearer ops'])
    expect(await cli.exited).toBe(1)
    const out = cli.output()
    const report = JSON.parse(out.slice(out.indexOf('{\n  "schema"'))) as Record<string, unknown>
    expect(report).toMatchObject({
      schema: 'cutover.reconcile/v1',
      differences: 1,
      complete: true,
      routes: [{ route: 'posts', source: 'legacy', target: 'cloud', matched: 3, missing: [], extra: [], differs: [{ id: '2', targetId: '2', fields: [{ path: 'body.title', kind: 'changed', source: 'post 2', target: 'changed' }] }] }],
    })
    expect(cloud.origin.requests.every((r) => r.headers.authorization === 'Bearer ops')).toBe(true)

    const fix = runCli(['reconcile', '--config', file, '--repair'])
    expect(await fix.exited).toBe(0)
    expect(fix.output()).toContain('1 updated, 0 created, 0 deleted, 0 failed')
    expect(cloud.items.get('2')).toEqual({ id: 2, title: 'post 2' })
  })

  it('exits 1 naming the problem for an unknown route or a bad flag', async () => {
    const file = writeConfig(configInput())
    const unknown = runCli(['reconcile', '--config', file, '--route', 'nope'])
    expect(await unknown.exited).toBe(1)
    expect(unknown.output()).toContain("unknown route 'nope'")
    const bad = runCli(['reconcile', '--config', file, '--source', 'both'])
    expect(await bad.exited).toBe(1)
    expect(bad.output()).toContain("must be 'legacy' or 'cloud'")
  })
})
