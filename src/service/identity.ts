/**
 * The service's side of GitHub identities (src/core/identity.ts decides):
 * who set the deployment going, as the webhook and the workflow run name
 * them, with their IDs and types.
 */
import type { StarterClaim } from '../core/identity.js'
import type { DeploymentInfo } from './store/gates.js'

/**
 * The deployment's creator and the webhook's sender (from the payload), the
 * run's actor and triggering actor (GET the run). A gate stored by an earlier
 * release has logins without IDs: core/identity.ts looks those up.
 */
export function starterClaims(d: DeploymentInfo): StarterClaim[] {
  const claim = (role: string, login?: string, id?: number, type?: string): StarterClaim[] =>
    login ? [{ role, login, ...(id !== undefined ? { id } : {}), ...(type ? { type } : {}) }] : []
  return [
    ...claim("the deployment's creator", d.creator, d.creatorId, d.creatorType),
    ...claim("the webhook's sender", d.sender, d.senderId, d.senderType),
    ...claim("the run's actor", d.runActor, d.runActorId, d.runActorType),
    ...claim("the run's triggering actor", d.runTriggeringActor, d.runTriggeringActorId, d.runTriggeringActorType)
  ]
}
