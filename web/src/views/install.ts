// The install panel: everything a worker needs, shown right after registering (and for a new link).
import { copyButton, h, svgImage } from '../dom.js';
import { formatExpiry, formatTimestamp } from '../format.js';
import type { InstallView } from '../types.js';

export function installPanel(nodeId: string, install: InstallView, holdsPrivateKey: boolean): HTMLElement {
  const url = h('input', { class: 'mono', attrs: { type: 'text', readonly: true, value: install.url, 'aria-label': 'Install URL', 'data-testid': 'install-url' } });
  url.addEventListener('focus', () => url.select());
  const download = (href: string, label: string, name: string) =>
    h('a', { class: 'button secondary', attrs: { href, download: `${nodeId}-${name}`, 'data-testid': `download-${name}` } }, label);
  return h(
    'section',
    { class: 'card install', attrs: { 'data-testid': 'install-panel' } },
    h('h2', null, `Install ${nodeId}`),
    h(
      'p',
      { class: 'muted' },
      'Open the install link on the worker, or scan a code. The link works ',
      h('strong', { attrs: { title: formatTimestamp(install.expires_at) } }, `until ${formatTimestamp(install.expires_at)} (${formatExpiry(install.expires_at, Date.now())})`),
      '.',
    ),
    h('div', { class: 'copy-row' }, url, copyButton(() => install.url)),
    h(
      'div',
      { class: 'qr-row' },
      h('figure', null, svgImage(install.qr_config_svg, `QR code of the WireGuard config of ${nodeId}`), h('figcaption', null, 'Config — scan with the WireGuard app')),
      h('figure', null, svgImage(install.qr_install_svg, `QR code of the install link of ${nodeId}`), h('figcaption', null, 'Install link')),
    ),
    holdsPrivateKey
      ? null
      : h('p', { class: 'note' }, 'This worker registered its own public key: the config has no private key; add it on the worker.'),
    h(
      'div',
      { class: 'actions' },
      download(install.downloads.bat, 'Windows installer (.bat)', 'windows.bat'),
      download(install.downloads.sh, 'Linux/macOS installer (.sh)', 'linux.sh'),
      download(install.downloads.conf, 'WireGuard config (.conf)', 'wg0.conf'),
    ),
  );
}
