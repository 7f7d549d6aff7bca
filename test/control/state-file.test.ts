import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.ts'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { startGateway, type Gateway } from '../../src/gateway.ts'
import { runCli } from '../support/cli.ts'
import { admin, tempDir, TOKEN } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { ADMIN_URL, loggedUrl, withOrigins } from '../support/setup.ts'

let legacy: Origin
let cloud: Origin

beforeAll(async () => {
  ;({ legacy, cloud } = await withOrigins())
})

function configText(routes: CutoverConfigInput['routes'], extra: Partial<CutoverConfigInput> = {}): string {
  const input: CutoverConfigInput = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    backends: { legacy: { url: legacy.url }, cloud: { url: cloud.url } },
    routes,
    spool: { dir: join(tempDir(), 'spool') },
    ...extra,
  }
  return JSON.stringify(input, null, 2)
}

/** Starts a gateway on a config file as `cutover start` would (the state file beside it), with its log lines. */
async function start(file: string): Promise<{ gw: Gateway; logs: string[] }> {
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString().split('\n').filter((l) => l !== ''))
      done()
    },
  })
  const gw = await startGateway(await loadConfig(file, {}), { log: pino({ level: 'info' }, sink), processMetrics: false })
  return { gw, logs }
}

type Described = { weight: number; mirror: string; readSample: number; sources: Record<string, string> }
const route = async (gw: Gateway, id: string): Promise<Described> => (await admin(gw, `/routes/${id}`)).json() as Described

describe('the state file', () => {
  it('lives beside the config, records which config it belongs to, and keeps only values changed at run time', async () => {
    const dir = tempDir()
    const file = join(dir, 'a.json')
    writeFileSync(file, configText([{ id: 'posts', path: '/posts', weight: 10, mirror: 'all', readSample: 0.5 }]))
    const { gw } = await start(file)
    try {
      expect((await route(gw, 'posts')).sources).toEqual({ weight: 'config', mirror: 'config', readSample: 'config' })
      expect((await admin(gw, '/routes/posts', { method: 'PATCH', body: { weight: 40 } })).status).toBe(200)
      expect((await route(gw, 'posts')).sources).toEqual({ weight: 'runtime', mirror: 'config', readSample: 'config' })
    } finally {
      await gw.close()
    }
    const stateFile = join(dir, '.cutover', 'state.json')
    const kept = JSON.parse(readFileSync(stateFile, 'utf8')) as { config: { path: string; hash: string }; routes: Record<string, unknown> }
    expect(kept.config.path).toBe(file)
    expect(kept.config.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(kept.routes).toEqual({ posts: { version: 2, weight: 40 } })
    expect(existsSync(join(process.cwd(), '.cutover', 'state.json')) && readFileSync(join(process.cwd(), '.cutover', 'state.json'), 'utf8').includes(file)).toBe(false)

    // the config is edited: the changed weight still wins, the untouched mirror follows the config
    writeFileSync(file, configText([{ id: 'posts', path: '/posts', weight: 10, mirror: 'writes', readSample: 0.5 }]))
    const again = await start(file)
    try {
      const r = await route(again.gw, 'posts')
      expect(r).toMatchObject({ weight: 40, mirror: 'writes', readSample: 0.5 })
      expect(r.sources).toEqual({ weight: 'state-file', mirror: 'config', readSample: 'config' })
      expect(again.logs.join('\n')).toContain('route posts: weight 40 (config: 10) kept in')
    } finally {
      await again.gw.close()
    }
  })

  it('ignores, with a warning, a state file written for another config', async () => {
    const dir = tempDir()
    const demo = join(dir, 'routes.config.json')
    const other = join(dir, 'other.json')
    writeFileSync(demo, configText([{ id: 'orders', path: '/orders', weight: 10, mirror: 'all', readSample: 0.1 }]))
    writeFileSync(other, configText([{ id: 'orders', path: '/orders' }]))
    const first = await start(demo)
    await admin(first.gw, '/routes/orders', { method: 'PATCH', body: { weight: 90, mirror: 'off' } })
    await first.gw.close()

    const { gw, logs } = await start(other)
    try {
      expect(await route(gw, 'orders')).toMatchObject({ weight: 0, mirror: 'writes', readSample: 1, sources: { weight: 'config', mirror: 'config', readSample: 'config' } })
      const warning = logs.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.includes('belongs to'))
      expect(warning?.level).toBe(40)
      expect(warning?.msg).toContain(`belongs to ${demo}, not to ${other}: ignored`)
    } finally {
      await gw.close()
    }
  })

  it('cutover start --reset-state deletes it and starts from the config', async () => {
    const dir = tempDir()
    const file = join(dir, 'c.json')
    writeFileSync(file, configText([{ id: 'posts', path: '/posts', weight: 10 }]))
    const first = await start(file)
    await admin(first.gw, '/routes/posts', { method: 'PATCH', body: { weight: 70 } })
    await first.gw.close()

    const run = runCli(['start', '--config', file, '--reset-state'])
    try {
      await run.waitFor('cutover listening')
      expect(run.output()).toContain('--reset-state: deleted')
      const adminUrl = loggedUrl(run, ADMIN_URL)
      const res = await fetch(`${adminUrl}/routes/posts`, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(await res.json()).toMatchObject({ weight: 10, sources: { weight: 'config' } })
      expect(existsSync(join(dir, '.cutover', 'state.json'))).toBe(false)
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
  })
})
