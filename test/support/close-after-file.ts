import { afterAll } from 'vitest'
import { closeAll } from './teardown.ts'

// vitest setupFiles: runs in every test file, so what its beforeAll hooks opened is closed after its last test
afterAll(closeAll)
