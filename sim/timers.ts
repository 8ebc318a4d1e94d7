/** Timers the sim owns, so close() can cancel every one of them. */
export class Timers {
  private readonly live = new Set<NodeJS.Timeout>()

  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.live.delete(t)
      fn()
    }, ms)
    t.unref()
    this.live.add(t)
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve))
  }

  clearAll(): void {
    for (const t of this.live) clearTimeout(t)
    this.live.clear()
  }
}
