import { describe, expect, it } from 'vitest'
import { runCli, writeConfig } from '../support/cli.ts'

const good = {
  backends: { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } },
  routes: [{ id: 'a', path: '/a', weight: 10 }],
}

describe('cutover check', () => {
  it.each([
    ['json', 'c.json', JSON.stringify(good)],
    ['ts', 'c.ts', `import { defineConfig } from 'cutover'\nconst w: number = 10\nexport default defineConfig({ ...${JSON.stringify(good)}, routes: [{ id: 'a', path: '/a', weight: w }] })\n`],
    ['mjs', 'c.mjs', `export default ${JSON.stringify(good)}\n`],
    ['js', 'c.js', `export default ${JSON.stringify(good)}\n`],
  ])('accepts a valid .%s config', async (_kind, name, text) => {
    const run = runCli(['check', '--config', writeConfig(text, name)])
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('ok (2 backends, 1 routes)')
  })

  it('accepts the bundled routes.config.ts', async () => {
    const run = runCli(['check'], { CUTOVER_ADMIN_TOKEN: 'a-long-enough-admin-token' })
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('routes.config.ts: ok')
  })

  it('exits 1 listing every problem as path: message, without a stack trace', async () => {
    const bad = { ...good, routes: [{ id: 'a', path: '/a' }, { id: 'b', path: '/b' }, { id: 'c', path: '/c', weight: 150, mirorr: 'all' }] }
    const run = runCli(['check', '--config', writeConfig(bad)])
    expect(await run.exited).toBe(1)
    const out = run.output()
    expect(out).toContain('routes[2].weight: must be an integer from 0 to 100')
    expect(out).toContain('routes[2].mirorr: unknown option')
    expect(out).not.toMatch(/\n\s+at /)
  })

  it('exits 1 with a clear message for a missing file or unsupported type', async () => {
    const missing = runCli(['check', '--config', '/nonexistent/x.ts'])
    expect(await missing.exited).toBe(1)
    expect(missing.output()).toContain('/nonexistent/x.ts: no such file')
    const yaml = runCli(['check', '--config', writeConfig('a: 1', 'c.yaml')])
    expect(await yaml.exited).toBe(1)
    expect(yaml.output()).toContain("unsupported config type '.yaml'")
  })

  it('refuses an admin API beyond loopback without a token, as start would', async () => {
    const run = runCli(['check', '--config', writeConfig({ ...good, admin: { host: '0.0.0.0' } })])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain('admin.token: is required when admin.host (0.0.0.0) is not a loopback address')
  })

  it('refuses to start on a bad config: nothing half-configured listens', async () => {
    const run = runCli(['start', '--config', writeConfig({ ...good, routes: [{ id: 'a', path: 'x' }] })])
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain("routes[0].path: must start with '/'")
    expect(run.output()).not.toContain('listening')
  })
})
