import { beforeAll, describe, expect, it } from 'vitest'
import { runScript, type CliRun } from '../support/cli.ts'
import { call } from '../support/gateway.ts'
import { openOrigin, whenLogged } from '../support/setup.ts'

/** `npm start` as its own process (tsx on src/demo/run-demo.ts), from the repository root. */
function runDemo(env: NodeJS.ProcessEnv): CliRun {
  return runScript('src/demo/run-demo.ts', [], { LOG_LEVEL: 'warn', ...env })
}

const FREE = { CUTOVER_DEMO_PORT: '0', CUTOVER_DEMO_ADMIN_PORT: '0', CUTOVER_DEMO_LEGACY_PORT: '0', CUTOVER_DEMO_CLOUD_PORT: '0' }
let taken: number

beforeAll(async () => {
  // a listener holding a port, closed after the file's last test
  taken = (await openOrigin('squatter')).port
})

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
      const GATEWAY = /gateway\s+(http:\/\/\S+)/
      await whenLogged(demo, GATEWAY, 50_000, 'the gateway address')
      const [, gateway] = GATEWAY.exec(demo.output()) ?? []
      const res = await call(`${gateway}/api/orders/1`, { headers: { 'x-user-id': 'carol' } })
      expect(res.status).toBe(200)
      expect(res.headers['x-cutover-backend']).toBeDefined()
    } finally {
      demo.child.kill('SIGTERM')
      await demo.exited
    }
  })
})
