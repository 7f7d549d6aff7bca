import { expect } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { CutoverError } from '../../src/errors.ts'

/** Two backends, for configs that only test routes and options. */
export const backends = { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } }

/** Every problem the validator reports for `input` (`path: message`); fails when it is accepted. */
export function problems(input: unknown): string[] {
  try {
    validateConfig(input)
  } catch (err) {
    expect(err).toBeInstanceOf(CutoverError)
    return [...(err as CutoverError).details]
  }
  throw new Error('expected the config to be refused')
}
