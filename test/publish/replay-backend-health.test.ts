import { describe, expect, it } from 'vitest'
import { DOWN_AFTER, ReplayBackendHealth } from '../../src/publish/replay-backend-health.ts'

describe('ReplayBackendHealth: a poison event or a backend that is down', () => {
  it('a success after a suspect hands the suspect back for dead-lettering', () => {
    const h = new ReplayBackendHealth<string>()
    expect(h.suspect('cloud', 'e1')).toBeNull()
    expect(h.accepted('legacy')).toEqual([])
    expect(h.accepted('cloud')).toEqual(['e1'])
    expect(h.accepted('cloud')).toEqual([])
    expect(h.isDown('cloud')).toBe(false)
  })
  it(`${DOWN_AFTER} suspects in a row make the backend down and are returned to keep pending`, () => {
    const h = new ReplayBackendHealth<string>()
    for (let i = 1; i < DOWN_AFTER; i++) expect(h.suspect('cloud', `e${i}`)).toBeNull()
    expect(h.suspect('legacy', 'other')).toBeNull()
    expect(h.suspect('cloud', `e${DOWN_AFTER}`)).toEqual(Array.from({ length: DOWN_AFTER }, (_, i) => `e${i + 1}`))
    expect(h.isDown('cloud')).toBe(true)
    expect(h.isDown('legacy')).toBe(false)
    // what is left at the end of the run is the other backend's lone suspect
    expect(h.remaining()).toEqual(['other'])
    expect(h.remaining()).toEqual([])
  })
})
