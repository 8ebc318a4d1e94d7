// The fake GitHub's page at `/`: every deployment waiting on the app's rule, its progress
// comments (Markdown shown as escaped preformatted text) and its final state.
import type { DeploymentView } from './types.js'

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

const STATE_LABEL: Record<DeploymentView['state'], string> = {
  waiting: 'Waiting',
  approved: 'Approved',
  rejected: 'Rejected'
}

function deploymentHtml(d: DeploymentView): string {
  const comments = d.reviews
    .map((r) => {
      const head = r.state ? `${escapeHtml(STATE_LABEL[r.state])} by the app` : 'Progress report'
      const body = r.comment === undefined ? '<p class="muted">(no comment)</p>' : `<pre>${escapeHtml(r.comment)}</pre>`
      return `<li><div class="when">${escapeHtml(r.at)} &middot; ${head}</div>${body}</li>`
    })
    .join('')
  const meta =
    `run ${d.runId} (${escapeHtml(d.workflowName)}), deployment ${d.deploymentId}, ` +
    `ref <code>${escapeHtml(d.ref)}</code>, sha <code>${escapeHtml(d.sha.slice(0, 12))}</code>, ` +
    `started by <b>${escapeHtml(d.creator)}</b>` +
    (d.sender !== d.creator ? ` (sender ${escapeHtml(d.sender)})` : '') +
    `, requested ${escapeHtml(d.createdAt)}` +
    (d.decidedAt ? `, decided ${escapeHtml(d.decidedAt)}` : '')
  return `<section class="deployment ${d.state}" id="run-${d.runId}">
<h2>${escapeHtml(d.repo)} &middot; ${escapeHtml(d.environment)} <span class="state">${STATE_LABEL[d.state]}</span></h2>
<p class="meta">${meta}</p>
${comments ? `<ol class="comments">${comments}</ol>` : '<p class="muted">No comments yet.</p>'}
</section>`
}

export function pageHtml(title: string, deployments: DeploymentView[]): string {
  const waiting = deployments.some((d) => d.state === 'waiting')
  const refreshing = waiting ? ' &middot; refreshing every 2 s while one waits' : ''
  const body =
    deployments.length === 0
      ? '<p class="muted">No deployments requested yet.</p>'
      : deployments.slice().reverse().map(deploymentHtml).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${waiting ? '<meta http-equiv="refresh" content="2">' : ''}
<title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin: 0 0 .3rem; }
.deployment { border: 1px solid #d0d7de; border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; }
.state { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; margin-left: .4rem; background: #eaeef2; }
.approved .state { background: #dafbe1; color: #116329; } .rejected .state { background: #ffebe9; color: #a40e26; }
.waiting .state { background: #fff8c5; color: #7d4e00; }
.meta, .muted, .when { color: #59636e; font-size: .85rem; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .5rem .7rem; border-radius: 6px; margin: .2rem 0 .6rem; }
ol.comments { padding-left: 1.2rem; }
</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p class="muted">Deployments held by the app's protection rule. JSON: <a href="/_gh/state">/_gh/state</a>${refreshing}</p>
${body}
</body></html>`
}
