import { onTestFinished } from 'vitest'

/**
 * Teardown for what the fixtures in test/support/setup.ts open: at the end of the test that
 * opened it, or, when opened outside a test (beforeAll), after the file's last test, through the
 * afterAll that test/support/close-after-file.ts registers for every file (vitest setupFiles).
 */

type Close = () => Promise<void>

/** Opened outside a test, latest first: closeAll empties it after the file's last test. */
const atFileEnd: Close[] = []

/** Registers `close` for the end of the current test or, outside a test, of the file; last opened, first closed. */
export function closeLater(close: Close): void {
  try {
    onTestFinished(close)
  } catch {
    // not inside a test: onTestFinished refuses, the file's teardown list takes it
    atFileEnd.unshift(close)
  }
}

/** Closes everything opened outside a test; every close runs even when one fails. */
export async function closeAll(): Promise<void> {
  const failures: unknown[] = []
  for (const close of atFileEnd.splice(0)) await close().catch((err: unknown) => failures.push(err))
  if (failures.length > 0) throw failures[0]
}

/** `fn` runs once; later calls get the first call's promise (a test may close early, teardown closes again). */
export function once(fn: Close): Close {
  let closing: Promise<void> | undefined
  return () => (closing ??= fn())
}
