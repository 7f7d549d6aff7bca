import { readFileSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseAllDocuments } from 'yaml'

/**
 * The subset of kustomize that deploy/kubernetes/ uses, rendered without the kustomize binary
 * (nothing but the npm registry is reachable here, and CI has no cluster): `resources` (files and
 * directories), `configMapGenerator` (files, `disableNameSuffixHash`), `namespace`, `labels`
 * without selectors, and `patches` (strategic merge by target kind + name). Any other key
 * throws, so a kustomization cannot silently outgrow what this checks.
 */
export interface Resource {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  [key: string]: unknown
}

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'namespace', 'labels', 'patches'])

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export function readYamlDocs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
    return doc.toJS() as unknown
  })
}

/**
 * Strategic merge as kubectl applies it to the fields used here: maps merge key by key, a list
 * of maps that all have `name` (containers, ports, volumes, env) merges item by item on `name`,
 * any other list or scalar is replaced, `null` deletes.
 */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (isObject(target) && isObject(patch)) {
    const out: Record<string, unknown> = { ...target }
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k]
      else out[k] = k in target ? strategicMerge(target[k], v) : v
    }
    return out
  }
  const named = (l: unknown): l is { name: string }[] => Array.isArray(l) && l.every((i) => isObject(i) && typeof i.name === 'string')
  if (named(target) && named(patch)) {
    const out: unknown[] = [...target]
    for (const item of patch) {
      const at = out.findIndex((o) => (o as { name: string }).name === item.name)
      if (at === -1) out.push(item)
      else out[at] = strategicMerge(out[at], item)
    }
    return out
  }
  return patch
}

export function render(dir: string): Resource[] {
  const kFile = join(dir, 'kustomization.yaml')
  const [k] = readYamlDocs(kFile)
  if (!isObject(k)) throw new Error(`${kFile}: not a mapping`)
  for (const key of Object.keys(k)) if (!KNOWN_KEYS.has(key)) throw new Error(`${kFile}: '${key}' is not supported by this renderer`)
  if (k.kind !== 'Kustomization') throw new Error(`${kFile}: kind must be Kustomization`)

  let out: Resource[] = []
  for (const entry of (k.resources ?? []) as string[]) {
    const path = resolve(dir, entry)
    if (statSync(path).isDirectory()) out.push(...render(path))
    else out.push(...(readYamlDocs(path) as Resource[]))
  }
  for (const gen of (k.configMapGenerator ?? []) as { name: string; files: string[]; options?: { disableNameSuffixHash?: boolean } }[]) {
    // kustomize's content hash suffix is not reproduced: the base turns it off.
    if (gen.options?.disableNameSuffixHash !== true) throw new Error(`${kFile}: configMapGenerator ${gen.name} needs disableNameSuffixHash: true here`)
    const data: Record<string, string> = {}
    for (const f of gen.files) data[basename(f)] = readFileSync(resolve(dir, f), 'utf8')
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: gen.name }, data })
  }
  for (const p of (k.patches ?? []) as { path: string; target: { kind: string; name: string } }[]) {
    const [patch] = readYamlDocs(resolve(dir, p.path))
    const hits = out.filter((r) => r.kind === p.target.kind && r.metadata.name === p.target.name)
    if (hits.length !== 1) throw new Error(`${kFile}: patch ${p.path} matches ${hits.length} resources`)
    out = out.map((r) => (hits.includes(r) ? (strategicMerge(r, patch as Json) as Resource) : r))
  }
  for (const l of (k.labels ?? []) as { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[]) {
    if (l.includeSelectors === true || l.includeTemplates === true) throw new Error(`${kFile}: labels into selectors/templates are not supported here`)
    out = out.map((r) => ({ ...r, metadata: { ...r.metadata, labels: { ...r.metadata.labels, ...l.pairs } } }))
  }
  if (typeof k.namespace === 'string') {
    const ns = k.namespace
    out = out.map((r) => ({ ...r, metadata: { ...r.metadata, namespace: ns } }))
  }
  return out
}
