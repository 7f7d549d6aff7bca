import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './support/cli.ts'

/**
 * The supported Node range, the dependency tree, CI and the image must agree: `engines` names the
 * range, every installed package accepts the oldest release of each line in it, CI runs the oldest
 * and the newest line, and production dependencies are only what src/ imports.
 */
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; dependencies: Record<string, string>; devDependencies: Record<string, string> }
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> }
// semver ships with fastify (a production dependency); typed here for the two calls used
const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean; minVersion(range: string): { version: string } | null }

/** The oldest release of each major line the range admits: 20.19.0, 22.13.0, 24.0.0. */
const OLDEST_OF_EACH_LINE = pkg.engines.node.split('||').map((part) => semver.minVersion(part.trim())?.version ?? 'none')

describe('supported Node versions', () => {
  it('engines names Node 20.19+, 22.13+ and 24', () => {
    expect(OLDEST_OF_EACH_LINE).toEqual(['20.19.0', '22.13.0', '24.0.0'])
    expect(semver.satisfies(process.versions.node, pkg.engines.node), `this Node (${process.versions.node}) is outside engines`).toBe(true)
  })

  it('every installed package accepts the oldest release of each supported line', () => {
    const misfits: string[] = []
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node
      if (path === '' || range === undefined) continue
      for (const v of OLDEST_OF_EACH_LINE) if (!semver.satisfies(v, range)) misfits.push(`${path}@${entry.version}: node ${range} excludes ${v}`)
    }
    expect(misfits).toEqual([])
  })

  it('README, CI and the image name the same lines', () => {
    expect(read('README.md')).toContain('Node 20.19+, 22.13+ or 24 (CI tests Node 20 and 24)')
    expect(read('.ci/run')).toMatch(/NEWEST_NODE=node@24\b/)
    expect(read('Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/m)
  })
})

describe('dependencies', () => {
  const imported = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name))
      else if (e.name.endsWith('.ts')) {
        for (const m of read(join(dir, e.name)).matchAll(/\bfrom\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/g)) {
          const spec = (m[1] ?? m[2]) as string
          if (spec.startsWith('node:')) continue
          imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string))
        }
        // files src/ serves from a package (the console's uPlot), named as `file: 'pkg/…'`
        for (const m of read(join(dir, e.name)).matchAll(/\bfile:\s*'([a-z][^'/]*)\//g)) imported.add(m[1] as string)
      }
    }
  }
  walk('src')

  it('production dependencies are exactly the packages src/ imports or serves', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...imported].filter((name) => name !== 'cutover').sort())
  })

  it('the bench-only proxies are devDependencies', () => {
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(['@fastify/http-proxy', '@fastify/reply-from']))
  })
})

describe('the image', () => {
  it('bakes in no config: without a mounted one it exits instead of proxying to the demo backends', () => {
    const dockerfile = read('Dockerfile')
    expect(dockerfile).not.toMatch(/^COPY\s+routes\.config/m)
    expect(dockerfile).toMatch(/^CMD \["start", "--config", "\/app\/routes\.config\.ts"\]$/m)
  })
})
