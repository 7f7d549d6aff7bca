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
    const dot = to.indexOf('.')
    const kind = to.slice(0, dot)
    const rest = to.slice(dot + 1)
    return {
      from: parseFieldPath(from),
      to: kind === 'header' ? { kind: 'header', name: rest.toLowerCase() } : { kind: 'body', path: parseFieldPath(rest) },
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
    v = (v as Record<string | number, unknown>)[path[i] as string | number]
  }
  if (v === null || typeof v !== 'object') return false
  ;(v as Record<string | number, unknown>)[path[path.length - 1] as string | number] = value
  return true
}
