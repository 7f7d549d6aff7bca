import { describe, expect, it } from 'vitest'
import type { CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions } from '../../src/compare/comparator.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { MemoryIdMap } from '../../src/ids/id-map.ts'
import { compileIdSource, readId } from '../../src/ids/id-source.ts'
import { RouteIds } from '../../src/ids/route-ids.ts'
import { compilePathPattern } from '../../src/routing/path-pattern.ts'

const backends = { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002/base' } }

function answer(value: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }, status = 200): CapturedResponse {
  const body = Buffer.from(JSON.stringify(value))
  return { status, headers, body, length: body.length, truncated: false, latencyMs: 1 }
}

function setup() {
  const cfg = validateConfig({
    backends,
    routes: [
      { id: 'posts', methods: ['POST', 'GET'], path: '/posts', ids: { map: 'posts', from: 'body.data.id', fields: ['body.items[*].postId'] } },
      { id: 'post', path: '/api/posts/:id/comments/:cid', rewrite: { cloud: '/v2/comments/:cid/of/:id' }, ids: { map: 'posts', params: ['id'], fields: ['body.postId'] } },
    ],
  })
  const map = new MemoryIdMap()
  map.record({ map: 'posts', legacy: '21', cloud: 'p a/b' })
  map.record({ map: 'posts', legacy: '22', cloud: '7' })
  return { cfg, map, create: new RouteIds(cfg.routes[0]!, cfg.routes, map), item: new RouteIds(cfg.routes[1]!, cfg.routes, map) }
}

describe('RouteIds', () => {
  it("rebuilds the secondary's path with its rewrite and the translated parameter, encoded", () => {
    const { item } = setup()
    const match = compilePathPattern('/api/posts/:id/comments/:cid').regex.exec('/api/posts/21/comments/9')
    const t = item.translate(match, '?x=1', 'legacy', 'cloud', '/base', null)
    expect(t).toEqual({ path: '/base/v2/comments/9/of/p%20a%2Fb?x=1', body: null, hits: 1, misses: 0 })
    // the other direction, to legacy (no rewrite: the route's own path)
    const back = item.translate(compilePathPattern('/api/posts/:id/comments/:cid').regex.exec('/api/posts/7/comments/9'), '', 'cloud', 'legacy', '', null)
    expect(back.path).toBe('/api/posts/22/comments/9')
    const miss = item.translate(compilePathPattern('/api/posts/:id/comments/:cid').regex.exec('/api/posts/99/comments/9'), '', 'legacy', 'cloud', '', null)
    expect(miss).toEqual({ path: undefined, body: null, hits: 0, misses: 1 })
  })

  it('translates named body fields, wildcards included, keeping numbers numbers where the id is numeric', () => {
    const { create, item } = setup()
    const body = Buffer.from(JSON.stringify({ items: [{ postId: 21 }, { postId: 99 }, { other: 21 }], postId: 21 }))
    const t = create.translate(null, '', 'legacy', 'cloud', '', body)
    expect(JSON.parse(t.body!.toString())).toEqual({ items: [{ postId: 'p a/b' }, { postId: 99 }, { other: 21 }], postId: 21 })
    expect([t.hits, t.misses]).toEqual([1, 1])
    const n = item.translate(null, '', 'cloud', 'legacy', '', Buffer.from('{"postId":"7"}'))
    expect(JSON.parse(n.body!.toString())).toEqual({ postId: '22' })
    const k = item.translate(null, '', 'legacy', 'cloud', '', Buffer.from('{"postId":22}'))
    expect(JSON.parse(k.body!.toString())).toEqual({ postId: 7 })
    const notJson = Buffer.from('postId=21')
    expect(item.translate(null, '', 'legacy', 'cloud', '', notJson).body).toBe(notJson)
  })

  it('reads the created id from each side and pairs them by which side was primary', () => {
    const { create } = setup()
    expect(create.created(answer({ data: { id: 5 } }), answer({ data: { id: 'c5' } }), 'legacy')).toEqual({ map: 'posts', legacy: '5', cloud: 'c5' })
    expect(create.created(answer({ data: { id: 'c6' } }), answer({ data: { id: 6 } }), 'cloud')).toEqual({ map: 'posts', legacy: '6', cloud: 'c6' })
    expect(create.created(answer({ data: {} }), answer({ data: { id: 'c6' } }), 'legacy')).toBeUndefined()
  })

  it('compares answers modulo the map at the id paths only (item route: the create route\'s from, and its fields)', () => {
    const { item } = setup()
    const opts = compileCompareOptions(undefined)
    const eq = { equivalent: item.equivalent('legacy') }
    const same = compareResponses(answer({ data: { id: 21 }, postId: 22 }), answer({ data: { id: 'p a/b' }, postId: '7' }), opts, undefined, eq)
    expect(same.differences).toEqual([])
    // an unpaired id, a paired id at a path that is not an id path, and the wrong pair all differ
    const differ = compareResponses(answer({ data: { id: 22 }, other: 21, postId: 99 }), answer({ data: { id: 'p a/b' }, other: 'p a/b', postId: '99' }), opts, undefined, eq)
    expect(differ.differences.map((d) => [d.path.join('.'), d.kind])).toEqual([
      ['body.data.id', 'type'],
      ['body.other', 'type'],
      ['body.postId', 'type'],
    ])
  })
})

describe('readId', () => {
  it('takes the last path segment of a Location header, absolute or relative', () => {
    const source = compileIdSource('headers.location')
    expect(readId(source, answer({}, { location: 'https://api.example/v1/posts/p%2F1?x=1' }))).toBe('p/1')
    expect(readId(source, answer({}, { location: '/posts/42/' }))).toBe('42')
    expect(readId(source, answer({}, {}))).toBeUndefined()
  })

  it('reads a body field only from a JSON answer that was not cut at the compare limit', () => {
    const source = compileIdSource('body.id')
    expect(readId(source, answer({ id: 3 }))).toBe('3')
    expect(readId(source, answer({ id: { nested: 1 } }))).toBeUndefined()
    expect(readId(source, answer({ id: 3 }, { 'content-type': 'text/plain' }))).toBeUndefined()
    expect(readId(source, { ...answer({ id: 3 }), truncated: true })).toBeUndefined()
  })
})
