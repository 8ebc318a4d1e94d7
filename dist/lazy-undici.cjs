// The build (scripts/build.mjs) copies this to dist/lazy-undici.cjs and hands it to the
// bundled toolkit in place of `undici`; the real undici is bundled on its own in dist/undici/.
//
// @actions/http-client and @actions/github import undici at load time for two things the gate
// never uses: ProxyAgent (HttpClient.getAgentDispatcher, a fetch dispatcher; the gate's requests
// go through HttpClient's http/https agents) and fetch (getOctokit). Evaluating undici costs
// more than the rest of the bundle at every start, so it is bundled but loaded only on first
// use: the first `new ProxyAgent(...)` or `fetch(...)` loads it and hands over the real thing.
let undici
const load = () => (undici ??= require('./undici/index.js'))

class ProxyAgent {
  constructor(...args) {
    return new (load().ProxyAgent)(...args)
  }
}

module.exports = {
  ProxyAgent,
  fetch: (...args) => load().fetch(...args)
}
