import { parseFieldPath, type Segment } from '../compare/field-path.ts'

/**
 * Values the secondary needs from the primary's answer: `{ from: 'body.id', to: 'header.x-id' }`
 * copies the id the primary generated into the mirrored request, so both stores agree on it.
 */
export interface Propagation {
  readonly from: Segment[]
  readonly to: { readonly kind: 'header'; readonly name: string } | { readonly kind: 'body'; readonly path: Segment[] }
}

export function compilePropagations(list: readonly { from: string; to: string }[] | undefined): Propagation[] {
  return (list ?? []).map(({ from, to }) => {
    const header = /^headers?\.(.+)$/.exec(to)
    return {
      from: parseFieldPath(from),
      // a body target keeps its `body` root: setPath writes into { body: request JSON }
      to: header !== null ? { kind: 'header', name: (header[1] as string).toLowerCase() } : { kind: 'body', path: parseFieldPath(to) },
    }
  })
}

export function getPath(root: { body: unknown; headers: Record<string, unknown>; status: number }, path: readonly Segment[]): unknown {
  let v: unknown = root
  for (const s of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[s]
  }
  return v
}

export function setPath(target: unknown, path: readonly Segment[], value: unknown): boolean {
  let v: unknown = target
  for (let i = 0; i < path.length - 1; i++) {
    if (v === null || typeof v !== 'object') return false
    const o = v as Record<string | number, unknown>
    const key = path[i] as string | number
    // a missing object on the way is made (`to: 'body.meta.id'` into a body without `meta`)
    if (o[key] === undefined && typeof path[i + 1] === 'string') o[key] = {}
    v = o[key]
  }
  if (v === null || typeof v !== 'object') return false
  ;(v as Record<string | number, unknown>)[path[path.length - 1] as string | number] = value
  return true
}
