// Sign-in: the API token, or the admin password when ADMIN_PASSWORD_HASH is set.
import { ApiError, api } from '../api.js';
import { h } from '../dom.js';

export function signInView(passwordEnabled: boolean, onSignedIn: () => void): HTMLElement {
  const what = passwordEnabled ? 'Admin password or API token' : 'API token';
  const secret = h('input', { attrs: { id: 'secret', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'secret' } });
  const error = h('p', { class: 'error', attrs: { role: 'alert', 'data-testid': 'signin-error' } });
  const submit = h('button', { attrs: { type: 'submit' } }, 'Sign in');
  const form = h(
    'form',
    { class: 'card signin', attrs: { 'data-testid': 'signin-form' } },
    h('h1', null, 'WireGuard hub'),
    h('label', { attrs: { for: 'secret' } }, what),
    secret,
    passwordEnabled ? null : h('p', { class: 'hint' }, 'The token is API_TOKEN, or the one printed at the first start and kept in DATA_DIR/api_token. Set ADMIN_PASSWORD_HASH (wgvm hash-password) to sign in with a password.'),
    error,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await api.signIn(secret.value);
      onSignedIn();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
      secret.select();
    } finally {
      submit.disabled = false;
    }
  });
  queueMicrotask(() => secret.focus());
  return h('main', { class: 'center' }, form);
}
