import { describe, expect, it } from 'vitest'
import { normalisePath } from '../../src/routing/normalise-path.ts'

describe('normalisePath', () => {
  it.each([
    ['/api/orders/1', '/api/orders/1'],
    ['/api//orders', '/api/orders'],
    ['//admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['/public/./x', '/public/x'],
    ['/a/b/..', '/a/'],
    ['/%2e%2e/x'.replace('/%2e%2e', '/p/%2e%2e'), '/x'],
    ['/p/%2E%2E/x', '/x'],
    ['/api/%61bc', '/api/abc'],
    ['/api/a%20b', '/api/a%20b'],
    ['/api/a%3fb', '/api/a%3Fb'],
    ['/api/orders/', '/api/orders/'],
    // `;` parameters on ordinary segments are kept; only dot segments may not carry them
    ['/a/b;v=1/c', '/a/b;v=1/c'],
    ['/a/...;x', '/a/...;x'],
    ['/a/.x;y/..', '/a/'],
  ])('%s → %s', (input, expected) => {
    expect(normalisePath(input)).toBe(expected)
  })

  it.each(['/..%2f', '/..%2fadmin', '/a%2Fb', '/a%5cb', '/a\\b', '/..', '/../admin', '/a/../../b', '/a%00b', '/a%zz', 'admin', '', '/a/..;/b', '/..;x/', '/a/.;/b', '/a/%2e%2e;x/b', '/a/.%2E;/b', '/a/..;'])('refuses %s', (input) => {
    expect(normalisePath(input)).toBeNull()
  })
})
