// Row: user or device not found -> a clear message naming the ID. Against the simulator.
import { describe, expect, it } from 'vitest'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADA, ADMIN, inputsFor, startProxy, startSim } from './support.js'

const V2 = { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }

async function run(extra: Record<string, string>) {
  const sim = await startSim()
  const clock = new FakeClock()
  const r = await runAction(inputsFor(sim.url, extra), { clock })
  const error = /::error::(.*)/.exec(r.stdout)?.[1] ?? ''
  return { r, error, sim, clock }
}

describe('not found: the message names the ID', () => {
  it('an unknown user ID (v1)', async () => {
    const { r, error, sim, clock } = await run({ 'user-id': '99999999' })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(error).toBe('OneLogin has no user with ID 99999999: User does not exist.')
    expect(clock.sleeps).toEqual([])
    expect(sim.pushes()).toEqual([])
  })

  it('an unknown user ID (v2)', async () => {
    const { r, error } = await run({ ...V2, 'user-id': '99999999' })
    expect(r.status).toBe('error')
    expect(error).toMatch(/^OneLogin has no user with ID 99999999\b/)
  })

  it('an approver email nobody has', async () => {
    const { r, error } = await run({ 'user-id': '', approvers: 'nobody@example.com' })
    expect(r.status).toBe('error')
    expect(error).toBe(
      'No OneLogin user has the email nobody@example.com (input \'approvers\', entry "nobody@example.com").'
    )
  })

  it.each([['1'], ['2']])('a device-id the user has not enrolled (v%s)', async (v) => {
    const { r, error, sim } = await run({ ...(v === '2' ? V2 : {}), 'device-id': '424242' })
    expect(r.status).toBe('error')
    expect(error).toMatch(
      new RegExp(`^Device 424242 \\(input 'device-id'\\) is not enrolled for user ${ADA}\\. Enrolled: `)
    )
    expect(sim.pushes()).toEqual([])
  })

  it('a device-id that cannot take a push names the one to use', async () => {
    const { error } = await run({ 'device-id': '525510' })
    expect(error).toMatch(
      /^Device 525510 \(input 'device-id'\) of user 35510511 cannot take a push: .*Use device-id 525509/
    )
  })

  it('a user with no OneLogin Protect', async () => {
    const { error } = await run({ 'user-id': '35510514' })
    expect(error).toMatch(/^User 35510514 has no OneLogin Protect device that takes a push\. Enrolled factors: SMS/)
  })

  it.each([
    [
      '1',
      /\/otp_devices$/,
      JSON.stringify({
        status: { error: false, code: 200, type: 'success', message: 'Success' },
        data: {
          otp_devices: [
            {
              id: 999001,
              auth_factor_name: 'OneLogin Protect',
              type_display_name: 'OneLogin Protect',
              user_display_name: 'Old phone',
              default: true,
              active: true,
              needs_trigger: true
            }
          ]
        }
      })
    ],
    [
      '2',
      /\/devices$/,
      JSON.stringify([
        {
          device_id: '999001',
          auth_factor_name: 'OneLogin',
          type_display_name: 'OneLogin Protect',
          user_display_name: 'Old phone',
          default: true
        }
      ])
    ]
  ])('a device removed between the listing and the push (v%s)', async (v, listing, body) => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    // The listing still shows a device OneLogin no longer has; the simulator refuses the push to it.
    proxy.inject((req) =>
      listing.test(req.path) ? { status: 200, headers: { 'content-type': 'application/json' }, body } : undefined
    )
    const r = await runAction(inputsFor(proxy.url, v === '2' ? V2 : {}), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(
      new RegExp(`^OneLogin has no device 999001 for user ${ADA}\\b.*(Device does not exist|Device not found)`)
    )
    expect(sim.pushes()).toEqual([])
  })
})
