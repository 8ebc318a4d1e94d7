// The simulator's phone page in a real (headless) Chromium: a person taps Accept or Deny while
// the committed action (dist/index.js) waits in a child process.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, it, type TestContext } from 'vitest'
import { demoInputs } from '../../../sim/run-action.js'
import { start, type Sim } from '../../../sim/server.js'
import { runDist, type DistRun } from './run-dist.js'

/** Debian's Chromium; never a browser download. CHROMIUM_PATH points elsewhere if needed. */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
const IN_CI = !!process.env.CI && process.env.CI !== 'false'
const MISSING = `${CHROMIUM} is missing: install it with 'apt-get install -y chromium' (CI installs it in .ci/run)`
/** Set to a directory to keep a screenshot of the page with a pending push. */
const SCREENSHOT_DIR = process.env.PHONE_PAGE_SCREENSHOT_DIR

if (!HAVE_CHROMIUM && !IN_CI) console.warn(`phone page browser tests skipped: ${MISSING}`)

// Locally a missing browser skips these tests; in CI it fails them, so they cannot silently stop running.
describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('the phone page in Chromium', () => {
  let browser: Browser | undefined

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(MISSING)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    })
  })

  afterAll(async () => {
    await browser?.close()
  })

  /** A simulator, the gate waiting on it, and the phone page open with the gate's push on it. */
  async function gateWaitingOnPhone(ctx: TestContext): Promise<{ sim: Sim; page: Page; gate: Promise<DistRun> }> {
    const sim = await start({ quiet: true })
    const context = await browser!.newContext({ viewport: { width: 480, height: 820 } })
    // Browser first, then the simulator (the page holds an event stream open).
    ctx.onTestFinished(async () => {
      await context.close()
      await sim.close()
    })
    const gate = runDist({ inputs: demoInputs(sim.url) })
    const page = await context.newPage()
    await page.goto(`${sim.url}/`)
    return { sim, page, gate }
  }

  it('Accept on the phone page approves the waiting gate', async (ctx) => {
    const { expect } = ctx
    const { sim, page, gate } = await gateWaitingOnPhone(ctx)
    const accept = page.getByRole('button', { name: 'Accept' })
    await accept.waitFor({ state: 'visible', timeout: 15_000 })
    await expect.poll(() => page.locator('#mode').textContent()).toBe('live')
    const card = page.locator('article.card.pending')
    expect(await card.count()).toBe(1)
    expect(await card.getByRole('heading').textContent()).toBe('Approve this request?')
    expect(await card.textContent()).toContain("Ada's iPhone")
    if (SCREENSHOT_DIR) await page.screenshot({ path: join(SCREENSHOT_DIR, 'phone-page-pending.png') })

    await accept.click()
    const r = await gate

    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({
      status: 'approved',
      approved: 'true',
      'user-id': '35510511',
      'device-id': '525509'
    })
    expect(sim.pushes().map((p) => p.status)).toEqual(['accepted'])
    // The page shows the answer once the simulator reports it.
    await page.locator('article.card.accepted').waitFor({ timeout: 5_000 })
    expect(await page.locator('article.card.accepted .final').textContent()).toMatch(/^Accepted at \d\d:\d\d:\d\d UTC$/)
    expect(await page.getByRole('button', { name: 'Accept' }).count()).toBe(0)
  })

  it('Deny on the phone page fails the waiting gate as denied', async (ctx) => {
    const { expect } = ctx
    const { sim, page, gate } = await gateWaitingOnPhone(ctx)
    const deny = page.getByRole('button', { name: 'Deny' })
    await deny.waitFor({ state: 'visible', timeout: 15_000 })

    await deny.click()
    const r = await gate

    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': '35510511' })
    expect(r.stdout).toMatch(
      /^::error::Denied by Ada Lovelace <ada@example.com> \(OneLogin user 35510511\): OneLogin says /m
    )
    expect(sim.pushes().map((p) => p.status)).toEqual(['denied'])
    await page.locator('article.card.denied').waitFor({ timeout: 5_000 })
  })
})
