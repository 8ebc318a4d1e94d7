/**
 * The Node.js flags the service runs with. The Dockerfile's CMD, `npm run app`,
 * the demo, the tests and `npm run bench:app` all start `build/app/main.js`
 * with exactly these (test/app/packaging.test.ts holds them to it).
 *
 * `--max-semi-space-size=8`: a young generation of two 8 MB semi-spaces.
 * Left to itself, V8 sizes the young generation from the machine's memory,
 * and an instance polling 1,000 open gates (hundreds of short-lived requests
 * a second) then peaked at about 270 MB resident; with 8 MB it peaked at
 * about 155 MB, with the event loop as prompt (`npm run bench:app`).
 * Scavenges come more often and each stays short.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8']
