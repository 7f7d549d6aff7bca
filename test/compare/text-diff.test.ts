import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { CapturedResponse } from '../../src/compare/captured-response.ts'
import { compareResponses, compileCompareOptions, differencePath } from '../../src/compare/comparator.ts'
import { FieldMatcher } from '../../src/compare/field-path.ts'
import { DifferenceSink, type RawDifference } from '../../src/compare/json-diff.ts'
import { NoiseLearner } from '../../src/compare/noise-learner.ts'
import { isTextType, MAX_LINE_EDITS, textDiff } from '../../src/compare/text-diff.ts'

function diff(a: string | Buffer, b: string | Buffer, ignore: string[] = [], examples = 1000): RawDifference[] {
  const sink = new DifferenceSink(examples)
  textDiff(Buffer.from(a), Buffer.from(b), ['body'], new FieldMatcher(ignore), sink)
  return sink.examples
}

const text = (lines: string[]): string => lines.join('\n') + '\n'
const numbered = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${i}`)

function captured(body: string, headers: IncomingHttpHeaders): CapturedResponse {
  const buf = Buffer.from(body)
  return { status: 200, headers, body: buf, length: buf.length, truncated: false, latencyMs: 1 }
}

describe('isTextType', () => {
  it('text/*, xml, javascript and form bodies are text; JSON, binary and none are not', () => {
    for (const ct of ['text/plain', 'text/html; charset=utf-8', 'TEXT/CSV', 'application/xml', 'application/atom+xml', 'image/svg+xml', 'application/javascript', 'application/x-www-form-urlencoded']) {
      expect(isTextType({ 'content-type': ct })).toBe(true)
    }
    for (const ct of ['application/json', 'application/octet-stream', 'image/png', 'application/xml-dtd', 'application/javascriptx', '']) {
      expect(isTextType({ 'content-type': ct })).toBe(false)
    }
    expect(isTextType({})).toBe(false)
  })
})

describe('textDiff', () => {
  it('names exactly the two lines that differ, 0-based, with both texts', () => {
    const a = numbered(40)
    const b = [...a]
    b[3] = 'line three'
    b[30] = 'line thirty'
    expect(diff(text(a), text(b))).toEqual([
      { path: ['body', 3], kind: 'changed', a: 'line 3', b: 'line three' },
      { path: ['body', 30], kind: 'changed', a: 'line 30', b: 'line thirty' },
    ])
  })

  it('an inserted line is one extra line (at its index in the secondary), not a shifted rest', () => {
    const a = numbered(20)
    const b = [...a.slice(0, 5), 'new', ...a.slice(5)]
    expect(diff(text(a), text(b))).toEqual([{ path: ['body', 5], kind: 'extra', a: undefined, b: 'new' }])
  })

  it('a removed line is one missing line; removed and added runs pair up as changed', () => {
    const a = numbered(20)
    expect(diff(text(a), text(a.filter((_, i) => i !== 7)))).toEqual([{ path: ['body', 7], kind: 'missing', a: 'line 7', b: undefined }])
    const b = [...a.slice(0, 4), 'x', 'y', 'z', ...a.slice(6)]
    expect(diff(text(a), text(b))).toEqual([
      { path: ['body', 4], kind: 'changed', a: 'line 4', b: 'x' },
      { path: ['body', 5], kind: 'changed', a: 'line 5', b: 'y' },
      { path: ['body', 6], kind: 'extra', a: undefined, b: 'z' },
    ])
  })

  it('a line appended at the end and a missing final newline are reported', () => {
    expect(diff('a\nb\n', 'a\nb\nc\n')).toEqual([{ path: ['body', 2], kind: 'extra', a: undefined, b: 'c' }])
    expect(diff('a\nb\n', 'a\nb')).toEqual([{ path: ['body', 2], kind: 'missing', a: '', b: undefined }])
  })

  it('line endings are compared: CRLF against LF differs', () => {
    expect(diff('a\r\nb\r\n', 'a\nb\n').map((d) => d.path)).toEqual([
      ['body', 0],
      ['body', 1],
    ])
  })

  it('compares bytes, not a lossy decode: different invalid UTF-8 bytes still differ', () => {
    const d = diff(Buffer.from([0x61, 0xe9, 0x0a]), Buffer.from([0x61, 0xe8, 0x0a]))
    expect(d.map((x) => x.path)).toEqual([['body', 0]])
    expect(diff('žluť\n', 'žluť\n')).toEqual([])
    expect(diff('žluť\n', 'žlutá\n')).toEqual([{ path: ['body', 0], kind: 'changed', a: 'žluť', b: 'žlutá' }])
  })

  it('ignoring a reported path removes exactly that line', () => {
    const a = numbered(10)
    const b = a.map((l, i) => (i === 2 || i === 8 ? `${l}!` : l))
    expect(diff(text(a), text(b), ['body[2]']).map((d) => d.path)).toEqual([['body', 8]])
    expect(diff(text(a), text(b), ['body[*]'])).toEqual([])
  })

  it('keeps at most the example bound in full and counts every differing line', () => {
    const a = numbered(100)
    expect(diff(text(a), text(a.map((l) => `${l}?`)), [], 5)).toHaveLength(5)
    const sink = new DifferenceSink(5)
    textDiff(Buffer.from(text(a)), Buffer.from(text(a.map((l) => `${l}?`))), ['body'], new FieldMatcher(), sink)
    expect(sink.total).toBe(100)
    expect([...sink.groups.values()]).toEqual([{ path: 'body[*]', kind: 'changed', count: 100, leaf: false }])
  })

  it('past MAX_LINE_EDITS edits it compares the rest line by line, still bounded', () => {
    const n = MAX_LINE_EDITS * 2
    const a = numbered(n)
    const b = a.map((l, i) => (i % 2 === 0 ? `other ${i}` : l))
    const d = diff(text(a), text(b))
    expect(d).toHaveLength(n / 2)
    expect(d.every((x) => x.kind === 'changed' && typeof x.path[1] === 'number' && x.path[1] % 2 === 0)).toBe(true)
  })
})

describe('compareResponses on text bodies', () => {
  const opts = compileCompareOptions(undefined)
  const csv = (rows: string[]) => captured(text(rows), { 'content-type': 'text/csv' })

  it('two text answers differing in 2 lines report exactly those 2 lines', () => {
    const rows = numbered(50)
    const other = rows.map((r, i) => (i === 10 || i === 49 ? `${r},changed` : r))
    const r = compareResponses(csv(rows), csv(other), opts)
    expect(r.differences.map(differencePath)).toEqual(['body[10]', 'body[49]'])
    expect(r.truncated).toBe(false)
  })

  it('a text answer against a binary one is compared by digest', () => {
    const r = compareResponses(csv(['a']), captured('a\n', { 'content-type': 'application/octet-stream' }), opts)
    expect(r.differences).toEqual([])
    expect(compareResponses(csv(['a']), captured('b\n', { 'content-type': 'application/octet-stream' }), opts).differences.map(differencePath)).toEqual(['body'])
  })

  it('a truncated text capture is compared by digest, as too-large', () => {
    const big = { ...csv(['a', 'b']), length: 10_000, truncated: true }
    const r = compareResponses(big, csv(['a', 'c']), opts)
    expect(r.differences.map((d) => [differencePath(d), d.kind])).toEqual([['body', 'too-large']])
  })

  it('noise learning never learns a text line (it would be body[*], the whole body)', () => {
    const l = new NoiseLearner()
    expect(l.learn(csv(['id,ts', '1,100']), csv(['id,ts', '1,200']), opts)).toEqual([])
    expect(compareResponses(csv(['id,ts', '1,100']), csv(['id,ts', '2,100']), opts, l.fields).differences.map(differencePath)).toEqual(['body[1]'])
  })
})
