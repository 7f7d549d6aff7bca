import type { IncomingHttpHeaders } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  compileCachePolicies,
  compileCachePolicy,
  ReadCache,
  type CachedEntry,
  type CacheLookup,
  type CachePolicy,
  type FollowerFill,
  type LeaderFill,
  type ReadCacheOptions,
  type StoreInput,
} from '../../src/cache/read-cache.ts'
import type { RouteConfig } from '../../src/config/schema.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t }
  return c
}

function policyOf(id = 'orders', over: { ttlMs?: number; varyHeaders?: string[]; staleIfErrorMs?: number } = {}): CachePolicy {
  const p = compileCachePolicy(id, { ttlMs: 60_000, varyHeaders: [], staleIfErrorMs: 30_000, ...over })
  if (p === null) throw new Error('unreachable')
  return p
}

function answer(over: Partial<StoreInput> = {}): StoreInput {
  return { method: 'GET', status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":42}'), backend: 'legacy', ...over }
}

function split(url: string): [string, string] {
  const q = url.indexOf('?')
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q)]
}

function look(cache: ReadCache, policy: CachePolicy | null, url: string, headers: IncomingHttpHeaders = {}, method = 'GET'): CacheLookup {
  const [path, query] = split(url)
  return cache.lookup(policy, method, path, query, headers)
}

/** lookup + store, as the forwarder does on a miss */
function put(cache: ReadCache, policy: CachePolicy, url: string, reqHeaders: IncomingHttpHeaders = {}, over: Partial<StoreInput> = {}) {
  return cache.store(look(cache, policy, url, reqHeaders), answer(over))
}

function setup(opts: ReadCacheOptions = {}) {
  const c = clock()
  const cache = new ReadCache({ maxBytes: 4 * MiB, now: c.now, ...opts })
  return { c, cache, policy: policyOf() }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('ReadCache: lookup results', () => {
  it('bypasses routes without a policy and methods other than GET/HEAD', () => {
    const { cache, policy } = setup()
    expect(look(cache, null, '/api/orders')).toMatchObject({ result: 'bypass', bypass: 'route', key: null })
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) expect(look(cache, policy, '/api/orders', {}, m)).toMatchObject({ result: 'bypass', bypass: 'method' })
  })

  it('misses, then hits with the stored answer and its metadata', () => {
    const { cache, policy, c } = setup()
    expect(look(cache, policy, '/api/orders/42')).toMatchObject({ result: 'miss', entry: null })
    const { entry, reason } = put(cache, policy, '/api/orders/42', {}, { headers: { 'content-type': 'application/json', 'content-length': '999', etag: '"v1"' }, backend: 'cloud' })
    expect(reason).toBeNull()
    const hit = look(cache, policy, '/api/orders/42')
    expect(hit.result).toBe('hit')
    expect(hit.entry).toBe(entry)
    expect(hit.entry).toMatchObject({ status: 200, backend: 'cloud', storedAt: c.t, expiresAt: c.t + 60_000, staleUntil: c.t + 90_000 })
    expect(hit.entry?.body.toString()).toBe('{"id":42}')
    expect(hit.entry?.headers).toEqual({ 'content-type': 'application/json', etag: '"v1"', 'content-length': '9' })
    expect(Object.isFrozen(hit.entry?.headers)).toBe(true)
  })

  it('serves a HEAD from the cached GET and never stores a HEAD answer', () => {
    const { cache, policy } = setup()
    const head = look(cache, policy, '/api/orders/1', {}, 'HEAD')
    expect(head.result).toBe('miss')
    expect(cache.store(head, answer({ method: 'HEAD', body: Buffer.alloc(0) }))).toEqual({ entry: null, reason: 'method' })
    // converted to a GET upstream (proxy_cache_convert_head), the HEAD miss fills the cache
    expect(cache.store(head, answer()).reason).toBeNull()
    expect(look(cache, policy, '/api/orders/1', {}, 'HEAD').result).toBe('hit')
    expect(look(cache, policy, '/api/orders/1', {}, 'GET').result).toBe('hit')
  })

  it('drops per-exchange headers (Age, x-request-id, x-cutover-backend) and recomputes content-length', () => {
    const { cache, policy } = setup()
    const { entry } = put(cache, policy, '/a', {}, { headers: { age: '3', 'x-request-id': 'r1', 'x-cutover-backend': 'legacy', vary: 'Accept', link: ['<a>', '<b>'] } })
    expect(entry?.headers).toEqual({ vary: 'Accept', link: ['<a>', '<b>'], 'content-length': '9' })
  })

  it('keys on the normalised query', () => {
    const { cache, policy } = setup()
    put(cache, policy, '/api/orders?b=2&a=1', {}, { body: Buffer.from('ab') })
    expect(look(cache, policy, '/api/orders?a=1&b=2').entry?.body.toString()).toBe('ab')
    expect(look(cache, policy, '/api/orders?a=1&b=3').result).toBe('miss')
    expect(look(cache, policy, '/api/orders').result).toBe('miss')
  })

  it('keys by route: the same path under another route is another entry', () => {
    const { cache, policy } = setup()
    put(cache, policy, '/api/orders')
    expect(look(cache, policyOf('orders-tenant-b'), '/api/orders').result).toBe('miss')
  })

  it('keeps requests with Authorization apart from anonymous ones', () => {
    const { cache, policy } = setup()
    put(cache, policy, '/api/me', {}, { status: 404 })
    expect(look(cache, policy, '/api/me', { authorization: 'Bearer u1' }).result).toBe('miss')
    expect(put(cache, policy, '/api/me', { authorization: 'Bearer u1' }).reason).toBe('authorization')
    expect(put(cache, policy, '/api/me', { authorization: 'Bearer u1' }, { headers: { 'cache-control': 'public, max-age=60' } }).reason).toBeNull()
    expect(look(cache, policy, '/api/me', { authorization: 'Bearer u2' }).result).toBe('hit')
    expect(look(cache, policy, '/api/me').entry?.status).toBe(404)
  })

  it('reports why an answer was not stored, and the next lookup still misses', () => {
    const { cache, policy } = setup()
    const cases: [Partial<StoreInput>, string][] = [
      [{ headers: { 'cache-control': 'no-store' } }, 'no-store'],
      [{ headers: { 'cache-control': 'private, max-age=60' } }, 'private'],
      [{ headers: { 'cache-control': 'no-cache' } }, 'no-cache'],
      [{ headers: { 'set-cookie': ['a=1'] } }, 'set-cookie'],
      [{ headers: { 'cache-control': 'max-age=0' } }, 'expired'],
      [{ status: 500 }, 'status'],
      [{ status: 302 }, 'status'],
      [{ body: Buffer.alloc(cache.maxBodyBytes + 1) }, 'too-large'],
    ]
    for (const [over, reason] of cases) {
      expect(put(cache, policy, '/x', {}, over), reason).toEqual({ entry: null, reason })
      expect(look(cache, policy, '/x').result).toBe('miss')
    }
    expect(put(cache, policy, '/x', { 'cache-control': 'no-store' }).reason).toBe('request-no-store')
    expect(cache.stats.entries).toBe(0)
  })

  it('refuses to store for a bypass lookup', () => {
    const { cache } = setup()
    expect(cache.store(look(cache, null, '/x'), answer())).toEqual({ entry: null, reason: 'bypass' })
  })
})

describe('ReadCache: freshness and stale-if-error', () => {
  it('is fresh until expiresAt, stale-usable until staleUntil, then gone', () => {
    const { cache, policy, c } = setup()
    put(cache, policy, '/a', {}, { headers: { 'cache-control': 'max-age=10' } })
    c.t += 9_999
    expect(look(cache, policy, '/a').result).toBe('hit')
    c.t += 1
    const stale = look(cache, policy, '/a')
    expect(stale.result).toBe('stale')
    expect(stale.entry?.body.toString()).toBe('{"id":42}')
    expect(stale.key).not.toBeNull()
    c.t += 29_999
    expect(look(cache, policy, '/a').result).toBe('stale')
    c.t += 1
    expect(look(cache, policy, '/a')).toMatchObject({ result: 'miss', entry: null })
    expect(cache.stats.entries).toBe(0)
  })

  it('caps the route ttl with max-age and s-maxage', () => {
    const { cache, policy, c } = setup()
    put(cache, policy, '/long', {}, { headers: { 'cache-control': 'max-age=3600' } })
    put(cache, policy, '/shared', {}, { headers: { 'cache-control': 'max-age=3600, s-maxage=5' } })
    c.t += 5_000
    expect(look(cache, policy, '/long').result).toBe('hit')
    expect(look(cache, policy, '/shared').result).toBe('miss') // s-maxage also forbids stale use
    c.t += 55_000
    expect(look(cache, policy, '/long').result).toBe('stale')
  })

  it('uses the smaller of the route window and stale-if-error', () => {
    const { cache, policy, c } = setup()
    put(cache, policy, '/a', {}, { headers: { 'cache-control': 'max-age=1, stale-if-error=5' } })
    c.t += 5_999
    expect(look(cache, policy, '/a').result).toBe('stale')
    c.t += 1
    expect(look(cache, policy, '/a').result).toBe('miss')
  })

  it('has no stale window when the route sets none', () => {
    const { cache, c } = setup()
    const policy = policyOf('p', { staleIfErrorMs: 0 })
    put(cache, policy, '/a', {}, { headers: { 'cache-control': 'max-age=1, stale-if-error=60' } })
    c.t += 1_000
    expect(look(cache, policy, '/a').result).toBe('miss')
  })

  it('gives the Age header value: received age plus time held', () => {
    const { cache, policy, c } = setup()
    const { entry } = put(cache, policy, '/a', {}, { headers: { age: '7', 'cache-control': 'max-age=60' } })
    if (entry === null) throw new Error('not stored')
    expect(cache.age(entry)).toBe(7)
    c.t += 2_500
    expect(cache.age(entry)).toBe(9)
    expect(entry.expiresAt - entry.storedAt).toBe(53_000)
  })
})

describe('ReadCache: Vary', () => {
  it('learns the Vary names from the first stored answer and keys on their values', () => {
    const { cache, policy } = setup()
    expect(put(cache, policy, '/a', { 'accept-language': 'en' }, { headers: { vary: 'Accept-Language' }, body: Buffer.from('en') }).reason).toBeNull()
    expect(look(cache, policy, '/a', { 'accept-language': 'en' }).entry?.body.toString()).toBe('en')
    const fr = look(cache, policy, '/a', { 'accept-language': 'fr' })
    expect(fr.result).toBe('miss')
    cache.store(fr, answer({ headers: { vary: 'Accept-Language' }, body: Buffer.from('fr') }))
    expect(look(cache, policy, '/a', { 'accept-language': 'fr' }).entry?.body.toString()).toBe('fr')
    expect(look(cache, policy, '/a', { 'accept-language': 'en' }).entry?.body.toString()).toBe('en')
    expect(look(cache, policy, '/a').result).toBe('miss') // absent is its own variant
    expect(look(cache, policy, '/a', { 'accept-language': '' }).result).toBe('miss')
    // the names were learned per path: another query of the same path uses them too
    put(cache, policy, '/a?page=2', { 'accept-language': 'en' }, { headers: { vary: 'accept-language' } })
    expect(look(cache, policy, '/a?page=2', { 'accept-language': 'de' }).result).toBe('miss')
  })

  it('ignores the case and order of Vary names', () => {
    const { cache, policy } = setup()
    const req = { accept: 'application/json', 'accept-language': 'en' }
    put(cache, policy, '/a', req, { headers: { vary: 'Accept-Language, ACCEPT' } })
    expect(look(cache, policy, '/a', req).result).toBe('hit')
    put(cache, policy, '/a', req, { headers: { vary: 'accept,accept-language' }, body: Buffer.from('2') })
    expect(cache.stats.entries).toBe(1)
  })

  it('keys on the route varyHeaders before anything is learned', () => {
    const { cache } = setup()
    const policy = policyOf('t', { varyHeaders: ['X-Tenant'] })
    put(cache, policy, '/a', { 'x-tenant': 'a' }, { body: Buffer.from('A') })
    expect(look(cache, policy, '/a', { 'x-tenant': 'a' }).entry?.body.toString()).toBe('A')
    expect(look(cache, policy, '/a', { 'x-tenant': 'b' }).result).toBe('miss')
  })

  it('never stores Vary: *, bypasses the resource for the route ttl, then tries again', () => {
    const { cache, policy, c } = setup()
    expect(put(cache, policy, '/a', {}, { headers: { vary: '*' } })).toEqual({ entry: null, reason: 'vary-star' })
    expect(look(cache, policy, '/a')).toMatchObject({ result: 'bypass', bypass: 'vary-star' })
    expect(look(cache, policy, '/b').result).toBe('miss')
    c.t += 60_001 // lru-cache ends a TTL once strictly past it
    expect(look(cache, policy, '/a').result).toBe('miss')
  })

  it('heals when a resource changes its Vary names', () => {
    const { cache, policy } = setup()
    put(cache, policy, '/a', { accept: 'x', 'accept-language': 'en' }, { headers: { vary: 'accept' } })
    put(cache, policy, '/a', { accept: 'x', 'accept-language': 'en' }, { headers: { vary: 'accept-language' }, body: Buffer.from('new') })
    expect(look(cache, policy, '/a', { accept: 'y', 'accept-language': 'en' }).entry?.body.toString()).toBe('new')
    put(cache, policy, '/a', { accept: 'x', 'accept-language': 'en' }, { body: Buffer.from('none') })
    expect(look(cache, policy, '/a', { accept: 'z', 'accept-language': 'fr' }).entry?.body.toString()).toBe('none')
  })
})

describe('ReadCache: invalidation', () => {
  function filled() {
    const s = setup()
    const { cache, policy } = s
    const lang = (l: string) => ({ 'accept-language': l })
    put(cache, policy, '/api/orders/42', lang('en'), { headers: { vary: 'accept-language' } })
    put(cache, policy, '/api/orders/42', lang('fr'), { headers: { vary: 'accept-language' } })
    put(cache, policy, '/api/orders/42?fields=id', lang('en'), { headers: { vary: 'accept-language' } })
    put(cache, policy, '/api/orders/42/', lang('en'))
    put(cache, policy, '/api/orders')
    put(cache, policy, '/api/orders?page=2')
    put(cache, policy, '/api/orders/43')
    put(cache, policy, '/api/orders/42/items')
    put(cache, policy, '/api/customers/1')
    put(cache, policyOf('orders-v2'), '/api/orders/42', lang('en'))
    return { ...s, lang }
  }

  it('a write to an item drops every variant of the item and of its collection', () => {
    const { cache, policy, lang } = filled()
    expect(cache.stats.entries).toBe(10)
    expect(cache.invalidate('/api/orders/42')).toBe(7)
    for (const [url, h] of [
      ['/api/orders/42', lang('en')],
      ['/api/orders/42', lang('fr')],
      ['/api/orders/42?fields=id', lang('en')],
      ['/api/orders/42/', lang('en')],
      ['/api/orders', {}],
      ['/api/orders?page=2', {}],
    ] as const) {
      expect(look(cache, policy, url, h).result, url).toBe('miss')
      expect(look(cache, policy, url, h, 'HEAD').result, url).toBe('miss')
    }
    expect(look(cache, policyOf('orders-v2'), '/api/orders/42', lang('en')).result).toBe('miss')
    expect(look(cache, policy, '/api/orders/43').result).toBe('hit')
    expect(look(cache, policy, '/api/orders/42/items').result).toBe('hit')
    expect(look(cache, policy, '/api/customers/1').result).toBe('hit')
  })

  it('a POST to a collection drops the collection and leaves its items', () => {
    const { cache, policy, lang } = filled()
    expect(cache.invalidate('/api/orders')).toBe(2)
    expect(look(cache, policy, '/api/orders').result).toBe('miss')
    expect(look(cache, policy, '/api/orders?page=2').result).toBe('miss')
    expect(look(cache, policy, '/api/orders/42', lang('en')).result).toBe('hit')
    expect(look(cache, policy, '/api/orders/43').result).toBe('hit')
  })

  it('returns 0 and keeps everything for an unrelated path', () => {
    const { cache } = filled()
    expect(cache.invalidate('/api/invoices/1')).toBe(0)
    expect(cache.stats.entries).toBe(10)
  })

  it('does not store a read that was in flight across a write to its path', () => {
    const { cache, policy } = setup()
    const before = look(cache, policy, '/api/orders/42')
    const unrelated = look(cache, policy, '/api/customers/1')
    cache.invalidate('/api/orders/42')
    expect(cache.store(before, answer())).toEqual({ entry: null, reason: 'invalidated' })
    expect(cache.store(unrelated, answer()).reason).toBeNull()
    const collection = look(cache, policy, '/api/orders')
    cache.invalidate('/api/orders/7') // the collection changed too
    expect(cache.store(collection, answer()).reason).toBe('invalidated')
    expect(cache.store(look(cache, policy, '/api/orders/42'), answer()).reason).toBeNull()
  })

  it('a second invalidation when the write answers covers a read that started after the first', () => {
    const { cache, policy } = setup()
    cache.invalidate('/api/orders/42') // the write is forwarded
    const read = look(cache, policy, '/api/orders/42') // a read starts, reaches the backend first
    cache.invalidate('/api/orders/42') // the write answered
    expect(cache.store(read, answer()).reason).toBe('invalidated')
  })

  it('refuses racing fills it can no longer check once its record of writes is full', () => {
    const { cache, policy } = setup({ maxInvalidations: 2 })
    const old = look(cache, policy, '/a')
    cache.invalidate('/x/1')
    cache.invalidate('/y/1') // 4 paths recorded: the oldest are forgotten
    expect(cache.store(old, answer()).reason).toBe('invalidated')
    expect(cache.store(look(cache, policy, '/a'), answer()).reason).toBeNull()
  })

  it('keeps its record of writes within the byte budget, however long and many the paths', () => {
    const { cache, policy } = setup({ maxBytes: 1 * MiB })
    put(cache, policy, '/kept')
    const old = look(cache, policy, '/a')
    const long = '/' + 'x'.repeat(2000)
    for (let i = 0; i < 20_000; i++) cache.invalidate(`${long}/${i}`)
    expect(cache.stats.bytes).toBeLessThanOrEqual(1 * MiB)
    expect(cache.store(old, answer()).reason).toBe('invalidated')
    expect(look(cache, policy, '/kept').result).toBe('hit')
  })
})

describe('ReadCache: flushRoute', () => {
  it('drops every entry of one route and nothing else', () => {
    const { cache, policy } = setup()
    const other = policyOf('accounts')
    for (let i = 0; i < 20; i++) put(cache, policy, `/api/orders/${i}`, { 'accept-language': 'en' }, { headers: { vary: 'accept-language' } })
    put(cache, other, '/api/accounts/1')
    expect(cache.flushRoute('orders')).toBe(20)
    expect(look(cache, policy, '/api/orders/3', { 'accept-language': 'en' }).result).toBe('miss')
    expect(look(cache, other, '/api/accounts/1').result).toBe('hit')
    expect(cache.stats).toMatchObject({ entries: 1, routes: 1, paths: 1, learnedVary: 0 })
    expect(cache.flushRoute('orders')).toBe(0)
  })

  it('does not store a fill that started before the flush', () => {
    const { cache, policy } = setup()
    const before = look(cache, policy, '/api/orders/1')
    const otherRoute = look(cache, policyOf('accounts'), '/api/accounts/1')
    cache.flushRoute('orders')
    expect(cache.store(before, answer()).reason).toBe('invalidated')
    expect(cache.store(otherRoute, answer()).reason).toBeNull()
  })
})

describe('ReadCache: memory bound', () => {
  it('stays under maxBytes with 10 000 distinct 64 KiB entries, evicting the oldest', () => {
    const c = clock()
    const maxBytes = 16 * MiB
    const cache = new ReadCache({ maxBytes, now: c.now })
    const policy = policyOf()
    let peak = 0
    for (let i = 0; i < 10_000; i++) {
      const body = Buffer.alloc(64 * KiB, i % 251)
      expect(put(cache, policy, `/api/blobs/${i}`, { 'accept-language': 'en' }, { body, headers: { vary: i % 2 === 0 ? 'accept-language' : 'accept' } }).reason).toBeNull()
      peak = Math.max(peak, cache.stats.bytes)
    }
    const { entries, bytes, paths, routes } = cache.stats
    expect(peak).toBeLessThanOrEqual(maxBytes)
    expect(bytes).toBeLessThanOrEqual(maxBytes)
    expect(entries).toBeGreaterThan(200)
    expect(entries).toBeLessThan(256)
    expect(paths).toBe(entries) // the index follows evictions: nothing leaks
    expect(routes).toBe(1)
    expect(look(cache, policy, '/api/blobs/0', { 'accept-language': 'en' }).result).toBe('miss')
    expect(look(cache, policy, '/api/blobs/5000', { 'accept-language': 'en' }).result).toBe('miss')
    const last = look(cache, policy, '/api/blobs/9999', { 'accept-language': 'en' })
    expect(last.result).toBe('hit')
    expect(last.entry?.body.length).toBe(64 * KiB)
    expect(last.entry?.body[0]).toBe(9999 % 251)
  })

  it('keeps recently used entries over older unused ones', () => {
    const c = clock()
    const cache = new ReadCache({ maxBytes: 1 * MiB, now: c.now })
    const policy = policyOf()
    put(cache, policy, '/hot', {}, { body: Buffer.alloc(32 * KiB) })
    for (let i = 0; i < 100; i++) {
      put(cache, policy, `/cold/${i}`, {}, { body: Buffer.alloc(32 * KiB) })
      expect(look(cache, policy, '/hot').result).toBe('hit')
    }
    expect(look(cache, policy, '/cold/0').result).toBe('miss')
  })

  it('copies a body that is a view into a larger buffer', () => {
    const { cache, policy } = setup()
    const big = Buffer.alloc(1 * MiB)
    big.write('hello', 1000)
    const { entry } = put(cache, policy, '/a', {}, { body: big.subarray(1000, 1005) })
    expect(entry?.body.toString()).toBe('hello')
    expect(entry?.body.buffer.byteLength).toBe(5)
    expect(entry?.size).toBeLessThan(1024)
  })

  it('caps a single body at maxBytes / 16 by default', () => {
    const cache = new ReadCache({ maxBytes: 16 * MiB })
    expect(cache.maxBodyBytes).toBe(1 * MiB)
  })
})

describe('ReadCache: coalescing', () => {
  it('100 concurrent misses on one key: one leader, 99 followers get its entry', async () => {
    const { cache, policy } = setup()
    const lookups = Array.from({ length: 100 }, () => look(cache, policy, '/api/orders'))
    const fills = lookups.map((l) => cache.beginFill(l))
    const leaders = fills.filter((f): f is LeaderFill<CachedEntry> => f.leader)
    expect(leaders).toHaveLength(1)
    expect(cache.stats.fillsInFlight).toBe(1)
    const leaderLookup = lookups[fills.findIndex((f) => f.leader)] as CacheLookup
    const { entry } = cache.store(leaderLookup, answer({ body: Buffer.from('shared') }))
    leaders[0]?.complete(entry)
    const got = await Promise.all(fills.filter((f): f is FollowerFill<CachedEntry> => !f.leader).map((f) => f.wait))
    expect(got).toHaveLength(99)
    for (const e of got) expect(e).toBe(entry)
    expect(cache.stats.fillsInFlight).toBe(0)
  })

  it('a leader completing with null lets followers go upstream, and frees the key', async () => {
    const { cache, policy } = setup()
    const l = look(cache, policy, '/a')
    const leader = cache.beginFill(l)
    const followers = Array.from({ length: 10 }, () => cache.beginFill(look(cache, policy, '/a')))
    expect(leader.leader).toBe(true)
    const notStored = cache.store(l, answer({ headers: { 'cache-control': 'no-store' } }))
    ;(leader as LeaderFill<CachedEntry>).complete(notStored.entry)
    for (const f of followers) {
      expect(f.leader).toBe(false)
      expect(await (f as FollowerFill<CachedEntry>).wait).toBeNull()
    }
    expect(cache.beginFill(look(cache, policy, '/a')).leader).toBe(true)
  })

  it('hands a follower null when the entry does not fit its request (Vary learned from the answer)', async () => {
    const { cache, policy } = setup()
    const en = look(cache, policy, '/a', { 'accept-language': 'en' })
    const fr = look(cache, policy, '/a', { 'accept-language': 'fr' })
    const en2 = look(cache, policy, '/a', { 'accept-language': 'en' })
    expect(fr.key).toBe(en.key) // nothing learned yet: one key
    const leader = cache.beginFill(en) as LeaderFill<CachedEntry>
    const frFill = cache.beginFill(fr) as FollowerFill<CachedEntry>
    const enFill = cache.beginFill(en2) as FollowerFill<CachedEntry>
    leader.complete(cache.store(en, answer({ headers: { vary: 'Accept-Language' } })).entry)
    expect(await frFill.wait).toBeNull()
    expect((await enFill.wait)?.status).toBe(200)
  })

  it('releases followers at the deadline when the leader never completes', async () => {
    vi.useFakeTimers()
    const { cache, policy } = setup({ fillDeadlineMs: 2_000 })
    const leader = cache.beginFill(look(cache, policy, '/a'))
    const follower = cache.beginFill(look(cache, policy, '/a')) as FollowerFill<CachedEntry>
    expect(leader.leader).toBe(true)
    let settled = false
    void follower.wait.then(() => (settled = true))
    await vi.advanceTimersByTimeAsync(1_999)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await follower.wait).toBeNull()
    expect(cache.beginFill(look(cache, policy, '/a')).leader).toBe(true)
  })

  it('refuses to start a fill for a bypass', () => {
    const { cache } = setup()
    expect(() => cache.beginFill(look(cache, null, '/a'))).toThrow(/bypass/)
  })
})

describe('ReadCache: options and policies', () => {
  it('rejects unknown options with a hint', () => {
    expect(() => new ReadCache({ maxbytes: 1 } as unknown as ReadCacheOptions)).toThrow("unknown option 'maxbytes' (did you mean 'maxBytes'?)")
    expect(() => new ReadCache({ size: 1 } as unknown as ReadCacheOptions)).toThrow("unknown option 'size'")
  })

  it('rejects bad sizes and deadlines', () => {
    expect(() => new ReadCache({ maxBytes: 100 })).toThrow(/maxBytes/)
    expect(() => new ReadCache({ maxBytes: 1 * MiB, maxBodyBytes: 1 * MiB })).toThrow(/maxBodyBytes/)
    expect(() => new ReadCache({ fillDeadlineMs: 0 })).toThrow(/fillDeadlineMs/)
  })

  it('compiles route policies: only routes with cache, vary names lower-case and sorted', () => {
    const routes = [
      { id: 'a', cache: { ttlMs: 1000, varyHeaders: ['X-Tenant', 'Accept'], staleIfErrorMs: 0 } },
      { id: 'b' },
    ] as unknown as RouteConfig[]
    const policies = compileCachePolicies(routes)
    expect([...policies.keys()]).toEqual(['a'])
    expect(policies.get('a')?.vary.names).toEqual(['accept', 'x-tenant'])
    expect(() => compileCachePolicy('c', { ttlMs: 1, varyHeaders: ['bad header'], staleIfErrorMs: 0 })).toThrow("route 'c': cache.varyHeaders[0] 'bad header' is not a header name")
  })

  it('clear() drops everything and refuses fills in flight', () => {
    const { cache, policy } = setup()
    put(cache, policy, '/a')
    const inFlight = look(cache, policy, '/b')
    cache.clear()
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0, paths: 0, routes: 0 })
    expect(cache.store(inFlight, answer()).reason).toBe('invalidated')
  })
})
