import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { ROOT, runCli, writeConfig } from '../support/cli.ts'
import { tempDir } from '../support/gateway.ts'
import { brokers, topicsFor } from '../support/kafka.ts'

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }

function loopbackConfig(extra: Partial<CutoverConfigInput> = {}): CutoverConfigInput {
  const dir = tempDir()
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    backends: { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } },
    routes: [{ id: 'a', path: '/a' }],
    state: { file: join(dir, 'state.json') },
    spool: { dir: join(dir, 'spool') },
    ...extra,
  }
}

describe('cutover CLI basics', () => {
  it.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    const run = runCli([flag])
    expect(await run.exited).toBe(0)
    expect(run.output().trim()).toBe(version)
  })

  it('start without a config (the image with nothing mounted) exits 1 with one clear line', async () => {
    const missing = join(tempDir(), 'routes.config.ts')
    const run = runCli(['start', '--config', missing])
    expect(await run.exited).toBe(1)
    expect(run.output().trim()).toBe(`${missing}: no such file (create or mount a config there, or name one with --config FILE; docs/config.md)`)
  })

  it('warns at start when the loopback admin API has no token', async () => {
    const run = runCli(['start', '--config', writeConfig(loopbackConfig())], { CUTOVER_ADMIN_TOKEN: '' })
    try {
      await run.waitFor('cutover listening')
      expect(run.output()).toMatch(/admin API on 127\.0\.0\.1:0 has no token: every local process can change routes; set admin\.token or CUTOVER_ADMIN_TOKEN/)
      expect(run.output()).toContain('"level":40')
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
  })

  it('says nothing about the token when one is set', async () => {
    const run = runCli(['start', '--config', writeConfig(loopbackConfig())], { CUTOVER_ADMIN_TOKEN: 'a-long-enough-admin-token' })
    try {
      await run.waitFor('cutover listening')
      expect(run.output()).not.toContain('has no token')
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
  })

  it('replay ignores a short CUTOVER_ADMIN_TOKEN (and admin.token): it never serves the admin API', async () => {
    const topics = topicsFor('cli-basics')
    const file = writeConfig(loopbackConfig({ admin: { host: '127.0.0.1', port: 0, token: 'short' }, kafka: { brokers: brokers(), topics } }))
    const run = runCli(['replay', '--config', file, '--dry-run'], { CUTOVER_ADMIN_TOKEN: 'short', CUTOVER_KAFKA_BROKERS: '' })
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain(`nothing to replay: topic ${topics.replay} does not exist`)
    expect(run.output()).not.toContain('admin.token')
    // start and check still refuse it
    const check = runCli(['check', '--config', file], { CUTOVER_ADMIN_TOKEN: 'short' })
    expect(await check.exited).toBe(1)
    expect(check.output()).toContain('admin.token: must be at least 16 characters')
  })
})
