import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { backends, problems } from '../support/config.ts'


describe('ids options', () => {
  it('accepts a create route and an item route sharing a map, with defaults filled in', () => {
    const cfg = validateConfig({
      backends,
      routes: [
        { id: 'posts', methods: ['POST', 'GET'], path: '/posts', ids: { map: 'posts', from: 'body.data.id', compare: ['body[*].id'] } },
        { id: 'post', path: '/posts/:id', ids: { map: 'posts', params: ['id'], fields: ['body.items[*].postId'] } },
        { id: 'located', path: '/things', ids: { from: 'headers.location' } },
      ],
    })
    expect(cfg.routes[1]?.ids).toEqual({ map: 'posts', params: ['id'], fields: ['body.items[*].postId'] })
    expect(cfg.routes[2]?.ids).toEqual({ from: 'headers.location', params: [], fields: [] })
    expect(cfg.ids).toEqual({ maxPairs: 1_000_000 })
    expect(cfg.kafka).toBeUndefined()
    expect(validateConfig({ backends, kafka: { brokers: ['127.0.0.1:9092'] } }).kafka?.topics.ids).toBe('cutover.ids')
  })

  it('names the path of every bad ids option', () => {
    const list = problems({
      backends,
      ids: { maxPairs: 0, extra: true },
      routes: [
        { id: 'a', path: '/posts/:id', ids: { params: ['id', 'postId', '*'], from: 'id', fields: ['headers.x', 'body'], compare: ['status'], mapp: 'x' } },
        { id: 'b', path: '/posts', ids: { params: ['id'], map: 'has space' } },
      ],
    })
    expect(list).toContain("routes[0].ids.params[1]: 'postId' is not a parameter of the route path (:id)")
    expect(list).toContain("routes[0].ids.params[2]: '*' is not a parameter of the route path (:id)")
    expect(list).toContain("routes[1].ids.params[0]: 'id' is not a parameter of the route path (it has none)")
    expect(list).toContain("routes[0].ids.from: must be a body field path such as 'body.id' or 'body.data.id', or a header such as 'headers.location'")
    expect(list).toContain("routes[0].ids.fields[0]: must be a body field path such as 'body.postId', 'body[*].id' or 'body.items[*].id'")
    expect(list).toContain("routes[0].ids.fields[1]: must be a body field path such as 'body.postId', 'body[*].id' or 'body.items[*].id'")
    expect(list).toContain("routes[0].ids.compare[0]: must be a body field path such as 'body.postId', 'body[*].id' or 'body.items[*].id'")
    expect(list).toContain('routes[0].ids.mapp: unknown option')
    expect(list).toContain('routes[1].ids.map: must be 1-128 letters, digits, dot, dash or underscore')
    expect(list).toContain('ids.maxPairs: must be at least 1')
    expect(list).toContain('ids.extra: unknown option')
    expect(list.filter((l) => l.includes('params[0]') && l.startsWith('routes[0]'))).toEqual([])
  })

  it('refuses a map that no route records pairs for (a misspelt map name)', () => {
    const list = problems({
      backends,
      routes: [
        { id: 'posts', path: '/posts', ids: { map: 'posts', from: 'body.id' } },
        { id: 'post', path: '/posts/:id', ids: { map: 'post', params: ['id'] } },
        { id: 'other', path: '/other/:id', ids: { params: ['id'] } },
      ],
    })
    expect(list).toEqual([
      "routes[1].ids.map: no route records pairs for map 'post' (a route with ids.from and ids.map 'post')",
      "routes[2].ids.from: no route records pairs for map 'other' (a route with ids.from and ids.map 'other')",
    ])
  })
})
