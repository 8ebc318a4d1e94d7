/**
 * The Node.js flags the service runs with. The Dockerfile's CMD, `npm run app`,
 * the demo, the tests and `npm run bench:app` all start `build/service/main.js`
 * with exactly these (test/service/packaging.test.ts holds them to it).
 *
 * Left to itself, V8 sizes its heap from the machine's memory and lets it
 * grow far past what the service holds. An instance polling 1,000 open gates
 * (hundreds of short-lived requests a second) holds about 25 MB of live
 * objects, yet peaked at about 270 MB resident (`npm run bench:app`):
 * - `--max-semi-space-size=8`: a young generation of two 8 MB semi-spaces;
 *   scavenges come more often and each stays short. About 155 to 195 MB.
 * - `--max-old-space-size=128`: V8 collects the old generation before it
 *   grows to several times what is live. About 140 MB, with the event loop
 *   as prompt.
 * What the service holds at once is bounded by the gates it works at once
 * (16), not by the gates that are open, which live in the database; 128 MB
 * leaves it five times the room it uses.
 *
 * - `--liftoff-only`: WebAssembly runs on V8's baseline compiler (Liftoff)
 *   and is never recompiled by the optimising one (TurboFan). The embedded
 *   store is PostgreSQL compiled to WebAssembly (PGlite): once queries run,
 *   TurboFan recompiles its hot functions in the background, and on Node 24
 *   that took the process from about 130 MB to 540 to 680 MB within seconds
 *   (freed later, but a container's limit counts the peak). With Liftoff
 *   alone it stays flat, and the service's short queries are as fast (see
 *   docs/performance.md). On PostgreSQL it touches only undici's small
 *   HTTP parser.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=8',
  '--max-old-space-size=128',
  '--liftoff-only'
]
