import { z } from 'zod'
import { parseFieldPath, parseItemPath } from '../compare/field-path.ts'
import { compilePathPattern } from '../routing/path-pattern.ts'

/**
 * A route's `reconcile` section: how `cutover reconcile` reads the collection behind the route on
 * each backend (list path, where the items are in a page, the id field, pagination) and how it
 * repairs one item. Everything can be overridden per backend (`backends.cloud.items`), because a
 * rewrite usually changes the envelope and the pagination along with the path.
 */
export const DEFAULT_PAGE_SIZE = 100
export const DEFAULT_REPAIR_METHOD = 'PUT'

/** A field path rooted at one of `roots` (`body.data`, `headers.x-next`), in the one field-path grammar. */
function fieldPathFrom(roots: readonly string[]): z.ZodType<string> {
  const hint = `must be a field path starting with ${roots.map((r) => `'${r}'`).join(' or ')}, e.g. '${roots[0]}.data'`
  return z.string('must be a field path').superRefine((p, ctx) => {
    try {
      if (!roots.includes(String(parseFieldPath(p)[0]))) ctx.addIssue({ code: 'custom', message: hint })
    } catch {
      ctx.addIssue({ code: 'custom', message: hint })
    }
  })
}

/** A path inside an item (`id`, `meta.key`): the item is the root, so no `body.` in front. */
const itemField = z.string('must be a field path inside an item, e.g. \'id\'').superRefine((p, ctx) => {
  try {
    const segments = parseItemPath(p)
    if (segments.length === 0 || typeof segments[0] !== 'string' || segments.includes('*')) throw new Error()
  } catch {
    ctx.addIssue({ code: 'custom', message: "must be a field path inside an item without wildcards, e.g. 'id' or 'meta.key'" })
  }
})

const listPath = z.string('must be a path').regex(/^\/[^\s#]*$/, "must be a path starting with '/' (a query string is allowed)")
const itemTemplate = z
  .string('must be a path template')
  .regex(/^\/[^\s?#]*$/, "must be a path starting with '/', without a query string")
  .refine((t) => t.includes(':id'), "must contain ':id' where the item's id goes")
const param = z.string('must be a query parameter name').regex(/^[^\s&=#]+$/, 'must be a query parameter name')
const pageSize = z.int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000')

export const paginationSchema = z.discriminatedUnion(
  'style',
  [
    z.strictObject({
      style: z.literal('page'),
      pageParam: param.default('page'),
      limitParam: param.default('limit'),
      pageSize: pageSize.default(DEFAULT_PAGE_SIZE),
      firstPage: z.int('must be an integer').min(0, 'must be 0 or more').default(1),
    }),
    z.strictObject({
      style: z.literal('cursor'),
      cursorParam: param.default('cursor'),
      next: fieldPathFrom(['body', 'headers']),
      limitParam: param.optional(),
      pageSize: pageSize.default(DEFAULT_PAGE_SIZE),
    }),
    z.strictObject({ style: z.literal('link'), limitParam: param.optional(), pageSize: pageSize.default(DEFAULT_PAGE_SIZE) }),
    z.strictObject({ style: z.literal('none') }),
  ],
  { error: "must be { style: 'page' | 'cursor' | 'link' | 'none', … }" },
)

const sideSchema = z.strictObject({
  list: listPath.optional(),
  items: fieldPathFrom(['body']).optional(),
  id: itemField.optional(),
  pagination: paginationSchema.optional(),
  item: itemTemplate.optional(),
})

export const reconcileSchema = z.strictObject({
  /** client-facing list path; the route's rewrite for a backend applies when it matches the route path */
  list: listPath,
  items: fieldPathFrom(['body']).default('body'),
  id: itemField.default('id'),
  pagination: paginationSchema,
  /** client-facing path template of one item, for --repair */
  item: itemTemplate.optional(),
  repairMethod: z.enum(['PUT', 'PATCH'], "must be 'PUT' or 'PATCH'").default(DEFAULT_REPAIR_METHOD),
  /** item fields left out of the comparison, on top of the route's compare.ignore (`body.updatedAt`) */
  ignore: z.array(fieldPathFrom(['body'])).default([]),
  backends: z.strictObject({ legacy: sideSchema.optional(), cloud: sideSchema.optional() }).optional(),
})

export type ReconcileInput = z.input<typeof reconcileSchema>

/**
 * Problems a route's `reconcile` section has with the route around it: a client-facing list or
 * item path that the route path does not match cannot get the route's rewrite for a backend, so
 * it must be overridden for that backend rather than silently sent unrewritten.
 */
export function reconcileProblems(route: { path: string; rewrite?: Readonly<Record<string, string>> | undefined; reconcile?: z.output<typeof reconcileSchema> | undefined }): { path: (string | number)[]; message: string }[] {
  const r = route.reconcile
  if (r === undefined || route.rewrite === undefined) return []
  let pattern: ReturnType<typeof compilePathPattern>
  try {
    pattern = compilePathPattern(route.path)
  } catch {
    return [] // already reported on the route's path
  }
  const out: { path: (string | number)[]; message: string }[] = []
  for (const backend of ['legacy', 'cloud'] as const) {
    if (route.rewrite[backend] === undefined) continue
    const side = r.backends?.[backend]
    // zod runs this refinement even when the section had other problems: check only well-formed paths
    if (side?.list === undefined && listPath.safeParse(r.list).success && !pattern.regex.test(r.list.split('?')[0] as string)) {
      out.push({ path: ['reconcile', 'list'], message: `does not match the route path '${route.path}', so rewrite.${backend} cannot apply: set reconcile.backends.${backend}.list` })
    }
    if (itemTemplate.safeParse(r.item).success && side?.item === undefined && !pattern.regex.test(String(r.item).replaceAll(':id', 'x'))) {
      out.push({ path: ['reconcile', 'item'], message: `does not match the route path '${route.path}', so rewrite.${backend} cannot apply: set reconcile.backends.${backend}.item` })
    }
  }
  return out
}
