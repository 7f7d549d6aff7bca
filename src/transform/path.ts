/** Paths into a JSON body for transforms: dot-separated keys, `[*]` for every element of an array. */
export type Segment = string | typeof EACH

/** `[*]`: every element of an array */
export const EACH = Symbol('each')

/** `data`, `meta.total`, `items[*].user_id`, `[*].id` → segments */
export function parsePath(path: string): Segment[] {
  const out: Segment[] = []
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\*\])*)$/.exec(part)
    if (m === null) throw new Error(`bad path '${path}'`)
    if (m[1] !== '') out.push(m[1] as string)
    for (let i = 0; i < (m[2] as string).length / 3; i++) out.push(EACH)
  }
  return out
}

