import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import type { CutoverError } from '../../src/errors.ts'
import { nextLink } from '../../src/reconcile/link-header.ts'

const backends = { legacy: { url: 'http://127.0.0.1:1' }, cloud: { url: 'http://127.0.0.1:2' } }

function problems(reconcile: unknown, route: Record<string, unknown> = {}): readonly string[] {
  try {
    validateConfig({ backends, routes: [{ id: 'posts', path: '/posts/*', reconcile, ...route }] })
    return []
  } catch (err) {
    return (err as CutoverError).details
  }
}

describe('reconcile config', () => {
  it('fills defaults: items body, id id, PUT, page/limit names and size', () => {
    const config = validateConfig({ backends, routes: [{ id: 'posts', path: '/posts/*', reconcile: { list: '/posts', pagination: { style: 'page' } } }] })
    expect(config.routes[0]!.reconcile).toEqual({ list: '/posts', items: 'body', id: 'id', repairMethod: 'PUT', ignore: [], pagination: { style: 'page', pageParam: 'page', limitParam: 'limit', pageSize: 100, firstPage: 1 } })
  })

  it('names the path of every problem', () => {
    expect(problems({ list: 'posts', pagination: { style: 'pages' }, items: 'data', id: 'tags[*]', item: '/posts/x', repairMethod: 'POST', backends: { other: {} } })).toEqual([
      "routes[0].reconcile.list: must be a path starting with '/' (a query string is allowed)",
      "routes[0].reconcile.items: must be a field path starting with 'body', e.g. 'body.data'",
      "routes[0].reconcile.id: must be a field path inside an item without wildcards, e.g. 'id' or 'meta.key'",
      "routes[0].reconcile.pagination.style: must be { style: 'page' | 'cursor' | 'link' | 'none', … }",
      "routes[0].reconcile.item: must contain ':id' where the item's id goes",
      "routes[0].reconcile.repairMethod: must be 'PUT' or 'PATCH'",
      'routes[0].reconcile.backends.other: unknown option',
    ])
    expect(problems({ list: '/posts', pagination: { style: 'cursor', next: 'data.next', size: 3 } })).toEqual([
      "routes[0].reconcile.pagination.next: must be a field path starting with 'body' or 'headers', e.g. 'body.data'",
      'routes[0].reconcile.pagination.size: unknown option',
    ])
  })

  it('refuses a list path the route path does not match when a rewrite would have to apply', () => {
    expect(problems({ list: '/articles', item: '/articles/:id', pagination: { style: 'none' } }, { rewrite: { cloud: '/v2/posts/*' } })).toEqual([
      "routes[0].reconcile.list: does not match the route path '/posts/*', so rewrite.cloud cannot apply: set reconcile.backends.cloud.list",
      "routes[0].reconcile.item: does not match the route path '/posts/*', so rewrite.cloud cannot apply: set reconcile.backends.cloud.item",
    ])
    expect(problems({ list: '/articles', item: '/articles/:id', pagination: { style: 'none' }, backends: { cloud: { list: '/v2/articles', item: '/v2/articles/:id' } } }, { rewrite: { cloud: '/v2/posts/*' } })).toEqual([])
  })
})

describe('Link header (RFC 8288)', () => {
  it('finds rel="next" among several links, relation lists and quoted commas', () => {
    expect(nextLink('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"')).toBe('https://a/x?page=2')
    expect(nextLink('<https://a/x?page=1>; rel="prev first", </y?a=1,2>; title="a, b"; rel="Next"')).toBe('/y?a=1,2')
    expect(nextLink(['</p1>; rel=prev', '</p3>; rel=next'])).toBe('/p3')
    expect(nextLink('</p1>; rel=last')).toBeUndefined()
    expect(nextLink(undefined)).toBeUndefined()
  })
})
