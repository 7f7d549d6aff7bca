import { describe, expect, it } from 'vitest'
import { FieldMatcher, formatFieldPath, generalise, parseFieldPath, type Segment, fieldPathProblem } from '../../src/compare/field-path.ts'

describe('parseFieldPath', () => {
  it.each<[string, Segment[]]>([
    ['status', ['status']],
    ['headers.etag', ['headers', 'etag']],
    ['body.total', ['body', 'total']],
    ['body.items[3]', ['body', 'items', 3]],
    ['body.items[*].id', ['body', 'items', '*', 'id']],
    ['body.matrix[0][12]', ['body', 'matrix', 0, 12]],
    ['body.grid[*][*]', ['body', 'grid', '*', '*']],
    ['body.*.ts', ['body', '*', 'ts']],
    ['body.a.b.c', ['body', 'a', 'b', 'c']],
  ])('%s', (input, expected) => {
    expect(parseFieldPath(input)).toEqual(expected)
  })

  it('gives array indexes as numbers and object keys as strings', () => {
    const [, key, index] = parseFieldPath('body.3[3]')
    expect(key).toBe('3')
    expect(index).toBe(3)
  })

  it.each(['body.items[x]', 'body.items[', 'body.items]', 'body.items[1', 'body.items[-1]', 'body.items[1.5]', 'body.a[0]b', 'body[*]x'])('refuses %s', (input) => {
    expect(() => parseFieldPath(input)).toThrow(/is not a field path/)
  })
})

describe('formatFieldPath', () => {
  it.each(['status', 'headers.etag', 'body.total', 'body.items[3]', 'body.items[*].id', 'body.matrix[0][12]', 'body.grid[*][*].v'])('round-trips %s', (path) => {
    expect(formatFieldPath(parseFieldPath(path))).toBe(path)
  })

  it('formats an empty path as the empty string', () => {
    expect(formatFieldPath([])).toBe('')
  })

  it('formats numbers as indexes after keys', () => {
    expect(formatFieldPath(['body', 'items', 0, 'tags', 2])).toBe('body.items[0].tags[2]')
  })
})

describe('generalise', () => {
  it('turns every array index into [*] and leaves keys alone', () => {
    expect(formatFieldPath(generalise(['body', 'items', 3, 'lines', 0, 'ts']))).toBe('body.items[*].lines[*].ts')
    expect(generalise(['body', 'byId', '17', 'ts'])).toEqual(['body', 'byId', '17', 'ts'])
  })

  it('does not modify its input', () => {
    const path: Segment[] = ['body', 'items', 3]
    generalise(path)
    expect(path).toEqual(['body', 'items', 3])
  })
})

describe('FieldMatcher', () => {
  it('matches a path equal to a pattern', () => {
    const m = new FieldMatcher(['body.total', 'headers.etag', 'status'])
    expect(m.matches(['body', 'total'])).toBe(true)
    expect(m.matches(['headers', 'etag'])).toBe(true)
    expect(m.matches(['status'])).toBe(true)
    expect(m.matches(['body', 'count'])).toBe(false)
    expect(m.matches(['headers', 'date'])).toBe(false)
  })

  it('covers everything below a pattern (prefix match by segment)', () => {
    const m = new FieldMatcher(['body.meta'])
    expect(m.matches(['body', 'meta', 'x'])).toBe(true)
    expect(m.matches(['body', 'meta', 'list', 4, 'y'])).toBe(true)
    // a segment prefix, not a string prefix
    expect(m.matches(['body', 'metadata'])).toBe(false)
    // a shorter path is not covered by a longer pattern
    expect(m.matches(['body'])).toBe(false)
  })

  it('[*] matches any array index', () => {
    const m = new FieldMatcher(['body.items[*].updatedAt'])
    expect(m.matches(['body', 'items', 0, 'updatedAt'])).toBe(true)
    expect(m.matches(['body', 'items', 41, 'updatedAt'])).toBe(true)
    expect(m.matches(['body', 'items', 41, 'updatedAt', 'nested'])).toBe(true)
    expect(m.matches(['body', 'items', 41, 'id'])).toBe(false)
    expect(m.matches(['body', 'items', 41])).toBe(false)
    expect(m.matches(['body', 'other', 0, 'updatedAt'])).toBe(false)
  })

  it('a concrete index matches only that element', () => {
    const m = new FieldMatcher(['body.items[2]'])
    expect(m.matches(['body', 'items', 2, 'id'])).toBe(true)
    expect(m.matches(['body', 'items', 3, 'id'])).toBe(false)
    // index 2 is not the object key "2"
    expect(m.matches(['body', 'items', '2', 'id'])).toBe(false)
  })

  it('* matches any object key', () => {
    const m = new FieldMatcher(['body.*.ts'])
    expect(m.matches(['body', 'order', 'ts'])).toBe(true)
    expect(m.matches(['body', 'invoice', 'ts'])).toBe(true)
    expect(m.matches(['body', 'invoice', 'id'])).toBe(false)
  })

  it('combines several wildcards', () => {
    const m = new FieldMatcher(['body.groups[*].items[*].ts'])
    expect(m.matches(['body', 'groups', 1, 'items', 7, 'ts'])).toBe(true)
    expect(m.matches(['body', 'groups', 1, 'items', 7, 'id'])).toBe(false)
  })

  it('an empty matcher matches nothing', () => {
    const m = new FieldMatcher()
    expect(m.size).toBe(0)
    expect(m.matches(['body', 'x'])).toBe(false)
    expect(m.matches(['status'])).toBe(false)
  })

  it('add() rejects a duplicate pattern and size/list reflect the distinct set in order', () => {
    const m = new FieldMatcher(['body.a', 'body.a'])
    expect(m.size).toBe(1)
    expect(m.add(['body', 'items', '*', 'ts'])).toBe(true)
    expect(m.add(parseFieldPath('body.items[*].ts'))).toBe(false)
    expect(m.add(['body', 'b'])).toBe(true)
    expect(m.size).toBe(3)
    expect(m.list()).toEqual(['body.a', 'body.items[*].ts', 'body.b'])
    expect(m.matches(['body', 'items', 9, 'ts'])).toBe(true)
  })

  it('keeps its own copy of an added pattern', () => {
    const m = new FieldMatcher()
    const pattern: Segment[] = ['body', 'x']
    m.add(pattern)
    pattern[1] = 'y'
    expect(m.matches(['body', 'x'])).toBe(true)
    expect(m.matches(['body', 'y'])).toBe(false)
  })

  it('throws on an invalid pattern at construction', () => {
    expect(() => new FieldMatcher(['body.items[x]'])).toThrow(/is not a field path/)
  })
})

describe('one grammar both ways: what events report parses back', () => {
  it('round-trips reported paths, including keys that are not plain names', () => {
    const segments: (string | number)[][] = [
      ['status'],
      ['headers', 'etag'],
      ['body'],
      ['body', 3, 'id'],
      ['body', 'items', 12, 'price'],
      ['body', 'a.b', 'c d'],
      ['body', '[x]', 'quote"d'],
      ['body', ''],
    ]
    for (const s of segments) expect(parseFieldPath(formatFieldPath(s))).toEqual(s)
    expect(formatFieldPath(['body', 'a.b', 0])).toBe('body["a.b"][0]')
  })

  it('accepts the wildcard forms users paste into the config', () => {
    expect(parseFieldPath('body[*].id')).toEqual(['body', '*', 'id'])
    expect(parseFieldPath('body[*]')).toEqual(['body', '*'])
    expect(parseFieldPath('body.*.etag')).toEqual(['body', '*', 'etag'])
    expect(parseFieldPath('headers.ETag')).toEqual(['headers', 'etag'])
  })

  it('says what is wrong, and where', () => {
    expect(fieldPathProblem('bodyy.x')).toMatch(/must start with 'status', 'headers' or 'body'/)
    expect(fieldPathProblem('body..x')).toMatch(/empty name at character 5/)
    expect(fieldPathProblem('body[x]')).toMatch(/\[x\]' must be an index/)
    expect(fieldPathProblem('body[3')).toMatch(/unclosed '\['/)
    expect(fieldPathProblem('status.code')).toMatch(/'status' has no parts/)
    expect(fieldPathProblem('headers.a.b')).toMatch(/one header name/)
    expect(fieldPathProblem('body.a b')).toMatch(/write it as \["a b"\]/)
    expect(fieldPathProblem('body[*].id', false)).toMatch(/may not contain a wildcard/)
    expect(fieldPathProblem('body[3].id')).toBeUndefined()
  })
})
