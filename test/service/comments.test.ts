// What the deployment's page says: the service's progress and final comments, word for word,
// for the gates that make them. Outside text in them is inert (code spans); each fits GitHub's
// 1,024 characters.
import { describe, expect, it } from 'vitest'
import type { Approver } from '../../src/core/approvers.js'
import { ACTION_WORDS, createGate } from '../../src/core/procedure.js'
import {
  deploymentLine,
  finalComment,
  fit,
  newPushComment,
  pushesFloodedMessage,
  pushesSentComment,
  queuedComment,
  utc
} from '../../src/service/comments.js'
import type { Gate, StoredOutcome } from '../../src/service/store/gates.js'
import type { PushHolder, QueuedPush } from '../../src/service/store/phones.js'

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0)
const DEVICE = {
  id: '5101',
  factor: 'OneLogin Protect',
  name: 'Pixel 9',
  isDefault: true,
  active: true,
  needsTrigger: true
}

function spec(entry: string) {
  const [who, login] = entry.split(' @')
  return { entry, by: /^\d+$/.test(who) ? ('id' as const) : ('email' as const), value: who, login }
}

/** A gate of `entries`, started at T0 with a 10-minute timeout, its approvers changed by `edit`. */
function gate(
  entries: string[],
  opts: { minApprovals?: number; deployment?: Partial<Gate['deployment']>; edit?: (a: Approver[]) => void } = {}
): Gate {
  const { state } = createGate(
    {
      approvers: entries.map((e) => ({ spec: spec(e) })),
      minApprovals: opts.minApprovals ?? 1,
      apiVersion: 1,
      startedAt: T0,
      timeoutMs: 600_000,
      pollIntervalMs: 1_000,
      runStarters: [],
      allowSelfApproval: true,
      words: ACTION_WORDS
    },
    T0
  )
  state.approvers.forEach((a, i) => {
    a.userId = a.userId || String(101 + i)
    a.device = DEVICE
  })
  opts.edit?.(state.approvers)
  return {
    id: 'g',
    deliveryId: 'd',
    runId: 4242,
    environment: 'production',
    deploymentId: 7,
    installationId: 9,
    owner: 'acme',
    repo: 'shop',
    deployment: { repoFullName: 'acme/shop', ...opts.deployment },
    phase: 'waiting',
    policy: { pattern: 'prod*', source: 'acme/shop .github/onelogin-gate.yml', timeoutSeconds: 600 },
    procedure: state,
    queue: [],
    outcome: null,
    reports: [],
    failures: 0,
    retryAt: null,
    createdAt: T0,
    deadline: T0 + 600_000,
    nextAt: T0,
    updatedAt: T0
  }
}

/** Approver `index` of a gate waits for the phone, behind `behind`. */
const waiting = (index: number, behind: PushHolder | null): QueuedPush => ({
  index,
  userId: String(101 + index),
  since: T0,
  behind
})
const SAME_REPO: PushHolder = { gateId: 'h', runId: 4100, environment: 'staging', repo: 'acme/shop' }
const OTHER_REPO: PushHolder = { gateId: 'k', runId: 77, environment: 'production', repo: 'acme/secret' }

const outcome = (
  status: StoredOutcome['status'],
  message: string,
  more: Partial<StoredOutcome> = {}
): StoredOutcome => ({
  state: status === 'approved' ? 'approved' : 'rejected',
  status,
  message,
  decidedAt: T0 + 65_000,
  ...more
})

describe('comments: times and the deployment', () => {
  it('writes times in UTC to the second', () => {
    expect(utc(T0 + 5_123)).toBe('2026-11-29 12:00:05 UTC')
  })

  it('says what is deployed, where, from which run and by whom', () => {
    const d = {
      repoFullName: 'acme/shop',
      ref: 'refs/heads/main',
      sha: '0123456789abcdef0123',
      workflowName: 'Deploy',
      runAttempt: 2,
      event: 'push',
      creator: 'octocat'
    }
    expect(deploymentLine({ environment: 'production', runId: 42 }, d)).toBe(
      'Deploying `acme/shop` to `production`, ref `refs/heads/main`, commit `0123456789ab` ' +
        '(workflow `Deploy`, run 42 attempt 2, event `push`), started by `@octocat`.'
    )
    expect(deploymentLine({ environment: 'production', runId: 42 }, { repoFullName: 'acme/shop', runAttempt: 1 })).toBe(
      'Deploying `acme/shop` to `production` (run 42).'
    )
  })
})

describe('comments: progress', () => {
  it('says who was asked on which device until when, who was not asked, and the rule', () => {
    const g = gate(['101 @ada', '102 @grace', 'linus@example.com @linus'], {
      minApprovals: 2,
      edit: (a) => {
        a[0].ticket = { handle: 'st', expiresAt: T0 + 900_000 }
        a[2].startedRun = 'linus (ID 3)'
      }
    })
    expect(pushesSentComment(g)).toBe(
      [
        '🔐 **OneLogin approval requested.** Deploying `acme/shop` to `production` (run 4242).',
        '',
        'Needs 2 approvals on OneLogin Protect by 2026-11-29 12:10:00 UTC (timeout 10m00s). Asked:',
        '- `101 @ada` on `OneLogin Protect "Pixel 9"` (device `5101`); push expires 12:15:00 UTC',
        '- `102 @grace` on `OneLogin Protect "Pixel 9"` (device `5101`)',
        'Not asked, as they started this deployment: `linus@example.com @linus`.',
        'Policy: `acme/shop .github/onelogin-gate.yml`, rule `prod*`.'
      ].join('\n')
    )
  })

  it('says "1 approval", and names the OneLogin user when the entry is not their ID', () => {
    const g = gate(['ada@example.com @ada'], { edit: (a) => void (a[0].device = undefined) })
    const text = pushesSentComment(g)
    expect(text).toContain('Needs 1 approval on OneLogin Protect by')
    expect(text).toContain('- `ada@example.com @ada` (OneLogin user 101) on no device\n')
    expect(text).not.toContain('Not asked')
  })

  it('says a push expired and a new one went out, to which device, until when', () => {
    const g = gate(['101 @ada'], {
      edit: (a) => {
        a[0].ticket = { handle: 'st', expiresAt: T0 + 1_800_000 }
        a[0].pushes = 2
      }
    })
    expect(newPushComment(g.procedure!.approvers[0])).toBe(
      '🔁 The push to `101 @ada` expired unanswered; a new one went to `OneLogin Protect "Pixel 9"` ' +
        '(device `5101`), expiring 12:30:00 UTC (push 2).'
    )
    const without = gate(['101 @ada'], { edit: (a) => void (a[0].pushes = 3) }).procedure!.approvers[0]
    expect(newPushComment(without)).toBe(
      '🔁 The push to `101 @ada` expired unanswered; a new one went to `OneLogin Protect "Pixel 9"` (device `5101`) (push 3).'
    )
  })

  it('says a push waits behind which deployment, naming its repository only when it is this one', () => {
    const g = gate(['101 @ada'])
    const ada = g.procedure!.approvers[0]
    const why =
      '`101 @ada` has, or is next in line for, a OneLogin push from that deployment. A push shows nothing of the ' +
      'deployment it is for, so the service puts one on a phone at a time: ' +
      "this deployment's push goes out when that one is answered or expires."
    expect(queuedComment(g, ada, waiting(0, SAME_REPO))).toBe(
      [
        `⏳ **Queued behind run 4100 (\`acme/shop\`, environment \`staging\`).** ${why}`,
        '',
        'The timeout keeps counting: without an approval by 2026-11-29 12:10:00 UTC, this deployment is rejected. ' +
          'Deploying `acme/shop` to `production` (run 4242).'
      ].join('\n')
    )
    expect(queuedComment(g, ada, waiting(0, OTHER_REPO)).split('\n')[0]).toBe(
      `⏳ **Queued behind run 77 (another repository, environment \`production\`).** ${why}`
    )
    expect(queuedComment(g, ada, waiting(0, null)).split('\n')[0]).toBe(
      `⏳ **Queued behind another deployment.** ${why}`
    )
  })

  it('says "enough approvals" to a queued gate that needs more than one', () => {
    const g = gate(['101 @ada', '102 @grace'], { minApprovals: 2 })
    expect(queuedComment(g, g.procedure!.approvers[1], waiting(1, null)).split('\n')[2]).toBe(
      'The timeout keeps counting: without enough approvals by 2026-11-29 12:10:00 UTC, this deployment is rejected. ' +
        'Deploying `acme/shop` to `production` (run 4242).'
    )
  })

  it('says how many pushes an approver was sent in the last hour, and the limit', () => {
    const [ada, grace] = gate(['101 @ada', 'grace@example.com @grace'], {
      edit: (a) => {
        a[0].name = 'Ada Lovelace <ada@example.com>'
        a[1].userId = ''
      }
    }).procedure!.approvers
    expect(pushesFloodedMessage(ada, 5, 5)).toBe(
      'Ada Lovelace <ada@example.com> (OneLogin user 101) was sent 5 OneLogin pushes in the last hour; ' +
        'APPROVER_PUSHES_PER_HOUR allows 5.'
    )
    expect(pushesFloodedMessage(grace, 1, 1)).toBe(
      'approver grace@example.com @grace was sent 1 OneLogin push in the last hour; APPROVER_PUSHES_PER_HOUR allows 1.'
    )
  })
})

describe('comments: the final answer', () => {
  const tail =
    'Deploying `acme/shop` to `production` (run 4242). Requested 2026-11-29 12:00:00 UTC, decided 2026-11-29 12:01:05 UTC.'

  it('names who approved, in the order they answered, when, and how long after their push', () => {
    const g = gate(['101 @ada', '102 @grace', '103 @linus'], {
      minApprovals: 2,
      edit: (a) => {
        Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 40_000, pushSentAt: T0 + 1_000 })
        Object.assign(a[1], { answer: 'approved', answeredAt: T0 + 20_000 })
        Object.assign(a[2], { answer: 'pending' })
      }
    })
    expect(finalComment(g, outcome('approved', 'ok'))).toBe(
      '✅ **Approved on OneLogin Protect** by `102 @grace` at 2026-11-29 12:00:20 UTC; ' +
        '`101 @ada` at 2026-11-29 12:00:40 UTC, 39 s after the push.\n' +
        tail
    )
  })

  it('orders the approvals by time whatever the order of the entries', () => {
    const g = gate(['101 @ada', '102 @grace', '103 @linus'], {
      minApprovals: 3,
      edit: (a) => {
        Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 20_000 })
        Object.assign(a[1], { answer: 'approved', answeredAt: T0 + 30_000 })
        Object.assign(a[2], { answer: 'approved', answeredAt: T0 + 10_000 })
      }
    })
    expect(finalComment(g, outcome('approved', 'ok')).split('\n')[0]).toBe(
      '✅ **Approved on OneLogin Protect** by `103 @linus` at 2026-11-29 12:00:10 UTC; ' +
        '`101 @ada` at 2026-11-29 12:00:20 UTC; `102 @grace` at 2026-11-29 12:00:30 UTC.'
    )
  })

  it('names who denied, and what OneLogin said', () => {
    const g = gate(['101 @ada', '102 @grace'], {
      edit: (a) => {
        Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 10_000 })
        Object.assign(a[1], { answer: 'denied', answeredAt: T0 + 30_000, pushSentAt: T0, message: 'Denied `by` user' })
      }
    })
    expect(finalComment(g, outcome('denied', 'x'))).toBe(
      "❌ **Rejected: denied on OneLogin Protect** by `102 @grace` at 2026-11-29 12:00:30 UTC, 30 s after the push. OneLogin says `Denied 'by' user`.\n" +
        tail
    )
    const noWords = gate(['101 @ada'], { edit: (a) => Object.assign(a[0], { answer: 'denied' }) })
    expect(finalComment(noWords, outcome('denied', 'x')).split('\n')[0]).toBe(
      '❌ **Rejected: denied on OneLogin Protect** by `101 @ada`. OneLogin says `denied`.'
    )
    const nobody = gate(['101 @ada'])
    expect(finalComment(nobody, outcome('denied', 'The deployment was denied.')).split('\n')[0]).toBe(
      '❌ **Rejected: denied.** `The deployment was denied.`'
    )
  })

  it('says how long it waited, how many approved of how many needed, and who never answered', () => {
    const g = gate(['101 @ada', '102 @grace', '103 @linus'], {
      minApprovals: 2,
      edit: (a) => {
        Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 10_000 })
        a[2].startedRun = 'linus (ID 3)'
      }
    })
    expect(finalComment(g, outcome('timed-out', 'No answer within 10m00s: 1 of 2 approvals.'))).toBe(
      [
        '⏱️ **Rejected: no approval in time.** `No answer within 10m00s: 1 of 2 approvals.`',
        'Waited 10m00s until 2026-11-29 12:01:05 UTC; 1 of 2 approvals.',
        'No answer from `102 @grace`.',
        tail
      ].join('\n')
    )
    const one = gate(['101 @ada'])
    one.deadline = null
    expect(finalComment(one, outcome('timed-out', 'late')).split('\n').slice(1, 3)).toEqual([
      'Waited until 2026-11-29 12:01:05 UTC; 0 of 1 approval.',
      'No answer from `101 @ada`.'
    ])
    // Everyone who could answer approved; the one left started the deployment.
    const started = gate(['101 @ada', '102 @grace'], {
      minApprovals: 2,
      edit: (a) => {
        Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 10_000 })
        a[1].startedRun = 'grace (ID 2)'
      }
    })
    expect(finalComment(started, outcome('timed-out', 'late')).split('\n')).toHaveLength(3)
    one.procedure = null
    expect(finalComment(one, outcome('timed-out', 'late')).split('\n')[1]).toBe(
      'Waited until 2026-11-29 12:01:05 UTC; 0 of 1 approval.'
    )
  })

  it('says whose push was still queued behind another deployment when the time ran out', () => {
    const g = gate(['101 @ada', '102 @grace', '103 @linus'], {
      minApprovals: 2,
      edit: (a) => void Object.assign(a[0], { answer: 'approved', answeredAt: T0 + 10_000 })
    })
    // An entry whose approver is gone from the procedure says nothing.
    g.queue = [waiting(1, SAME_REPO), waiting(7, OTHER_REPO)]
    expect(finalComment(g, outcome('timed-out', 'late'))).toBe(
      [
        '⏱️ **Rejected: no approval in time.** `late`',
        'Waited 10m00s until 2026-11-29 12:01:05 UTC; 1 of 2 approvals.',
        'No answer from `103 @linus`.',
        'The push to `102 @grace` was still queued behind run 4100 (`acme/shop`, environment `staging`) when the ' +
          "time ran out: their phone had that deployment's push on it.",
        tail
      ].join('\n')
    )
    // Everyone silent was queued: no "No answer from" line.
    g.queue = [waiting(1, OTHER_REPO), waiting(2, null)]
    expect(finalComment(g, outcome('timed-out', 'late')).split('\n').slice(2, 4)).toEqual([
      'The push to `102 @grace` was still queued behind run 77 (another repository, environment `production`) ' +
        "when the time ran out: their phone had that deployment's push on it.",
      'The push to `103 @linus` was still queued behind another deployment when the time ran out: ' +
        "their phone had that deployment's push on it."
    ])
  })

  it('explains the push-flooding guard when it stopped the gate', () => {
    const g = gate(['101 @ada'])
    const message = pushesFloodedMessage(g.procedure!.approvers[0], 5, 5)
    expect(finalComment(g, outcome('error', message, { guard: 'pushes-per-hour', blame: 'configuration' }))).toBe(
      [
        '🛑 **Rejected: too many pushes to one approver.** `OneLogin user 101 was sent 5 OneLogin pushes in the ' +
          'last hour; APPROVER_PUSHES_PER_HOUR allows 5.`',
        'This is a guard against push flooding (MFA fatigue): each approver gets at most so many OneLogin pushes ' +
          'an hour, so that a flood of deployments cannot wear them down into accepting one. The push was not ' +
          'sent; run the job again later. For administrators: the limit is the service setting ' +
          '`APPROVER_PUSHES_PER_HOUR`.',
        tail
      ].join('\n')
    )
  })

  it('tells an administrator, not an approver, when the configuration stopped the gate', () => {
    const g = gate(['101 @ada'])
    expect(finalComment(g, outcome('error', 'OneLogin refused the credential.', { blame: 'configuration' }))).toBe(
      [
        '⚙️ **Rejected: the OneLogin gate service is misconfigured.** `OneLogin refused the credential.`',
        'This is for an administrator of the service: no approver was at fault. Fix the setting, then run the job again.',
        tail
      ].join('\n')
    )
    expect(finalComment(g, outcome('error', 'No policy.', { blame: 'input' }))).toBe(
      ['⚠️ **Rejected: the OneLogin gate could not run.** `No policy.`', tail].join('\n')
    )
  })

  it('keeps outside text inert and within its length', () => {
    const g = gate(['101 @ada'], { deployment: { ref: '`x`\n@team' } })
    const text = finalComment(g, outcome('error', `@admins ${'y'.repeat(900)}`))
    expect(text).toContain(`\`@admins ${'y'.repeat(591)}…\``)
    expect(text).toContain("ref `'x' @team`")
    const denied = gate(['101 @ada'], {
      edit: (a) => Object.assign(a[0], { answer: 'denied', message: 'z'.repeat(400) })
    })
    expect(finalComment(denied, outcome('denied', 'x'))).toContain(`OneLogin says \`${'z'.repeat(299)}…\`.`)
    expect(finalComment(gate(['101 @ada']), outcome('timed-out', 'w'.repeat(300)))).toContain(`\`${'w'.repeat(199)}…\``)
    expect(finalComment(gate(['101 @ada']), outcome('denied', 'v'.repeat(400)))).toContain(`\`${'v'.repeat(299)}…\``)
  })

  it("keeps a comment of up to 1,024 characters whole, and cuts a longer one to GitHub's limit", () => {
    expect(fit(['a'.repeat(1_000), 'b'.repeat(23)])).toBe(`${'a'.repeat(1_000)}\n${'b'.repeat(23)}`)
    const cut = fit(['a'.repeat(1_025)])
    expect(cut).toBe(`${'a'.repeat(1_023)}…`)
    expect(fit([`${'a'.repeat(1_022)}😀x`])).toBe(`${'a'.repeat(1_022)}…`)
    // A surrogate pair well before the cut stays whole, and so does the text up to the cut.
    expect(fit([`😀${'a'.repeat(1_100)}`])).toBe(`😀${'a'.repeat(1_021)}…`)
  })
})
