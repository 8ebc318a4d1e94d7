// The setup page's HTML: plain pages with no script at all, every value from outside escaped.

/** Text made inert in HTML, in element content and in quoted attributes alike. */
export function escapeHtml(value: string | number): string {
  return [...String(value)]
    .filter((c) => {
      const n = c.charCodeAt(0)
      return n === 9 || n === 10 || n === 13 || (n >= 32 && n !== 127)
    })
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}code,pre{font:14px ui-monospace,monospace;background:#f6f8fa;border-radius:4px}
pre{padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}code{padding:0 .25rem}
fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0}button{font-size:1rem;padding:.4rem 1rem}
.problem{color:#a40e26}.ok{color:#1a7f37}li{margin:.25rem 0}`

/** A whole page. `body` must already be HTML built with escapeHtml. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`
}

export function problemsList(problems: readonly string[]): string {
  return `<ul>${problems.map((p) => `<li class="problem">${escapeHtml(p)}</li>`).join('')}</ul>`
}

/** Step 1: for whom to register the app. */
export function choosePage(opts: {
  token: string
  publicUrl: string
  webUrl: string
  fromRequest: boolean
  pending: readonly string[]
  save: 'data-dir' | 'print'
  credentialsPath: string
}): string {
  const pending = opts.pending.length
    ? `<p>Before the service can work gates, fix these settings too (the app can be registered first):</p>${problemsList(opts.pending)}`
    : ''
  const where =
    opts.save === 'print'
      ? 'shown once on the next page, for your secret store (<code>SETUP_CREDENTIALS=print</code>); nothing is written to disk'
      : `written to <code>${escapeHtml(opts.credentialsPath)}</code>, readable by the service alone (<code>SETUP_CREDENTIALS=data-dir</code>)`
  return page(
    'Register the GitHub App',
    `<p>This service has no GitHub App yet. Register one from its manifest on
<a href="${escapeHtml(opts.webUrl)}">${escapeHtml(opts.webUrl)}</a>: GitHub creates the app with the permissions
the service needs and sends you back here.</p>
<p>GitHub will send webhooks to <code>${escapeHtml(opts.publicUrl)}/api/github/webhooks</code>${
      opts.fromRequest
        ? ' (the address this page was opened at; set <code>PUBLIC_URL</code> if GitHub reaches the service at another)'
        : ' (<code>PUBLIC_URL</code>)'
    }.</p>
<p>The app's ID, private key and webhook secret will be ${where}.</p>
${pending}
<form method="post" action="/setup">
<input type="hidden" name="token" value="${escapeHtml(opts.token)}">
<fieldset>
<legend>Register the app for</legend>
<p><label><input type="radio" name="account" value="user" checked> my GitHub user account</label></p>
<p><label><input type="radio" name="account" value="org"> the organisation
<input type="text" name="org" placeholder="organisation login" pattern="[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})" maxlength="39"></label></p>
</fieldset>
<button type="submit">Continue</button>
</form>`
  )
}

/** Step 2: the form that posts the manifest to GitHub. */
export function manifestPage(opts: { action: string; manifest: string; account: string }): string {
  return page(
    'Create the app on GitHub',
    `<p>The next button takes the manifest to GitHub, where you create the app for ${escapeHtml(opts.account)}.
GitHub then sends you back here, and the service stores the app's credentials.</p>
<form method="post" action="${escapeHtml(opts.action)}">
<input type="hidden" name="manifest" value="${escapeHtml(opts.manifest)}">
<button type="submit">Create the GitHub App on GitHub</button>
</form>
<details><summary>The manifest</summary><pre>${escapeHtml(opts.manifest)}</pre></details>`
  )
}

/** Done: the app exists, its credentials are stored (or shown once), and what comes next. */
export function donePage(opts: {
  name: string
  appId: number
  htmlUrl: string
  stored: { kind: 'file'; path: string } | { kind: 'print'; privateKey: string; webhookSecret: string }
  problems: readonly string[]
}): string {
  const stored =
    opts.stored.kind === 'file'
      ? `<p class="ok">Its App ID, private key and webhook secret are stored in ` +
        `<code>${escapeHtml(opts.stored.path)}</code> (mode 0600); the service reads them on every start.</p>`
      : `<p class="ok">Its credentials are below. They are shown this once and stored nowhere: ` +
        `put them in your secret store now, and give them to the service as these settings before its next start.</p>
<p><code>GITHUB_APP_ID</code></p><pre>${escapeHtml(opts.appId)}</pre>
<p><code>GITHUB_WEBHOOK_SECRET</code></p><pre>${escapeHtml(opts.stored.webhookSecret)}</pre>
<p><code>GITHUB_PRIVATE_KEY</code> (or save it to a file and set <code>GITHUB_PRIVATE_KEY_PATH</code>)</p><pre>${escapeHtml(opts.stored.privateKey)}</pre>`
  const next = opts.problems.length
    ? `<p class="problem">The service cannot work gates yet. Fix these settings and start it again:</p>${problemsList(opts.problems)}`
    : `<p class="ok">The service now serves webhooks with the new app.</p>`
  const install = opts.htmlUrl
    ? `<p>Next, install the app on the repositories to gate: <a ` +
      `href="${escapeHtml(opts.htmlUrl)}/installations/new">${escapeHtml(opts.htmlUrl)}/installations/new</a>, and ` +
      `add <code>.github/onelogin-gate.yml</code> to each.</p>`
    : ''
  return page(
    'GitHub App registered',
    `<p>GitHub created the app <strong>${escapeHtml(opts.name)}</strong> (App ID ${escapeHtml(opts.appId)}).</p>
${stored}
${next}
${install}`
  )
}

export function errorPage(title: string, message: string, retry?: string): string {
  return page(
    title,
    `<p class="problem">${escapeHtml(message)}</p>${retry ? `<p><a href="${escapeHtml(retry)}">Start again</a></p>` : ''}`
  )
}
