import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP } from '../../src/console/console-routes.ts'
import type { Gateway } from '../../src/gateway.ts'
import { collectProblems, launchChromium, SCREENSHOTS } from '../support/browser.ts'
import { admin, gatewayFor, testConfig, TOKEN } from '../support/gateway.ts'
import type { Origin } from '../support/origin.ts'
import { comparedAtLeast, readinessOrigins, traffic } from '../support/readiness-origins.ts'

let legacy: Origin
let cloud: Origin
let gw: Gateway
let browser: Browser
let context: BrowserContext
let page: Page
let problems: string[]

const weightOf = (id: string): number | undefined => gw.store.get(id)?.weight
const row = (id: string) => page.locator(`#routes tr[data-route="${id}"]`)

beforeAll(async () => {
  ;({ legacy, cloud } = await readinessOrigins())
  const sticky = { header: 'x-user-id' }
  gw = await gatewayFor(
    testConfig(legacy.url, cloud.url, {
      routes: [
        { id: 'orders', methods: ['GET'], path: '/clean/:id', mirror: 'all', sticky, readiness: { minRequests: 10 } },
        { id: 'mismatching', methods: ['GET'], path: '/mm/:id', mirror: 'all', sticky, readiness: { minRequests: 10 } },
        // a ramp whose first step is an hour away: the test only pauses and resumes it
        { id: 'ramped', methods: ['GET'], path: '/ramped', ramp: { steps: [10, 50], intervalMs: 3_600_000 } },
      ],
    }),
  )
  await traffic(gw, '/clean/', 12)
  await traffic(gw, '/mm/', 12)
  await comparedAtLeast(gw, { orders: 12, mismatching: 12 })
  browser = await launchChromium()
  context = await browser.newContext({ viewport: { width: 1366, height: 860 } })
  page = await context.newPage()
  problems = collectProblems(page)
})
afterAll(async () => {
  await browser?.close()
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
})

/** Accepts the next confirm() and returns its message. */
function acceptNextDialog(): Promise<string> {
  return new Promise((resolve) => {
    page.once('dialog', (d) => {
      const text = d.message()
      void d.accept().then(() => resolve(text))
    })
  })
}

describe('ops console in Chromium', () => {
  it('a wrong token shows an error and no data; the right one, typed and sent with Enter, shows the routes', async () => {
    const res = await page.goto(`${gw.adminUrl}/`)
    expect(res?.headers()['content-security-policy']).toBe(CONSOLE_CSP)
    expect(res?.headers()['x-frame-options']).toBe('DENY')
    await page.getByLabel('Admin token').fill('wrong-token-wrong-token')
    await page.getByRole('button', { name: 'Log in' }).click()
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('Wrong token. Try again.')
    expect(await page.locator('#routes').count()).toBe(0)
    expect(await page.content()).not.toContain('mismatching')
    // the browser reports the 401 itself; it is the one problem so far
    expect(problems).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)'])
    problems.length = 0

    // keyboard only: the token field has focus on load
    await page.reload()
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('token')
    await page.keyboard.type(TOKEN)
    await page.keyboard.press('Enter')
    await page.locator('#routes').waitFor()
    expect(await row('orders').locator('th a').textContent()).toBe('orders')
    expect(await row('orders').textContent()).toContain('ready to raise to 1 %')
    expect(await row('mismatching').textContent()).toContain('hold: mismatch rate 100.0 %')

    const [cookie] = await context.cookies()
    expect(cookie).toMatchObject({ name: 'cutover_session', httpOnly: true, sameSite: 'Strict', secure: false })
    expect(await page.evaluate('document.cookie')).toBe('')
    expect(page.url()).toBe(`${gw.adminUrl}/`)
  })

  it('runs only the script shipped in the package, with no inline script', async () => {
    const scripts = await page.$$eval('script', (ss) => ss.map((s) => ({ src: s.getAttribute('src'), inline: (s.textContent ?? '').trim().length })))
    expect(scripts).toEqual([{ src: '/console/app.js', inline: 0 }])
    // an inline script injected into the page is blocked by the CSP (and reported)
    // (page scripts are passed as strings: the test's TypeScript has no DOM types)
    const blocked = await page.evaluate(`(() => {
      const s = document.createElement('script')
      s.textContent = 'window.__inlineRan = true'
      document.body.append(s)
      return window.__inlineRan === true
    })()`)
    expect(blocked).toBe(false)
    await expect.poll(() => problems.length).toBe(1)
    expect(problems[0]).toMatch(/^console: Executing inline script violates the following Content Security Policy directive 'script-src 'self''/)
    problems.length = 0
    await page.screenshot({ path: join(SCREENSHOTS, 'console-routes.png'), fullPage: true })
  })

  it('changes a weight after a confirmation and shows the new value', async () => {
    await row('orders').getByLabel('New weight for orders').fill('25')
    const dialog = acceptNextDialog()
    await row('orders').getByRole('button', { name: 'Set weight' }).click()
    expect(await dialog).toBe('Set the weight of orders from 0 % to 25 %?')
    await expect.poll(() => page.locator('#status').textContent()).toBe('orders: weight set to 25 %.')
    expect(weightOf('orders')).toBe(25)
    await expect.poll(() => row('orders').locator('[data-field="weight"]').textContent()).toBe('25 %')
    expect(await row('orders').textContent()).toContain('canary')
  })

  it('shows the 409 when someone else moved the route first, and applies nothing', async () => {
    const input = row('orders').getByLabel('New weight for orders')
    await input.fill('50')
    // someone else changes the route while this page still shows the old version
    expect((await admin(gw, '/routes/orders', { method: 'PATCH', body: { weight: 30 } })).status).toBe(200)
    const dialog = acceptNextDialog()
    await row('orders').getByRole('button', { name: 'Set weight' }).click()
    await dialog
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Not applied: route 'orders' is at version 3, not 2\. Someone else changed the route first/)
    expect(await page.locator('#status').getAttribute('role')).toBe('alert')
    expect(weightOf('orders')).toBe(30)
    expect(problems).toEqual(['console: Failed to load resource: the server responded with a status of 409 (Conflict)'])
    problems.length = 0
    await expect.poll(() => row('orders').locator('[data-field="weight"]').textContent()).toBe('30 %')
    await page.screenshot({ path: join(SCREENSHOTS, 'console-conflict.png') })
  })

  it('rolls a route back after a confirmation', async () => {
    const dialog = acceptNextDialog()
    await row('orders').getByRole('button', { name: 'Roll back' }).click()
    expect(await dialog).toBe('Roll orders back to weight 0 (legacy answers everything)?')
    await expect.poll(() => page.locator('#status').textContent()).toBe('orders: rolled back to weight 0.')
    expect(weightOf('orders')).toBe(0)
  })

  it('pauses and resumes a ramp after a confirmation', async () => {
    const dialog = acceptNextDialog()
    await row('ramped').getByRole('button', { name: 'Pause ramp' }).click()
    expect(await dialog).toBe('Pause the ramp of ramped?')
    await expect.poll(() => page.locator('#status').textContent()).toBe('ramped: ramp paused.')
    expect(gw.ramps.state('ramped')).toMatchObject({ paused: true })
    expect(await row('ramped').textContent()).toContain('paused by token:admin@127.0.0.1')
    const again = acceptNextDialog()
    await row('ramped').getByRole('button', { name: 'Resume ramp' }).click()
    await again
    await expect.poll(() => gw.ramps.state('ramped')?.paused).toBe(false)
  })

  it("opens a route's diff groups with the field path and the legacy and cloud values side by side, and its audit trail", async () => {
    await page.getByRole('link', { name: 'mismatching' }).click()
    await page.locator('#diff-groups').waitFor()
    const cells = await page.locator('#diff-groups tbody tr').first().locator('td').allTextContents()
    expect(cells.slice(0, 4)).toEqual(['body.total', 'GET', 'changed', '12'])
    expect(cells.slice(6)).toEqual(['5', '6'])
    expect(await page.locator('#route-h').textContent()).toContain('mismatching')
    // the charts: uPlot from the package draws both, with a legend per backend
    await page.locator('#chart-p99 canvas').waitFor()
    await page.locator('#chart-errors canvas').waitFor()
    expect(await page.locator('#chart-p99 .u-legend').textContent()).toMatch(/legacy.*cloud/)
    await page.screenshot({ path: join(SCREENSHOTS, 'console-route.png'), fullPage: true })

    await page.goto(`${gw.adminUrl}/console/route/orders`)
    const audit = await page.locator('#audit tbody tr').allTextContents()
    expect(audit).toHaveLength(3)
    expect(audit[0]).toContain('rollback')
    expect(audit[0]).toContain('30 → 0')
  })

  it('updates without a reload when the state changes elsewhere', async () => {
    await page.goto(`${gw.adminUrl}/`)
    const marker = await page.evaluate('window.marker = Math.random()')
    expect((await admin(gw, '/routes/mismatching', { method: 'PATCH', body: { weight: 5 } })).status).toBe(200)
    await expect.poll(() => row('mismatching').locator('[data-field="weight"]').textContent(), { timeout: 10_000 }).toBe('5 %')
    expect(await page.evaluate('window.marker')).toBe(marker)
  })

  it('saw no console error, page error or failed request', () => {
    expect(problems).toEqual([])
  })
})
