import type { BodyOpConfig } from '../config/schema.ts'
import { EACH, parsePath, type Segment } from './path.ts'

/** One step on a JSON value; the steps of a transform run in order. */
export type BodyOp = (value: unknown) => unknown

export function compileBodyOps(ops: readonly BodyOpConfig[]): BodyOp[] {
  return ops.map(compileOp)
}

/** Runs the steps over a JSON body; null when it does not parse (then it is left as sent). */
export function applyBodyOps(ops: readonly BodyOp[], body: Buffer): Buffer | null {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    return null
  }
  for (const op of ops) value = op(value)
  return Buffer.from(JSON.stringify(value))
}

function compileOp(op: BodyOpConfig): BodyOp {
  if ('unwrap' in op) {
    const path = parsePath(op.unwrap)
    return (v) => getPath(v, path)
  }
  if ('wrap' in op) {
    const key = op.wrap
    return (v) => ({ [key]: v })
  }
  if ('drop' in op) {
    const path = parsePath(op.drop)
    return (v) => (forEachParent(v, path, (parent, key) => void delete parent[key]), v)
  }
  if ('rename' in op) {
    const path = parsePath(op.rename)
    const to = op.to
    return (v) =>
      (forEachParent(v, path, (parent, key) => {
        if (!(key in parent)) return
        parent[to] = parent[key]
        delete parent[key]
      }),
      v)
  }
  const from = parsePath(op.move)
  const to = parsePath(op.to)
  return (v) => {
    const value = getPath(v, from)
    if (value === undefined) return v
    forEachParent(v, from, (parent, key) => void delete parent[key])
    setPath(v, to, value)
    return v
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function getPath(v: unknown, path: readonly Segment[]): unknown {
  let cur = v
  for (const seg of path) {
    if (seg === EACH || !isObject(cur)) return undefined
    cur = cur[seg]
  }
  return cur
}

function setPath(v: unknown, path: readonly Segment[], value: unknown): void {
  let cur = v
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as Segment
    if (seg === EACH || !isObject(cur)) return
    if (!isObject(cur[seg])) cur[seg] = {}
    cur = cur[seg]
  }
  const last = path[path.length - 1]
  if (isObject(cur) && typeof last === 'string') cur[last] = value
}

/** Calls `fn(parent, key)` for every object the path's last key lives in (fanning out at `[*]`). */
function forEachParent(v: unknown, path: readonly Segment[], fn: (parent: Record<string, unknown>, key: string) => void): void {
  const last = path[path.length - 1]
  if (typeof last !== 'string') return
  const walk = (cur: unknown, i: number): void => {
    if (i === path.length - 1) {
      if (isObject(cur)) fn(cur, last)
      return
    }
    const seg = path[i] as Segment
    if (seg === EACH) {
      if (Array.isArray(cur)) for (const item of cur) walk(item, i + 1)
    } else if (isObject(cur)) walk(cur[seg], i + 1)
  }
  walk(v, 0)
}
