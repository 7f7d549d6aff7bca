import type { z } from 'zod'
import { CutoverError } from '../errors.ts'
import { configSchema, type CutoverConfig } from './schema.ts'

/** `['routes', 2, 'weight']` → `routes[2].weight` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out === '' ? '(root)' : out
}

/** Every problem as `path: message`, one per unknown key. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...issue.path, key])}: unknown option`)
    } else if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      // a record key that failed its own schema: that schema's message, at the key's path
      out.push(`${formatPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`)
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.message === 'Invalid input') {
      out.push(...formatIssues(issue.errors.flat()))
    } else {
      out.push(`${formatPath(issue.path)}: ${issue.message}`)
    }
  }
  return out
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Validate once, fill defaults, freeze. Throws CUTOVER_CONFIG_INVALID listing every problem. */
export function validateConfig(input: unknown): CutoverConfig {
  const result = configSchema.safeParse(input)
  if (!result.success) {
    const details = formatIssues(result.error.issues)
    throw new CutoverError('CUTOVER_CONFIG_INVALID', `configuration is invalid:\n  ${details.join('\n  ')}`, { details })
  }
  return deepFreeze(result.data) as CutoverConfig
}
