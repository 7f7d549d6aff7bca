import { createHash } from 'node:crypto'
import { parseFieldPath, type Segment } from '../compare/field-path.ts'
import type { IdMap, Side } from '../ids/id-map.ts'
import { getPath, setPath } from '../mirror/propagate.ts'
import type { CollectionFindings } from './collection-diff.ts'
import type { CollectionSpec } from './collection-spec.ts'
import { idOf, requestJson, type WalkResult } from './collection-walker.ts'

/** Repairs sent at once per route: enough to hide latency, few enough not to load the backend. */
export const REPAIR_CONCURRENCY = 8

export interface RepairOptions {
  readonly map: string
  readonly source: CollectionSpec
  readonly target: CollectionSpec
  readonly method: 'PUT' | 'PATCH'
  /** where a create's answer carries the new id (the route's `ids.from`), e.g. `body.id`, `headers.location` */
  readonly createdId?: string
  readonly ids: IdMap
  readonly headers: Readonly<Record<string, string>>
  readonly signal: AbortSignal
  /** also DELETE the target's extra items */
  readonly extra: boolean
}

export interface RepairFailure {
  readonly action: 'update' | 'create' | 'delete'
  readonly id: string
  readonly reason: string
}

export interface RepairSummary {
  updated: number
  created: number
  deleted: number
  readonly failed: RepairFailure[]
  /** pairs recorded in the id map for created items: source id → new target id */
  readonly paired: { source: string; target: string }[]
}

/**
 * RFC 9562 version-8 UUID from SHA-256 of (route, id, content): a rerun sends the same key for the
 * same change, so a backend that honours Idempotency-Key applies it once, and a changed source
 * item gets a new key.
 */
export function repairKey(route: string, id: string, content: string): string {
  const h = createHash('sha256').update(`${route}\0${id}\0`).update(createHash('sha256').update(content).digest()).digest('hex')
  const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** The source's item as the target should hold it: the target's id (its own value, type kept) in the target's id field. */
function bodyFor(item: unknown, opts: RepairOptions, targetIdValue: unknown): unknown {
  const copy = structuredClone(item) as Record<string, unknown>
  const sourceId = opts.source.id
  if (!samePath(sourceId, opts.target.id) && sourceId.length === 1) delete copy[sourceId[0] as string]
  if (targetIdValue !== undefined) setPath(copy, opts.target.id, targetIdValue)
  return copy
}

function samePath(a: readonly Segment[], b: readonly Segment[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i])
}

/** The new id a create answered with: `createdId` if the route names it, else the item id field, else Location's last segment. */
function createdIdOf(answer: { headers: Record<string, string | string[] | undefined>; body: unknown }, opts: RepairOptions): string | undefined {
  if (opts.createdId !== undefined) {
    const path = parseFieldPath(opts.createdId)
    const v = getPath({ status: 0, headers: answer.headers, body: answer.body }, path)
    if (typeof v === 'string' || typeof v === 'number') return path[0] === 'headers' ? lastSegment(String(v)) : String(v)
    return undefined
  }
  const fromBody = idOf(answer.body, opts.target.id)
  if (fromBody !== undefined) return fromBody
  const location = answer.headers.location
  return typeof location === 'string' ? lastSegment(location) : undefined
}

function lastSegment(location: string): string | undefined {
  const path = new URL(location, 'http://x').pathname.replace(/\/$/, '')
  const seg = path.slice(path.lastIndexOf('/') + 1)
  return seg === '' ? undefined : decodeURIComponent(seg)
}

async function pool<T>(work: readonly T[], fn: (w: T) => Promise<void>): Promise<void> {
  let next = 0
  const run = async (): Promise<void> => {
    while (next < work.length) await fn(work[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(REPAIR_CONCURRENCY, work.length) }, run))
}

/**
 * Sends the source's version of every differing item (`repairMethod` to the target's item path)
 * and of every missing item (POST to the target's list path, recording the new id pair), and with
 * `extra` deletes the target's extra items. Never deletes otherwise.
 */
export async function repair(findings: CollectionFindings, source: WalkResult, target: WalkResult, opts: RepairOptions): Promise<RepairSummary> {
  const summary: RepairSummary = { updated: 0, created: 0, deleted: 0, failed: [], paired: [] }
  const route = opts.target.route
  const createPath = opts.target.listPath.split('?')[0] as string
  const send = async (action: RepairFailure['action'], id: string, method: string, path: string | undefined, body: unknown, keyId: string): Promise<{ headers: Record<string, string | string[] | undefined>; body: unknown } | undefined> => {
    if (path === undefined) {
      summary.failed.push({ action, id, reason: 'the route has no reconcile.item path' })
      return undefined
    }
    const text = body === undefined ? undefined : JSON.stringify(body)
    try {
      const answer = await requestJson(opts.target.origin + path, {
        method,
        headers: { ...opts.headers, 'idempotency-key': repairKey(route, keyId, `${method}\0${text ?? ''}`) },
        ...(text === undefined ? {} : { body: text }),
        signal: opts.signal,
        timeoutMs: opts.target.timeoutMs,
      })
      if (answer.status >= 200 && answer.status < 300) return answer
      summary.failed.push({ action, id, reason: `${method} ${path}: status ${answer.status}` })
    } catch (err) {
      summary.failed.push({ action, id, reason: `${method} ${path}: ${(err as Error).message}` })
    }
    return undefined
  }

  await pool(findings.differs, async (d) => {
    const body = bodyFor(source.items.get(d.id), opts, getPath({ status: 0, headers: {}, body: target.items.get(d.targetId) }, ['body', ...opts.target.id]))
    if ((await send('update', d.id, opts.method, opts.target.itemPath(d.targetId), body, d.targetId)) !== undefined) summary.updated++
  })
  await pool(findings.missing, async (id) => {
    const answer = await send('create', id, 'POST', createPath, source.items.get(id), `create\0${id}`)
    if (answer === undefined) return
    summary.created++
    const created = createdIdOf(answer, opts)
    if (created === undefined) {
      summary.failed.push({ action: 'create', id, reason: 'created, but the answer carries no id to pair (set ids.from)' })
      return
    }
    if (created === id) return // the target kept the id: items match by equal id
    const side: Side = opts.source.side
    opts.ids.record({ map: opts.map, legacy: side === 'legacy' ? id : created, cloud: side === 'cloud' ? id : created })
    summary.paired.push({ source: id, target: created })
  })
  if (opts.extra) {
    await pool(findings.extra, async (id) => {
      if ((await send('delete', id, 'DELETE', opts.target.itemPath(id), undefined, `delete\0${id}`)) !== undefined) summary.deleted++
    })
  }
  return summary
}
