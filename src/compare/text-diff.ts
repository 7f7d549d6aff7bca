import type { CapturedResponse } from './captured-response.ts'
import type { Segment } from './field-path.ts'
import type { JsonDiffOptions, RawDifference } from './json-diff.ts'

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

type Edit = { readonly op: 'del'; readonly i: number } | { readonly op: 'ins'; readonly j: number } | { readonly op: 'same' }

/**
 * Myers' O((N+M)·D) diff (E. Myers, "An O(ND) Difference Algorithm and Its Variations", 1986)
 * of a[lo..ha) and b[lo..hb): the edit script in order, or null when it needs more than maxD
 * edits. Keeps one V row per edit step, only its used diagonals: O(D²) memory.
 */
function myers(a: readonly string[], b: readonly string[], lo: number, ha: number, hb: number, maxD: number): Edit[] | null {
  const n = ha - lo
  const m = hb - lo
  const off = maxD + 1
  const v = new Int32Array(2 * maxD + 3)
  const trace: Int32Array[] = []
  for (let d = 0; d <= maxD; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number)) ? (v[off + k + 1] as number) : (v[off + k - 1] as number) + 1
      let y = x - k
      while (x < n && y < m && a[lo + x] === b[lo + y]) {
        x++
        y++
      }
      v[off + k] = x
      if (x >= n && y >= m) {
        trace.push(v.slice(off - d, off + d + 1))
        return backtrack(trace, n, m, lo)
      }
    }
    trace.push(v.slice(off - d, off + d + 1))
  }
  return null
}

function backtrack(trace: readonly Int32Array[], n: number, m: number, lo: number): Edit[] {
  const out: Edit[] = []
  let x = n
  let y = m
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1] as Int32Array
    // prev holds diagonals -(d-1)..(d-1)
    const at = (k: number): number => prev[k + d - 1] as number
    const k = x - y
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1))
    const pk = down ? k + 1 : k - 1
    const px = at(pk)
    const py = px - pk
    const sx = down ? px : px + 1
    while (x > sx) {
      out.push({ op: 'same' })
      x--
      y--
    }
    out.push(down ? { op: 'ins', j: lo + py } : { op: 'del', i: lo + px })
    x = px
    y = py
  }
  return out.reverse()
}

/**
 * Compares two text bodies line by line. A line only the primary has is `missing`, one only the
 * secondary has is `extra`, and a run of removed lines facing a run of added ones pairs up as
 * `changed`. Paths are `body[N]`, N the 0-based line number in the primary's body (for `extra`,
 * in the secondary's), values the lines' text. Stops at `opts.limit` differences.
 */
export function textDiff(a: Buffer, b: Buffer, root: readonly Segment[], opts: Pick<JsonDiffOptions, 'ignore' | 'limit'>, out: RawDifference[]): void {
  if (a.equals(b)) return
  const la = lines(a)
  const lb = lines(b)
  const push = (path: Segment[], kind: RawDifference['kind'], va: string | undefined, vb: string | undefined): void => {
    if (out.length >= opts.limit) return
    for (const m of opts.ignore) if (m.matches(path)) return
    out.push({ path, kind, a: shown(va), b: shown(vb) })
  }
  // the common head and tail are most of a typical body: trim them before aligning the rest
  let lo = 0
  while (lo < la.length && lo < lb.length && la[lo] === lb[lo]) lo++
  let ha = la.length
  let hb = lb.length
  while (ha > lo && hb > lo && la[ha - 1] === lb[hb - 1]) {
    ha--
    hb--
  }
  const edits = myers(la, lb, lo, ha, hb, MAX_LINE_EDITS)
  if (edits === null) {
    for (let i = lo; i < Math.max(ha, hb) && out.length < opts.limit; i++) {
      const va = i < ha ? la[i] : undefined
      const vb = i < hb ? lb[i] : undefined
      if (va !== vb) push([...root, i], va === undefined ? 'extra' : vb === undefined ? 'missing' : 'changed', va, vb)
    }
    return
  }
  let dels: number[] = []
  let ins: number[] = []
  const flush = (): void => {
    const paired = Math.min(dels.length, ins.length)
    for (let p = 0; p < paired; p++) push([...root, dels[p] as number], 'changed', la[dels[p] as number], lb[ins[p] as number])
    for (let p = paired; p < dels.length; p++) push([...root, dels[p] as number], 'missing', la[dels[p] as number], undefined)
    for (let p = paired; p < ins.length; p++) push([...root, ins[p] as number], 'extra', undefined, lb[ins[p] as number])
    dels = []
    ins = []
  }
  for (const e of edits) {
    if (e.op === 'del') dels.push(e.i)
    else if (e.op === 'ins') ins.push(e.j)
    else flush()
  }
  flush()
}
