import nock from 'nock'
import { afterEach } from 'vitest'

// No test may reach a real host: only servers the tests start on loopback.
nock.disableNetConnect()
nock.enableNetConnect((host) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host))

afterEach(() => {
  nock.cleanAll()
})
