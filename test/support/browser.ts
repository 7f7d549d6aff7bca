import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT } from './cli.ts'

/** Debian's chromium package (`.ci/run` installs it); never a downloaded browser build. */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** Screenshots land here: .cache/ is ignored by git. */
export const SCREENSHOTS = join(ROOT, '.cache', 'screenshots')

export function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
}

/**
 * Every console error (CSP violations are reported there), uncaught page error and failed
 * request of a page, so a test can fail on any of them.
 */
export function collectProblems(page: Page): string[] {
  const problems: string[] = []
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? ''
    // ERR_ABORTED is the browser cancelling a request of a page the test navigated away from
    // (a module still loading when the next view opened), not a request that failed
    if (why !== 'net::ERR_ABORTED') problems.push(`requestfailed: ${req.url()} ${why}`)
  })
  return problems
}
