import { describe, expect, it } from 'vitest'
import { ADA, startSim, type V1 } from './harness.js'

describe('sim: users lookup', () => {
  it('v2 by email: a bare array', async () => {
    const h = await startSim()
    const r = await h.call('GET', '/api/2/users?email=ada@example.com', { token: await h.token('read_users') })
    expect(r.status).toBe(200)
    expect(r.json).toEqual([
      {
        id: ADA,
        email: 'ada@example.com',
        username: 'ada',
        firstname: 'Ada',
        lastname: 'Lovelace',
        status: 1,
        state: 1
      }
    ])
  })

  it('v2 by username, cut to fields=id', async () => {
    const h = await startSim()
    const r = await h.call('GET', '/api/2/users?username=grace&fields=id', { token: await h.token('read_users') })
    expect(r.json).toEqual([{ id: 35510512 }])
  })

  it('v1 by email and by username: wrapped with status and pagination', async () => {
    const h = await startSim()
    const token = await h.token('read_users')
    for (const query of ['email=ada@example.com', 'username=ada']) {
      const r = await h.call<V1<{ id: number }[]> & { pagination: unknown }>('GET', `/api/1/users?${query}`, { token })
      expect(r.status).toBe(200)
      expect(r.json.status).toEqual({ error: false, code: 200, type: 'success', message: 'Success' })
      expect(r.json.pagination).toEqual({
        before_cursor: null,
        after_cursor: null,
        previous_link: null,
        next_link: null
      })
      expect(r.json.data.map((u) => u.id)).toEqual([ADA])
    }
  })

  it('filters accept the * wildcard (so an exact match is the caller’s job)', async () => {
    const h = await startSim()
    const token = await h.token('read_users')
    const a = await h.call<{ username: string }[]>('GET', '/api/2/users?username=a*', { token })
    expect(a.json.map((u) => u.username)).toEqual(['ada', 'alan'])
    const all = await h.call<V1>('GET', `/api/1/users?email=${encodeURIComponent('*@example.com')}`, { token })
    expect(all.json.data).toHaveLength(6)
    const none = await h.call('GET', '/api/2/users?email=nobody@example.com', { token })
    expect(none.json).toEqual([])
  })

  it('matches email case-insensitively', async () => {
    const h = await startSim()
    const r = await h.call<{ id: number }[]>('GET', '/api/2/users?email=ADA@Example.com', {
      token: await h.token('read_users')
    })
    expect(r.json.map((u) => u.id)).toEqual([ADA])
  })

  it('by ID: v1 wraps the user in status and data, v2 answers with the user; an unknown ID is a 404', async () => {
    const h = await startSim()
    const token = await h.token('read_users')
    const user = {
      id: ADA,
      email: 'ada@example.com',
      username: 'ada',
      firstname: 'Ada',
      lastname: 'Lovelace',
      status: 1,
      state: 1
    }
    const v1 = await h.call('GET', `/api/1/users/${ADA}`, { token })
    expect(v1.status).toBe(200)
    expect(v1.json).toEqual({ status: { error: false, code: 200, type: 'success', message: 'Success' }, data: [user] })
    const v2 = await h.call('GET', `/api/2/users/${ADA}`, { token })
    expect(v2.json).toEqual(user)
    expect((await h.call('GET', '/api/1/users/99999999', { token })).status).toBe(404)
    expect((await h.call('GET', '/api/2/users/99999999', { token })).status).toBe(404)
    expect((await h.call('GET', `/api/2/users/${ADA}`, { token: await h.token('authentication_only') })).status).toBe(
      403
    )
  })

  it("by ID answers to the 'user' fault, not the 'users' one", async () => {
    const h = await startSim()
    const token = await h.token('read_users')
    h.sim.setFault({ endpoint: 'user', status: 503, times: 1 })
    expect((await h.call('GET', '/api/2/users?email=ada@example.com', { token })).status).toBe(200)
    expect((await h.call('GET', `/api/2/users/${ADA}`, { token })).status).toBe(503)
  })
})
