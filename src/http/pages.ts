// The two server-rendered pages workers already know: worker registration (/worker/setup) and the worker's
// install page (/install/:token). Plain HTML; the style sheet and the setup page's script are
// served as files of their own (/assets/…), so the pages' Content-Security-Policy allows no inline code.
import type { WorkerInstall } from '../domain/install.js';
import { qrSvg, renderWgQuick } from '../render/index.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:880px;margin:2em auto;padding:0 1em;color:#1d2330}
h1{font-size:1.5em}label{display:block;margin:.8em 0 .2em}input{width:100%;padding:.5em;font-size:1em;box-sizing:border-box}
button{margin-top:1em;padding:.6em 1.2em;font-size:1em}.error{color:#b00020}.qr{display:inline-block;width:260px;margin-right:1em;vertical-align:top}
.qr svg{width:100%;height:auto}code,pre{background:#f3f4f7;padding:.2em .4em;border-radius:4px}pre{padding:.8em;overflow-x:auto}
a.dl{display:inline-block;margin:.3em 1em .3em 0;padding:.5em 1em;background:#3b6fd4;color:#fff;border-radius:4px;text-decoration:none}`;

// The form works only through this script, so its button is enabled here, once the script runs.
const SETUP_SCRIPT = `document.querySelector('#f button').disabled = false;
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = (id) => document.getElementById(id).value.trim();
  const body = { node_id: v('id') };
  if (v('desc')) body.description = v('desc');
  if (v('url')) body.central_server_url = v('url');
  if (v('pub')) body.public_key = v('pub');
  const out = document.getElementById('out');
  const r = await fetch('/api/nodes/register', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': v('key') }, body: JSON.stringify(body) });
  const j = await r.json();
  if (r.ok) location.href = j.install_url; else { out.className = 'error'; out.textContent = j.message; }
});
`;

/** The files the pages load, by name under /assets/. */
export const pageAssets: Readonly<Record<string, { type: string; body: string }>> = {
  'pages.css': { type: 'text/css; charset=utf-8', body: STYLE },
  'setup.js': { type: 'text/javascript; charset=utf-8', body: SETUP_SCRIPT },
};

function page(title: string, body: string, script?: string): string {
  const scriptTag = script ? `<script src="/assets/${script}" defer></script>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/assets/pages.css">${scriptTag}</head><body>${body}</body></html>\n`;
}

export function setupPage(): string {
  return page(
    'Register a worker node',
    `<h1>Register a worker node</h1>
<form id="f">
<label for="key">API token</label><input id="key" type="password" autocomplete="off" required>
<label for="id">Node ID</label><input id="id" placeholder="worker-01" pattern="[a-z0-9][a-z0-9-]{0,62}" required>
<label for="desc">Description</label><input id="desc" placeholder="GPU Server #1" maxlength="200">
<label for="url">Central server URL</label><input id="url" placeholder="http://192.168.0.88:8000">
<label for="pub">Worker's own public key (optional: the hub then never holds its private key)</label><input id="pub" maxlength="44">
<button disabled>Register</button></form>
<p id="out"></p>`,
    'setup.js',
  );
}

async function render(install: WorkerInstall, pageUrl: string): Promise<string> {
  const [configQr, pageQr] = await Promise.all([qrSvg(renderWgQuick(install)), qrSvg(pageUrl)]);
  const base = escapeHtml(pageUrl);
  return page(
    `Install ${install.nodeId}`,
    `<h1>Install worker <code>${escapeHtml(install.nodeId)}</code></h1>
<p>${escapeHtml(install.description)}</p>
<p>VPN address <code>${escapeHtml(install.vpnIp)}</code> · hub <code>${escapeHtml(install.endpoint)}</code>. This page holds the
worker's private key: it works a limited number of times and expires. Every download below uses it once.</p>
<p><a class="dl" href="${base}/windows.bat">windows.bat</a><a class="dl" href="${base}/linux.sh">linux.sh (Linux, macOS)</a><a class="dl" href="${base}/wg0.conf">wg0.conf</a></p>
<h2>Windows</h2><p>Download <code>windows.bat</code>, right-click it and choose <em>Run as administrator</em>.</p>
<h2>Linux and macOS</h2><pre>curl -fsSL ${base}/linux.sh -o wgvm-install.sh &amp;&amp; sudo sh wgvm-install.sh</pre>
<h2>By hand</h2><pre>curl -fsSL ${base}/wg0.conf | sudo tee /etc/wireguard/wg0.conf &gt;/dev/null
sudo chmod 600 /etc/wireguard/wg0.conf &amp;&amp; sudo wg-quick up wg0</pre>
<h2>QR codes</h2>
<div class="qr">${configQr}<p>The configuration, for the WireGuard mobile apps</p></div>
<div class="qr">${pageQr}<p>This page</p></div>`,
  );
}

function error(message: string): string {
  return page('Install link not usable', `<h1>This install link cannot be used</h1><p class="error">${escapeHtml(message)}</p>
<p>Ask the administrator for a new install link.</p>`);
}

export const installPage = { render, error };
