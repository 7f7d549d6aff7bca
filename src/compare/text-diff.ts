import type { CapturedResponse } from './captured-response.ts'
import { diffArrays } from 'diff'
import type { FieldMatcher, Segment } from './field-path.ts'
import type { DifferenceKind, DifferenceSink } from './json-diff.ts'

/**
 * Beyond this many inserted plus deleted lines the two bodies are not aligned any more (that
 * costs O(lines × edits)); the rest is compared line by line at the same index.
 */
export const MAX_LINE_EDITS = 200

const TEXT_TYPE = /^\s*(?:text\/[^;\s]+|application\/(?:xml|javascript|x-www-form-urlencoded)|[^/;\s]+\/[^;\s]+\+xml)\s*(?:;|$)/i

/** `text/*`, `application/xml`, `…+xml`, `application/javascript`, form-urlencoded. */
export function isTextType(headers: CapturedResponse['headers']): boolean {
  const ct = headers['content-type']
  return typeof ct === 'string' && TEXT_TYPE.test(ct)
}

/** A body that is compared by lines: a text type, complete, and decoded (or never encoded). */
export function comparableText(r: CapturedResponse): boolean {
  return !r.truncated && r.decoding?.outcome !== 'undecodable' && isTextType(r.headers)
}

/**
 * Lines split at `\n`, as latin1 strings: one character per byte, so that two lines are equal
 * only when their bytes are (a UTF-8 decode would map different invalid bytes to one U+FFFD).
 * A `\r` before the `\n` stays part of the line; a body ending in `\n` has an empty last line.
 */
function lines(body: Buffer): string[] {
  return body.toString('latin1').split('\n')
}

function shown(line: string | undefined): string | undefined {
  return line === undefined ? undefined : Buffer.from(line, 'latin1').toString('utf8')
}

/**
 * Compares two text bodies line by line (jsdiff's Myers diff over the lines). A line only the
 * primary has is `missing`, one only the secondary has is `extra`, and a run of removed lines
 * facing a run of added ones pairs up as `changed`. Paths are `body[N]`, N the 0-based line number
 * in the primary's body (for `extra`, in the secondary's), values the lines' text. Past
 * MAX_LINE_EDITS edits the bodies are compared line by line at the same index instead.
 */
export function textDiff(a: Buffer, b: Buffer, root: readonly Segment[], ignore: FieldMatcher, sink: DifferenceSink): void {
  if (a.equals(b)) return
  const la = lines(a)
  const lb = lines(b)
  const push = (line: number, kind: DifferenceKind, va: string | undefined, vb: string | undefined): void => {
    const path = [...root, line]
    if (!ignore.matches(path)) sink.add(path, kind, shown(va), shown(vb))
  }
  const changes = diffArrays(la, lb, { maxEditLength: MAX_LINE_EDITS })
  if (changes === undefined) {
    for (let i = 0; i < Math.max(la.length, lb.length); i++) {
      const va = la[i]
      const vb = lb[i]
      if (va !== vb) push(i, va === undefined ? 'extra' : vb === undefined ? 'missing' : 'changed', va, vb)
    }
    return
  }
  let i = 0
  let j = 0
  for (let c = 0; c < changes.length; c++) {
    const change = changes[c] as (typeof changes)[number]
    const n = change.count
    if (!change.added && !change.removed) {
      i += n
      j += n
      continue
    }
    // jsdiff puts a removal before the addition it faces: pair them line by line as `changed`
    const next = changes[c + 1]
    if (change.removed && next?.added === true) {
      const paired = Math.min(n, next.count)
      for (let p = 0; p < paired; p++) push(i + p, 'changed', la[i + p], lb[j + p])
      for (let p = paired; p < n; p++) push(i + p, 'missing', la[i + p], undefined)
      for (let p = paired; p < next.count; p++) push(j + p, 'extra', undefined, lb[j + p])
      i += n
      j += next.count
      c++
    } else if (change.removed) {
      for (let p = 0; p < n; p++) push(i + p, 'missing', la[i + p], undefined)
      i += n
    } else {
      for (let p = 0; p < n; p++) push(j + p, 'extra', undefined, lb[j + p])
      j += n
    }
  }
}
