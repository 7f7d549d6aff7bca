import { InvalidArgumentError } from 'commander'
import { CutoverError } from './errors.ts'

/** Prints a config or startup failure the way an operator wants it: every problem, no stack. */
export function fail(err: unknown): never {
  if (err instanceof CutoverError) {
    if (err.details.length > 0) {
      process.stderr.write(`${err.code === 'CUTOVER_CONFIG_INVALID' ? 'invalid configuration' : err.message}:\n`)
      for (const d of err.details) process.stderr.write(`  ${d}\n`)
    } else process.stderr.write(`${err.message}\n`)
  } else {
    process.stderr.write(`${(err as Error).message ?? String(err)}\n`)
  }
  process.exit(1)
}

/** Parses a repeatable `-H 'name: value'` into a header record (names lower-cased). */
export function header(value: string, previous: Record<string, string>): Record<string, string> {
  const colon = value.indexOf(':')
  if (colon <= 0) throw new InvalidArgumentError("must be 'name: value'")
  return { ...previous, [value.slice(0, colon).trim().toLowerCase()]: value.slice(colon + 1).trim() }
}

/** An option parser for whole numbers from `min` to `max`; `message` says what is allowed. */
export function wholeNumber(min: number, max: number, message: string): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(message)
    return n
  }
}
