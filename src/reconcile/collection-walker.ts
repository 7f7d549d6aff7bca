import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { request } from 'undici'
import { parseFieldPath, type Segment } from '../compare/field-path.ts'
import { getPath } from '../mirror/propagate.ts'
import type { CollectionSpec } from './collection-spec.ts'
import { nextLink } from './link-header.ts'

/** Largest page body read (decoded): a page is parsed whole, so this bounds memory per request. */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024

export interface WalkOptions {
  /** extra request headers (credentials), for every request */
  readonly headers: Readonly<Record<string, string>>
  readonly maxPages: number
  /** the whole run's deadline */
  readonly signal: AbortSignal
  readonly progress?: (side: string, pages: number, items: number) => void
}

export type WalkStop = 'end' | 'max-pages' | 'timeout' | 'error'

export interface WalkResult {
  /** id (as a string) → item, in the order read; a repeated id keeps the last copy */
  readonly items: Map<string, unknown>
  pages: number
  /** items whose id field is missing or not a string or number: they cannot be matched */
  withoutId: number
  stop: WalkStop
  error?: string
}

export interface Page {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  /** the body as parsed JSON, or as text when `json` is false (or undefined when empty) */
  readonly body: unknown
  readonly json: boolean
}

function decode(buf: Buffer, encoding: string | string[] | undefined): Buffer {
  const e = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? '')).trim().toLowerCase()
  const opts = { maxOutputLength: MAX_PAGE_BYTES }
  if (e === '' || e === 'identity') return buf
  if (e === 'gzip' || e === 'x-gzip') return gunzipSync(buf, opts)
  if (e === 'deflate') return inflateSync(buf, opts)
  if (e === 'br') return brotliDecompressSync(buf, opts)
  throw new Error(`content-encoding '${e}' is not supported`)
}

/** One request expecting JSON; a body over MAX_PAGE_BYTES is an error, not truncated. */
export async function requestJson(
  url: string,
  init: { method?: string; headers: Readonly<Record<string, string>>; body?: string; signal: AbortSignal; timeoutMs: number },
): Promise<Page> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    // identity first: a compressed page is still decoded below when a server ignores it
    headers: { accept: 'application/json', 'accept-encoding': 'identity', ...init.headers, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body,
    signal: init.signal,
    headersTimeout: init.timeoutMs,
    bodyTimeout: init.timeoutMs,
  })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length
    if (size > MAX_PAGE_BYTES) {
      res.body.destroy()
      throw new Error(`answer is over ${MAX_PAGE_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  const text = decode(Buffer.concat(chunks), res.headers['content-encoding']).toString('utf8')
  let body: unknown = undefined
  let json = true
  if (text !== '') {
    try {
      body = JSON.parse(text)
    } catch {
      body = text
      json = false
    }
  }
  return { status: res.statusCode, headers: res.headers, body, json }
}

function withQuery(path: string, params: Record<string, string | number>): string {
  const q = path.indexOf('?')
  const search = new URLSearchParams(q < 0 ? '' : path.slice(q + 1))
  for (const [k, v] of Object.entries(params)) search.set(k, String(v))
  const s = search.toString()
  return (q < 0 ? path : path.slice(0, q)) + (s === '' ? '' : `?${s}`)
}

export function idOf(item: unknown, path: readonly Segment[]): string | undefined {
  let v: unknown = item
  for (const s of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[s]
  }
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined
}

/**
 * Reads a collection page by page until its end, `maxPages` or the deadline. Stops on an empty
 * page; with page/limit pagination also on a page shorter than an earlier one (a server that caps
 * `limit` below the asked size then still gets read to the end, at the cost of one empty page).
 */
export async function walkCollection(spec: CollectionSpec, opts: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = { items: new Map(), pages: 0, withoutId: 0, stop: 'end' }
  const p = spec.pagination
  let path: string | undefined =
    p.style === 'page'
      ? withQuery(spec.listPath, { [p.pageParam]: p.firstPage, [p.limitParam]: p.pageSize })
      : p.style !== 'none' && p.limitParam !== undefined
        ? withQuery(spec.listPath, { [p.limitParam]: p.pageSize })
        : spec.listPath
  let pageNo = p.style === 'page' ? p.firstPage : 0
  let longest = 0
  const cursorPath = p.style === 'cursor' ? parseFieldPath(p.next) : []
  const seen = new Set<string>()
  while (path !== undefined) {
    if (result.pages >= opts.maxPages) {
      result.stop = 'max-pages'
      break
    }
    if (opts.signal.aborted) {
      result.stop = 'timeout'
      break
    }
    let page: Page
    try {
      page = await requestJson(spec.origin + path, { headers: opts.headers, signal: opts.signal, timeoutMs: spec.timeoutMs })
    } catch (err) {
      if (opts.signal.aborted) result.stop = 'timeout'
      else {
        result.stop = 'error'
        result.error = `GET ${path}: ${(err as Error).message}`
      }
      break
    }
    if (page.status < 200 || page.status >= 300) {
      result.stop = 'error'
      result.error = `GET ${path}: status ${page.status}`
      break
    }
    if (!page.json) {
      result.stop = 'error'
      result.error = `GET ${path}: the answer is not JSON`
      break
    }
    const items = getPath({ status: page.status, headers: page.headers, body: page.body }, spec.items)
    if (!Array.isArray(items)) {
      result.stop = 'error'
      result.error = `GET ${path}: no array of items at the items path`
      break
    }
    result.pages++
    for (const item of items) {
      const id = idOf(item, spec.id)
      if (id === undefined) result.withoutId++
      else {
        result.items.delete(id) // re-insert: the later copy wins and sits in read order
        result.items.set(id, item)
      }
    }
    opts.progress?.(spec.side, result.pages, result.items.size)
    if (items.length === 0) break
    let next: string | undefined
    if (p.style === 'page') {
      if (items.length < longest) break
      longest = Math.max(longest, items.length)
      pageNo++
      next = withQuery(spec.listPath, { [p.pageParam]: pageNo, [p.limitParam]: p.pageSize })
    } else if (p.style === 'cursor') {
      const cursor = getPath({ status: page.status, headers: page.headers, body: page.body }, cursorPath)
      if (cursor === undefined || cursor === null || cursor === '') break
      next = withQuery(path, { [p.cursorParam]: String(cursor) })
    } else if (p.style === 'link') {
      const link = nextLink(page.headers.link)
      if (link === undefined) break
      const linked: URL = new URL(link, spec.origin + path)
      // never send the operator's credentials to a host the config does not name
      if (linked.origin !== spec.origin) {
        result.stop = 'error'
        result.error = `GET ${path}: next link points to another origin (${linked.origin})`
        break
      }
      next = linked.pathname + linked.search
    }
    if (next !== undefined && seen.has(next)) {
      result.stop = 'error'
      result.error = `GET ${path}: the next page repeats an earlier one (${next})`
      break
    }
    if (next !== undefined) seen.add(next)
    path = next
  }
  return result
}
