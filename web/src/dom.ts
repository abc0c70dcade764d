// Building the page from code. Strings always become text nodes: nothing a user typed (a node's
// description, its ID) is ever parsed as HTML. There is no innerHTML anywhere in the dashboard.

type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  /** Attributes, set with setAttribute (so values are never markup either). */
  attrs?: Record<string, string | number | boolean | undefined>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (e: HTMLElementEventMap[K]) => void }>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props?.class) el.className = props.class;
  for (const [name, value] of Object.entries(props?.attrs ?? {})) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const [type, listener] of Object.entries(props?.on ?? {})) el.addEventListener(type, listener as EventListener);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Replaces what `el` holds. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets text only when it differs, so that updating 1,000 rows a second touches little of the page. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Copies text: the Clipboard API where the page is a secure context, else a selected textarea. */
export async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the old way
    }
  }
  const area = h('textarea', { class: 'offscreen', attrs: { readonly: true } });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  return ok;
}

/** A button that copies `text` and says so for a moment. */
export function copyButton(text: () => string, label = 'Copy'): HTMLButtonElement {
  const b = h('button', { class: 'secondary small', attrs: { type: 'button' } }, label);
  b.addEventListener('click', async () => {
    const ok = await copyText(text());
    b.textContent = ok ? 'Copied' : 'Select and copy by hand';
    setTimeout(() => (b.textContent = label), 1500);
  });
  return b;
}

/** An <img> showing an SVG document the server made (QR codes): an image cannot run script. */
export function svgImage(svgText: string, alt: string): HTMLImageElement {
  const src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  return h('img', { class: 'qr', attrs: { src, alt } });
}

/** Asks before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(title: string, detail: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', attrs: { 'aria-labelledby': 'confirm-title' } });
    const done = (ok: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    dialog.append(
      h('h2', { attrs: { id: 'confirm-title' } }, title),
      h('p', null, detail),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'secondary', attrs: { type: 'button' }, on: { click: () => done(false) } }, 'Cancel'),
        h('button', { class: 'danger', attrs: { type: 'button', 'data-confirm': true }, on: { click: () => done(true) } }, confirmLabel),
      ),
    );
    dialog.addEventListener('cancel', () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}
