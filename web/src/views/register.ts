// Registering a node: the form, errors beside the field they concern, then the install panel.
import { ApiError, api } from '../api.js';
import { h, replace } from '../dom.js';
import type { LiveNodes } from '../live.js';
import type { RegisterBody } from '../types.js';
import { installPanel } from './install.js';

const FIELDS: Array<{ name: keyof RegisterBody; label: string; hint: string; attrs: Record<string, string | number | boolean> }> = [
  { name: 'node_id', label: 'Node ID', hint: 'a-z, 0-9 and "-", up to 63 characters, e.g. worker-01', attrs: { required: true, maxlength: 63, placeholder: 'worker-01', autocomplete: 'off', autocapitalize: 'none', spellcheck: false } },
  { name: 'description', label: 'Description', hint: 'optional, e.g. GPU Server #1', attrs: { maxlength: 200, placeholder: 'GPU Server #1' } },
  { name: 'central_server_url', label: 'Central server URL', hint: 'optional; written into the worker’s environment', attrs: { maxlength: 2000, placeholder: 'http://192.168.0.88:8000', type: 'url' } },
  { name: 'public_key', label: 'Worker’s own public key', hint: 'optional: then the hub never holds the worker’s private key', attrs: { maxlength: 44, placeholder: 'base64, 44 characters', autocomplete: 'off', spellcheck: false, class: 'mono' } },
];

export function registerView(live: LiveNodes): HTMLElement {
  const result = h('div');
  const inputs = new Map<string, HTMLInputElement>();
  const errors = new Map<string, HTMLElement>();
  const formError = h('p', { class: 'error', attrs: { role: 'alert', 'data-testid': 'form-error' } });
  const submit = h('button', { attrs: { type: 'submit' } }, 'Register');
  const form = h(
    'form',
    { class: 'card register', attrs: { novalidate: true, 'data-testid': 'register-form' } },
    h('h2', null, 'Register a node'),
    ...FIELDS.map((f) => {
      const id = `field-${f.name}`;
      const { class: cls, ...attrs } = f.attrs;
      const input = h('input', { class: typeof cls === 'string' ? cls : '', attrs: { id, name: f.name, type: 'text', 'aria-describedby': `${id}-hint ${id}-error`, ...attrs } });
      const error = h('p', { class: 'error field-error', attrs: { id: `${id}-error`, 'data-testid': `error-${f.name}` } });
      inputs.set(f.name, input);
      errors.set(f.name, error);
      return h('div', { class: 'field' }, h('label', { attrs: { for: id } }, f.label), input, h('p', { class: 'hint', attrs: { id: `${id}-hint` } }, f.hint), error);
    }),
    formError,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of [...errors.values(), formError]) el.textContent = '';
    for (const input of inputs.values()) input.removeAttribute('aria-invalid');
    const body: RegisterBody = { node_id: inputs.get('node_id')!.value.trim() };
    for (const name of ['description', 'central_server_url', 'public_key'] as const) {
      const v = inputs.get(name)!.value.trim();
      if (v) body[name] = v;
    }
    if (!body.node_id) {
      showError('node_id', 'A node ID is needed.');
      return;
    }
    submit.disabled = true;
    try {
      const r = await api.register(body);
      live.upsert(r.node);
      form.reset();
      replace(result, installPanel(r.node.node_id, r.install, r.node.server_holds_private_key));
      result.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'unknown', String(err));
      if (e.field && errors.has(e.field)) showError(e.field, e.message);
      else formError.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  });
  function showError(field: string, message: string) {
    errors.get(field)!.textContent = message;
    inputs.get(field)!.setAttribute('aria-invalid', 'true');
    inputs.get(field)!.focus();
  }
  return h('div', { class: 'register-view' }, form, result);
}
