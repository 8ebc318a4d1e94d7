import { describe, expect, it } from 'vitest'
import { decide, type AnswerState } from '../../src/core/outcome.js'

const base = { minApprovals: 1, now: 1_000, deadline: 10_000, startedAt: 0, pollsLeft: true }
const a = (userId: string, answer: AnswerState['answer'], message?: string): AnswerState => ({
  spec: { entry: `entry ${userId}`, by: 'id', value: userId },
  userId,
  answer,
  ...(message ? { message } : {})
})

describe('decide: the gate outcome shared by the action and the service', () => {
  it('waits while no rule decides', () => {
    expect(decide({ ...base, approvers: [a('1', 'pending')] })).toBeUndefined()
  })

  it('approves on enough distinct approvals and names them', () => {
    expect(
      decide({ ...base, minApprovals: 2, approvers: [a('1', 'approved'), a('2', 'approved'), a('3', 'pending')] })
    ).toEqual({
      status: 'approved',
      message: 'Approved by 2 approvers (2 needed): OneLogin user 1, OneLogin user 2.',
      approvedBy: ['1', '2']
    })
  })

  it('lets a denial win over a quorum reached in the same round', () => {
    const o = decide({ ...base, approvers: [a('1', 'approved'), a('2', 'denied', 'Authentication denied by user')] })
    expect(o).toEqual({
      status: 'denied',
      message: 'Denied by OneLogin user 2: OneLogin says "Authentication denied by user".',
      deniedBy: '2'
    })
  })

  it('counts one person once, however many entries name them', () => {
    // Two entries (say an email and an ID) that resolved to the same OneLogin user.
    expect(
      decide({ ...base, minApprovals: 2, approvers: [a('7', 'approved'), a('7', 'approved'), a('8', 'pending')] })
    ).toBeUndefined()
    expect(decide({ ...base, minApprovals: 2, approvers: [a('7', 'approved'), a('7', 'pending')] })?.status).toBe(
      'timed-out'
    )
  })

  it('counts entries not yet resolved to a OneLogin user each on their own', () => {
    expect(decide({ ...base, minApprovals: 2, approvers: [a('', 'approved'), a('', 'approved')] })).toMatchObject({
      status: 'approved',
      message: 'Approved by 2 approvers (2 needed): approver entry , approver entry .'
    })
  })

  it('names the one approver of a quorum of one, and counts several who approved at once', () => {
    expect(decide({ ...base, approvers: [a('1', 'approved')] })?.message).toBe('Approved by OneLogin user 1.')
    expect(decide({ ...base, approvers: [a('1', 'approved'), a('2', 'approved')] })?.message).toBe(
      'Approved by 2 approvers (1 needed): OneLogin user 1, OneLogin user 2.'
    )
  })

  it('times out when too few can still answer, or at the deadline with no poll left', () => {
    expect(decide({ ...base, approvers: [a('1', 'expired', 'expired')] })?.message).toMatch(
      /^Too few approvers can still answer: 0 accepted, 1 needed/
    )
    expect(decide({ ...base, now: 10_000, approvers: [a('1', 'pending')] })).toBeUndefined()
    expect(decide({ ...base, now: 10_000, pollsLeft: false, approvers: [a('1', 'pending')] })).toEqual({
      status: 'timed-out',
      message: 'No answer within 10 s: 0 of 1 approvals.'
    })
  })
})
