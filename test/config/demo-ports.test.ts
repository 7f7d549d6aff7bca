import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../support/cli.ts'
import { call } from '../support/gateway.ts'

/** `npm start` as its own process (tsx on src/demo/run-demo.ts), from the repository root. */
function runDemo(env: NodeJS.ProcessEnv): { output: () => string; exited: Promise<number | null>; kill: () => void; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/demo/run-demo.ts')], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    output: () => out,
    exited,
    kill: () => child.kill('SIGTERM'),
    async waitFor(re) {
      const deadline = Date.now() + 50_000
      for (;;) {
        const m = re.exec(out)
        if (m !== null) return m
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in demo output:\n${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

const FREE = { CUTOVER_DEMO_PORT: '0', CUTOVER_DEMO_ADMIN_PORT: '0', CUTOVER_DEMO_LEGACY_PORT: '0', CUTOVER_DEMO_CLOUD_PORT: '0' }
let squatter: Server
let taken: number

beforeAll(async () => {
  squatter = createServer()
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', () => resolve()))
  taken = (squatter.address() as AddressInfo).port
})
afterAll(() => new Promise<void>((resolve) => squatter.close(() => resolve())))

// the demo loads routes.config.ts through jiti: slow to start on a busy 2-core machine
describe('npm start with a port in use', { timeout: 60_000 }, () => {
  it.each([
    ['legacy', 'CUTOVER_DEMO_LEGACY_PORT'],
    ['admin', 'CUTOVER_DEMO_ADMIN_PORT'],
  ])('names the port (%s) and the variable that moves it, in one line, and exits 1', async (part, variable) => {
    const demo = runDemo({ ...FREE, [variable]: String(taken) })
    expect(await demo.exited).toBe(1)
    const out = demo.output().trim()
    expect(out.split('\n')).toHaveLength(1)
    expect(out).toContain(`demo: port ${taken} (${part}) is already in use`)
    expect(out).toContain(`pick another with ${variable}=PORT`)
    expect(out).not.toMatch(/\n\s+at |EADDRINUSE/)
  })

  it('runs on the ports the variables pick', async () => {
    const demo = runDemo(FREE)
    try {
      const [, gateway] = await demo.waitFor(/gateway\s+(http:\/\/\S+)/)
      const res = await call(`${gateway}/api/orders/1`, { headers: { 'x-user-id': 'carol' } })
      expect(res.status).toBe(200)
      expect(res.headers['x-cutover-backend']).toBeDefined()
    } finally {
      demo.kill()
      await demo.exited
    }
  })
})
