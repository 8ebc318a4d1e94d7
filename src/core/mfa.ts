import type { Device } from './devices.js'

/** What OneLogin says about a push (or a typed code). */
export type Answer =
  | { readonly kind: 'approved' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'denied'; readonly message: string }
  | { readonly kind: 'expired'; readonly message: string }
  /**
   * OneLogin no longer knows the push although its own lifetime is not over
   * (a v1 state token "invalid", a v2 verification not found): it may have
   * been answered by a request whose answer was lost. Neither an approval nor
   * an expiry, and never answered with a second push.
   */
  | { readonly kind: 'gone'; readonly message: string }

/** A push that was sent: the secret handle to poll it with, and when OneLogin drops it. */
export interface Ticket {
  /** The state token (v1) or verification id (v2). Masked when received. */
  readonly handle: string
  readonly expiresAt: number
}

/** The MFA calls the gate makes, whichever OneLogin API version serves them. */
export interface MfaApi {
  readonly version: 1 | 2
  listDevices(userId: string): Promise<Device[]>
  sendPush(userId: string, device: Device, expiresInSeconds: number): Promise<Ticket>
  checkPush(userId: string, device: Device, ticket: Ticket): Promise<Answer>
  verifyCode(userId: string, device: Device, code: string): Promise<Answer>
}
