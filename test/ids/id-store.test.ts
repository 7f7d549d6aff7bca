import { appendFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../src/config/validate.ts'
import { ID_COMPACT_SLACK, IdStore, idDir, loadIdMap } from '../../src/ids/id-store.ts'
import { tempDir } from '../support/gateway.ts'

const log = pino({ level: 'silent' })

function config(dir: string, maxPairs?: number) {
  return validateConfig({
    backends: { legacy: { url: 'http://127.0.0.1:3001' }, cloud: { url: 'http://127.0.0.1:3002' } },
    state: { file: join(dir, 'state.json') },
    ...(maxPairs === undefined ? {} : { ids: { maxPairs } }),
  })
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')

describe('IdStore', () => {
  it('appends each new pair once to ids/w0.ndjson next to the state file, and loadIdMap reads it back', async () => {
    const dir = tempDir()
    const cfg = config(dir)
    const store = await IdStore.open(cfg, log, null)
    expect(store.record({ map: 'posts', legacy: '1', cloud: 'a' })).toBe(true)
    expect(store.record({ map: 'posts', legacy: '1', cloud: 'a' })).toBe(false)
    expect(store.record({ map: 'users', legacy: '1', cloud: 'u' })).toBe(true)
    await store.close()
    expect(idDir(cfg)).toBe(join(dir, 'ids'))
    expect(lines(join(dir, 'ids', 'w0.ndjson')).map((l) => JSON.parse(l))).toEqual([
      { map: 'posts', legacy: '1', cloud: 'a' },
      { map: 'users', legacy: '1', cloud: 'u' },
    ])
    // a crash mid-write leaves half a line: it is skipped, the rest loads
    appendFileSync(join(dir, 'ids', 'w1.ndjson'), '{"map":"posts","legacy":"2","cloud":"b"}\n{"map":"posts","leg')
    const map = await loadIdMap(cfg, log)
    expect([...map.pairs()]).toEqual([
      { map: 'posts', legacy: '1', cloud: 'a' },
      { map: 'users', legacy: '1', cloud: 'u' },
      { map: 'posts', legacy: '2', cloud: 'b' },
    ])
    expect(map.translate('posts', 'cloud', 'b')).toBe('2')
  })

  it('rewrites its file once superseded pairs pile up, and keeps at most ids.maxPairs pairs', async () => {
    const dir = tempDir()
    const store = await IdStore.open(config(dir, 100), log, null)
    // 200 ids, each re-paired many times (a resource re-created on the other side)
    const total = 2 * 100 + ID_COMPACT_SLACK + 500
    for (let i = 0; i < total; i++) store.record({ map: 'posts', legacy: String(i % 200), cloud: `c${i}` })
    expect(store.map.size).toBe(100)
    await store.close()
    const file = join(dir, 'ids', 'w0.ndjson')
    expect(lines(file).length).toBeLessThan(2 * 100 + ID_COMPACT_SLACK + 1)
    expect(readdirSync(join(dir, 'ids'))).toEqual(['w0.ndjson'])
    const again = await loadIdMap(config(dir, 100), log)
    expect(again.size).toBe(100)
    // the newest pair of each id survived
    expect(again.translate('posts', 'legacy', String((total - 1) % 200))).toBe(`c${total - 1}`)
    expect(store.summary('posts', 2)).toEqual({
      maps: { posts: 100 },
      pairs: [
        { map: 'posts', legacy: String((total - 1) % 200), cloud: `c${total - 1}` },
        { map: 'posts', legacy: String((total - 2) % 200), cloud: `c${total - 2}` },
      ],
    })
  })
})
